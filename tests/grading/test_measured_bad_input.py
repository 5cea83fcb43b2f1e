"""The measured grader refuses inputs it cannot use."""

import pytest

from vinylmon.grading.measured import side_noise_db


def test_side_noise_needs_one_duration_per_window():
    with pytest.raises(ValueError, match="one estimate per window"):
        side_noise_db([-60.0, -50.0], [5.0])
    with pytest.raises(ValueError, match="one estimate per window"):
        side_noise_db([[-60.0]], [[5.0]])

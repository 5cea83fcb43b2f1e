"""Fused grading refuses error spreads out of range."""

import pytest

from vinylmon.grading.fusion import measured_probs
from vinylmon.grading.rubric import Quantities

Q = Quantities(clicks_per_min=4.0, crackle_per_s=0.0, surface_noise_db=-70.0, analysed_s=60.0)


@pytest.mark.parametrize("spread", ["click_sd_log", "crackle_sd_log", "noise_sd_db"])
@pytest.mark.parametrize("value", [-0.5, 1e3, float("nan")])
def test_a_spread_out_of_range_is_refused(spread, value):
    with pytest.raises(ValueError, match=spread):
        measured_probs(Q, clicks=4, crackle=0, **{spread: value})

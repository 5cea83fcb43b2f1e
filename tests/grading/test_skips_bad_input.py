"""Skip detection refuses what it cannot judge, with a clear error."""

import numpy as np
import pytest

from vinylmon.errors import AudioDataError
from vinylmon.grading.skips import find_repeats


def test_nan_refused():
    x = np.zeros((2, 44100 * 5))
    x[0, 100] = np.nan
    with pytest.raises(AudioDataError, match="NaN"):
        find_repeats(x, sample_rate=44100)


def test_bad_shape_and_rate():
    with pytest.raises(AudioDataError, match="shape"):
        find_repeats(np.zeros((2, 2, 10)), sample_rate=44100)
    with pytest.raises(AudioDataError, match="sample rate"):
        find_repeats(np.zeros(1000), sample_rate=0)


def test_silence_and_short_input_find_nothing():
    assert find_repeats(np.zeros((2, 44100 * 5)), sample_rate=44100) == []
    assert find_repeats(np.zeros(10), sample_rate=44100) == []

"""Noise-floor features refuse what they cannot measure."""

import numpy as np
import pytest

from vinylmon.audio.noisefloor import groove_ticks_dbfs, noise_features, steady_floor_dbfs
from vinylmon.errors import AudioDataError


def test_too_short():
    with pytest.raises(AudioDataError, match="needs >= 2048"):
        noise_features(np.zeros((2, 100), np.float32))


@pytest.mark.parametrize("shape", [(3, 5000), (2, 2, 5000)])
def test_wrong_shapes(shape):
    with pytest.raises(AudioDataError, match="expected"):
        noise_features(np.zeros(shape, np.float32))


def test_nan():
    x = np.zeros((2, 5000), np.float32)
    x[0, 10] = np.nan
    with pytest.raises(AudioDataError, match="NaN"):
        noise_features(x)


def test_digital_silence_is_measured_not_refused():
    f = noise_features(np.zeros((2, 44100), np.float32))
    assert np.isfinite(f).all()


def test_steady_floor_refuses_what_it_cannot_read():
    with pytest.raises(AudioDataError, match="steady floor needs >= 11264"):
        steady_floor_dbfs(np.zeros((2, 5000), np.float32))
    with pytest.raises(AudioDataError, match="expected"):
        steady_floor_dbfs(np.zeros((3, 20000), np.float32))
    x = np.zeros((2, 20000), np.float32)
    x[1, 5] = np.inf
    with pytest.raises(AudioDataError, match="NaN or infinite"):
        steady_floor_dbfs(x)


def test_groove_ticks_refuse_what_they_cannot_read():
    with pytest.raises(AudioDataError, match="expected"):
        groove_ticks_dbfs(np.zeros((3, 20000), np.float32), -60.0)
    x = np.zeros((2, 20000), np.float32)
    x[0, 3] = np.nan
    with pytest.raises(AudioDataError, match="NaN or infinite"):
        groove_ticks_dbfs(x, -60.0)

import numpy as np
import pytest

from vinylmon.simulate import DamageSpec, NoiseBank, NoiseSpec, simulate


def test_nan_music():
    x = np.zeros((2, 44100))
    x[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        simulate(x, DamageSpec())


def test_silent_music():
    with pytest.raises(ValueError, match="silent"):
        simulate(np.zeros((2, 44100)), DamageSpec())


def test_wrong_shape():
    with pytest.raises(ValueError, match="channels"):
        simulate(np.zeros((5, 100)), DamageSpec())


def test_too_short_for_duration():
    with pytest.raises(ValueError, match="frames"):
        simulate(np.ones((2, 100)), DamageSpec(), duration_s=1.0)


def test_real_noise_without_recordings(tmp_path):
    x = 0.1 * np.random.default_rng(0).standard_normal((2, 44100))
    with pytest.raises(ValueError, match="NoiseBank"):
        simulate(x, DamageSpec(noise=NoiseSpec(real_bed_db=-40)))
    with pytest.raises(ValueError, match="NoiseBank"):
        simulate(x, DamageSpec(noise=NoiseSpec(real_bed_db=-40)), bank=NoiseBank(tmp_path))

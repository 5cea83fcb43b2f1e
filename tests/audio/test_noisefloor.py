"""Noise-floor and impulse features: what the window measures read."""

import numpy as np
import pytest

from vinylmon.audio.candidates import SCORE_BINS, impulse_features
from vinylmon.audio.noisefloor import (
    EDGES_HZ,
    PERCENTILES,
    n_features,
    n_inputs,
    noise_features,
    window_features,
)
from vinylmon.simulate import synthetic_music

SR = 44100
BANDS = len(EDGES_HZ) - 1


def _bed(rng, x, db):
    level = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    return (x + rng.normal(size=x.shape) * level * 10 ** (db / 20)).astype(np.float32)


def _side_p2(f):
    """The side signal's 2nd-percentile band powers (dB re level / 20)."""
    per = f[:-2].reshape(2, len(PERCENTILES), BANDS)
    return per[1, 0]


def test_shapes_and_gain_invariance(rng):
    x = _bed(rng, synthetic_music(rng, 5.0), -50)
    f = noise_features(x)
    assert f.shape == (n_features(),) and np.isfinite(f).all()
    np.testing.assert_allclose(noise_features(x * 30), f, atol=1e-3)
    assert window_features(x).shape == (n_inputs(),)


def test_a_louder_bed_raises_the_quiet_frames_of_the_side(rng):
    x = synthetic_music(rng, 5.0)
    quiet, loud = noise_features(_bed(rng, x, -70)), noise_features(_bed(rng, x, -40))
    # the bed is uncorrelated between channels: it shows in the side signal's floor,
    # above the bands the (synthetic) music fills
    top = slice(BANDS - 8, None)
    assert np.median(_side_p2(loud)[top] - _side_p2(quiet)[top]) * 20 > 20


def test_impulse_features_count_crackle_per_second(rng):
    x = _bed(rng, synthetic_music(rng, 5.0), -60)
    few = impulse_features(x)
    y = x.copy()
    at = rng.integers(0, y.shape[1] - 10, 500)  # 100 ticks a second
    y[0, at] += 0.05
    many = impulse_features(y)
    assert few.shape == many.shape == (3 * (len(SCORE_BINS) - 1),)
    assert many.sum() > few.sum() + 3


@pytest.mark.parametrize("mono", [True, False])
def test_mono_and_stereo(rng, mono):
    x = synthetic_music(rng, 3.0)
    f = noise_features(x[:1] if mono else x)
    assert np.isfinite(f).all()


def _mid_p2(f):
    """The mid signal's 2nd-percentile band powers (dB re level / 20)."""
    return f[:-2].reshape(2, len(PERCENTILES), BANDS)[0, 0]


def test_subsonic_rumble_shows_in_the_lowest_band_and_a_dc_offset_does_not(rng):
    x = synthetic_music(rng, 5.0).astype(np.float64)
    t = np.arange(x.shape[1]) / SR
    level = np.sqrt(np.mean(x ** 2))
    rumble = x + 0.3 * level * np.sin(2 * np.pi * 12.0 * t)  # a warp at 12 Hz, -10 dB
    offset = x + 0.3 * level  # the same power as a DC offset
    plain = _mid_p2(noise_features(x.astype(np.float32)))[0] * 20
    assert EDGES_HZ[0] < 12.0 < EDGES_HZ[1]
    assert _mid_p2(noise_features(rumble.astype(np.float32)))[0] * 20 > plain + 20
    assert _mid_p2(noise_features(offset.astype(np.float32)))[0] * 20 < plain + 3

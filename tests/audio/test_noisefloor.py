"""Noise-floor and impulse features: what the window measures read."""

import numpy as np
import pytest

from vinylmon.audio.candidates import SCORE_BINS, impulse_features
from vinylmon.audio.noisefloor import (
    EDGES_HZ,
    PERCENTILES,
    groove_ticks_dbfs,
    n_features,
    n_inputs,
    noise_features,
    steady_floor_dbfs,
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


# ----------------------------------------------------------------------------- steady floor
def _hiss(rng, seconds, dbfs, *, channels=2):
    x = rng.normal(size=(channels, int(seconds * SR)))
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (dbfs / 20)).astype(np.float32)


def test_steady_floor_reads_a_hiss_bed_at_its_level(rng):
    for dbfs in (-70.0, -40.0):
        assert steady_floor_dbfs(_hiss(rng, 5.0, dbfs)) == pytest.approx(dbfs, abs=0.3)
    assert steady_floor_dbfs(_hiss(rng, 5.0, -50.0, channels=1)) == pytest.approx(-50, abs=0.3)


def test_steady_floor_leaves_crackle_and_clicks_out(rng):
    x = _hiss(rng, 5.0, -50.0)
    ticks = x.copy()
    for at in rng.integers(0, x.shape[1] - 20, 400):  # 80 ticks a second, 30 dB over the bed
        ticks[int(rng.integers(0, 2)), at:at + 8] += 10 ** (-20 / 20) * rng.choice([-1, 1])
    whole = 10 * np.log10(np.mean(ticks.astype(np.float64) ** 2))
    assert whole > -45.0  # the ticks weigh in the mean power ...
    assert steady_floor_dbfs(ticks) == pytest.approx(-50.0, abs=0.7)  # ... not in the floor


def test_steady_floor_counts_subsonic_rumble(rng):
    t = np.arange(5 * SR) / SR
    rumble = (np.sqrt(2) * 10 ** (-40 / 20) * np.sin(2 * np.pi * 9.0 * t)).astype(np.float32)
    x = _hiss(rng, 5.0, -50.0) + rumble
    total = 10 * np.log10(10 ** -4.0 + 10 ** -5.0)
    assert steady_floor_dbfs(x) == pytest.approx(total, abs=0.5)


def test_steady_floor_is_nan_for_music_that_comes_and_goes(rng):
    x = synthetic_music(rng, 5.0).astype(np.float32)
    env = np.where((np.arange(x.shape[-1]) // (SR // 2)) % 2 == 0, 1.0, 0.05)
    assert np.isnan(steady_floor_dbfs(x * env))
    fade = _hiss(rng, 5.0, -40.0) * np.linspace(1.0, 0.01, 5 * SR, dtype=np.float32)
    assert np.isnan(steady_floor_dbfs(fade))  # a fade-out is no bed
    assert steady_floor_dbfs(np.zeros((2, 5 * SR), np.float32)) == -np.inf


def test_groove_ticks_are_counted_one_by_one_over_the_floor(rng):
    x = _hiss(rng, 5.0, -60.0)
    at = np.sort(rng.choice(np.arange(100, x.shape[1] - 100, 200), 40, replace=False))
    peaks = rng.uniform(-42.0, -20.0, at.size)  # 18-40 dB over the bed
    for a, p in zip(at, peaks, strict=True):
        x[int(rng.integers(0, 2)), a:a + 3] += 10 ** (p / 20) * np.array([1.0, -0.6, 0.3])
    floor = steady_floor_dbfs(x)
    assert floor == pytest.approx(-60.0, abs=0.3)
    ticks = groove_ticks_dbfs(x, floor)
    assert len(ticks) == 40
    np.testing.assert_allclose(ticks, peaks, atol=2.0)  # the hiss adds or takes a little
    # the bed alone has none (6 sigma), and a window that is not steady none either
    assert groove_ticks_dbfs(_hiss(rng, 5.0, -60.0), -60.0) == ()
    assert groove_ticks_dbfs(x, float("nan")) == ()


def test_ticks_under_the_floors_tick_level_sink_in_the_bed(rng):
    x = _hiss(rng, 5.0, -40.0)
    for a in range(1000, x.shape[1] - 100, 5000):  # 44 ticks 8 dB over the bed's RMS
        x[0, a] += 10 ** (-32 / 20)
    assert groove_ticks_dbfs(x, steady_floor_dbfs(x)) == ()

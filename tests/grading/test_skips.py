"""Skip detection: a groove that plays one revolution again is found; music is not."""

import numpy as np
import pytest

from vinylmon.grading.events import DefectEvent
from vinylmon.grading.skips import confirm_skips, find_repeats
from vinylmon.simulate import transport

SR = 44100


def _music(rng, seconds: float) -> np.ndarray:
    """Non-repeating synthetic music: random notes with random timbres, stereo."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    for start in np.arange(0, seconds, 0.23):
        f = rng.uniform(110, 880)
        env = np.exp(-np.maximum(t - start, 0) * rng.uniform(2, 8)) * (t >= start)
        x += rng.uniform(0.05, 0.2) * env * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
    x += 0.01 * rng.standard_normal(n)
    return np.stack([x, 0.9 * x])


@pytest.mark.parametrize("rpm", [100 / 3, 45.0])
def test_repeat_found_at_its_time_and_period(rng, rpm):
    period = int(round(60 / rpm * SR))
    x = transport.splice(_music(rng, 20.0), at=8 * SR, period=period, kind="repeat", repeats=2)
    found = find_repeats(x, sample_rate=SR)
    assert len(found) == 1
    r = found[0]
    assert abs(r.start_s - 8.0) <= 0.25
    assert r.period_s == pytest.approx(60 / rpm, abs=0.005)
    assert r.end_s - r.start_s >= 1.5 * 60 / rpm  # two repeats: two revolutions
    assert r.similarity > 0.95


def test_music_without_repeats_has_none(rng):
    assert find_repeats(_music(rng, 20.0), sample_rate=SR) == []


def test_a_repeat_is_a_skip_only_with_its_landing_tick(rng):
    period = int(round(1.8 * SR))
    x = transport.splice(_music(rng, 20.0), at=8 * SR, period=period, kind="repeat")
    repeats = find_repeats(x, sample_rate=SR)
    tick = [DefectEvent.at_level(8.0, 8.001, None, 0.0)]
    faint = [DefectEvent.at_level(8.0, 8.001, None, -30.0)]  # crackle, not a landing
    elsewhere = [DefectEvent.at_level(3.0, 3.001, None, 0.0)]
    assert len(confirm_skips(repeats, tick)) == 1
    assert confirm_skips(repeats, faint) == []
    assert confirm_skips(repeats, elsewhere) == []


def test_other_sample_rates_and_mono(rng):
    from scipy.signal import resample_poly

    period = int(round(1.8 * SR))
    x = transport.splice(_music(rng, 12.0), at=5 * SR, period=period, kind="repeat")
    mono48 = resample_poly(x[0], 160, 147)
    found = find_repeats(mono48, sample_rate=48000)
    assert len(found) == 1 and found[0].period_s == pytest.approx(1.8, abs=0.005)


def test_decimation_matches_scipy_resample_poly():
    """The numpy decimator gives resample_poly's numbers (same filter, same alignment)."""
    from scipy import signal

    from vinylmon.grading.skips import _to_rate

    rng = np.random.default_rng(3)
    for n, rate in ((220_537, 44_100), (7, 44_100), (401, 44_100), (88_200, 88_200)):
        x = rng.normal(size=n)
        want = signal.resample_poly(x, 1, rate // 2205)
        got = _to_rate(x, rate)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-12)

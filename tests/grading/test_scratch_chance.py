"""Repeating scratches that are unlikely by chance: trains among 0-250 clicks/min."""

import numpy as np
import pytest

from vinylmon.grading.events import DefectEvent
from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS
from vinylmon.grading.scratches import CHANCE_BUDGET, chance_trains, find_scratches

DUR_S = 30.0


def _clicks(rng, rate_per_min):
    """Poisson clicks with the simulator's level distribution (dB re L)."""
    n = rng.poisson(rate_per_min * DUR_S / 60)
    return [DefectEvent.at_level(t, t + 0.001, None, -12 + 32 * rng.beta(1.2, 2.0))
            for t in rng.uniform(0, DUR_S, n)]


def _scratch(rng, rpm, *, revolutions=None, drift=None, speed_error=None):
    period = 60 / rpm * (1 + (rng.uniform(-0.02, 0.02) if speed_error is None else speed_error))
    drift = rng.uniform(0.0005, 0.004) if drift is None else drift
    revs = revolutions or int(rng.integers(4, int(DUR_S / period)))
    t = rng.uniform(0, max(0.1, DUR_S - revs * period))
    level = rng.uniform(-6, 12)
    ticks = []
    for _ in range(revs):
        if t >= DUR_S:
            break
        ticks.append(DefectEvent.at_level(t, t + 0.001, None, level + rng.uniform(-1.5, 1.5)))
        t += period * (1 + rng.normal(0, drift))
    return ticks


def _sorted(events):
    return sorted(events, key=lambda e: e.start_s)


@pytest.mark.parametrize("rate", [50, 100, 250])
def test_chance_alignments_among_many_clicks_are_not_scratches(rate):
    rng = np.random.default_rng(rate)
    false = sum(len(find_scratches(_sorted(_clicks(rng, rate)))) for _ in range(40))
    # without the chance test, 250 clicks/min gave about 12 "scratches" per 30-s excerpt
    assert false <= 2


@pytest.mark.parametrize("rpm", RPMS)
@pytest.mark.parametrize("rate", [0, 50, 100, 250])
def test_real_scratches_are_found_among_clicks(rpm, rate):
    rng = np.random.default_rng(int(rpm * 10) + rate)
    found = 0
    trials = 30
    for _ in range(trials):
        ticks = _scratch(rng, rpm)
        out = find_scratches(_sorted(_clicks(rng, rate) + ticks))
        t0 = {e.start_s for e in ticks}
        found += any(len(t0.intersection(s.ticks)) >= 3 for s in out)
    need = 0.95 if rate <= 50 else 0.85 if rate <= 100 else 0.7
    assert found / trials >= need


def test_ticks_that_wow_and_speed_error_drift_stay_members(rng):
    ticks = _scratch(rng, 100 / 3, revolutions=14, drift=0.004, speed_error=0.02)
    out = find_scratches(_sorted(ticks + _clicks(rng, 20)))
    assert len(out) == 1
    assert len(out[0].ticks) == len(ticks)


def test_the_chance_estimate_grows_with_the_click_rate(rng):
    ticks = _scratch(rng, 45.0, revolutions=5, drift=0.002, speed_error=0.0)
    base = [e.start_s for e in ticks]
    estimates = []
    for rate in (0, 50, 250):
        events = _sorted(_clicks(np.random.default_rng(1), rate) + ticks)
        times = np.array([e.start_s for e in events])
        peaks = np.array([e.peak_db for e in events])
        chain = [int(np.flatnonzero(times == t)[0]) for t in base]
        estimates.append(chance_trains(chain, times, peaks, period_s=60 / 45.0,
                                       tolerance=PERIOD_TOLERANCE, n_speeds=3))
    assert estimates[0] == 0.0
    assert estimates[0] < estimates[1] < estimates[2]
    assert estimates[1] < CHANCE_BUDGET  # five regular ticks among 50 clicks/min: a scratch

"""The incremental scratch tracker finds exactly what a plain search over the whole
side finds, window after window, while events arrive and L moves."""

import numpy as np

from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS
from vinylmon.grading.scratches import (
    CHANCE_BUDGET,
    MAX_MISSING_TICKS,
    SCRATCH_LEVEL_SPREAD_DB,
    SCRATCH_MIN_PEAK_DB,
    Scratch,
    ScratchTracker,
    chance_trains,
)


def plain_search(times, peaks, *, rpms=RPMS, tolerance=PERIOD_TOLERANCE, min_ticks=3,
                 max_missing=MAX_MISSING_TICKS):
    """Every candidate's train at every speed, searched from scratch (peaks re L)."""
    found = []
    for rpm in rpms:
        period = 60.0 / rpm
        for i in range(len(times)):
            chain, t, own = [i], times[i], []
            while True:
                j = None
                # the nearest to the train's own period so far (per revolution)
                expect = np.median(own) if own else period
                for steps in range(1, max_missing + 2):
                    lo = np.searchsorted(times, t + steps * period * (1 - tolerance))
                    hi = np.searchsorted(times, t + steps * period * (1 + tolerance),
                                         side="right")
                    nxt = [k for k in range(lo, hi)
                           if abs(peaks[k] - peaks[i]) <= SCRATCH_LEVEL_SPREAD_DB]
                    if nxt:
                        j = min(nxt, key=lambda k: abs(times[k] - t - steps * expect))
                        break
                if j is None:
                    break
                chain.append(j)
                own.append((times[j] - t) / steps)
                t = times[j]
            single = sum(round((times[b] - times[a]) / period) == 1  # one revolution
                         for a, b in zip(chain[:-1], chain[1:], strict=True))
            if single >= max(min_ticks - 1, len(chain) - 1 - single) and chance_trains(
                    chain, times, peaks, period_s=period, tolerance=tolerance,
                    n_speeds=len(rpms), max_missing=max_missing) < CHANCE_BUDGET:
                found.append((chain, period, rpm))
    found.sort(key=lambda f: -len(f[0]))
    used, out = set(), []
    for chain, period, rpm in found:
        shared = len(used.intersection(chain))  # a train inside a longer one: not another
        if shared and (2 * shared > len(chain) or len(chain) - shared < min_ticks):
            continue
        used.update(chain)
        ticks = tuple(float(times[j]) for j in chain)
        steps = np.diff(ticks)
        measured = float(np.median(steps / np.maximum(1, np.round(steps / period))))
        out.append(Scratch(ticks, measured, rpm, float(max(peaks[j] for j in chain))))
    return tuple(sorted(out, key=lambda s: s.ticks[0]))


def _side(rng, seconds, *, clicks_per_s, scratches):
    """Event times and peaks (dBFS): random clicks plus regular trains with wow."""
    t = list(rng.uniform(0, seconds, rng.poisson(clicks_per_s * seconds)))
    p = list(-20 + rng.uniform(-25, 12, len(t)))
    for _ in range(scratches):
        period = 60 / rng.choice(RPMS) * (1 + rng.uniform(-0.01, 0.01))
        t0, n, level = rng.uniform(0, seconds - 30), int(rng.integers(3, 14)), rng.uniform(-30, 0)
        for k in range(n):
            if rng.random() < 0.15:
                continue  # an undetected revolution
            t.append(t0 + k * period * (1 + rng.normal(0, 0.003)))
            p.append(level + rng.normal(0, 1.5))
    order = np.argsort(t)
    return np.asarray(t)[order], np.asarray(p)[order]


def test_tracker_equals_the_plain_search_window_by_window(rng):
    for case in range(6):
        rpms = RPMS if case % 3 else (45.0,)
        times, peaks = _side(rng, 240.0, clicks_per_s=[0.3, 1.0, 2.5][case % 3],
                             scratches=3 + case)
        tracker = ScratchTracker(rpms=rpms)
        program = -20.0
        scratches_seen = 0
        for end in np.arange(5.0, 245.0, 5.0):
            program += rng.normal(0, 0.4)  # L moves as the side goes on
            have = times < end
            cand = have & (peaks - program >= SCRATCH_MIN_PEAK_DB)
            tracker.update(times[cand], peaks[cand])
            want = plain_search(times[cand], peaks[cand] - program, rpms=rpms)
            got = tracker.scratches(program_db=program)
            assert [(s.ticks, s.rpm) for s in got] == [(s.ticks, s.rpm) for s in want]
            for g, w in zip(got, want, strict=True):
                assert abs(g.period_s - w.period_s) < 1e-12
                assert abs(g.peak_db - w.peak_db) < 1e-9
            scratches_seen = max(scratches_seen, len(want))
        assert scratches_seen >= 1  # the comparison saw trains, not only their absence


def test_a_candidate_that_goes_or_changes_is_forgotten(rng):
    period = 60 / 45
    times = np.array([1.0 + k * period for k in range(6)] + [3.1])
    peaks = np.zeros(7)
    order = np.argsort(times)
    times, peaks = times[order], peaks[order]
    tracker = ScratchTracker(rpms=(45.0,))
    tracker.update(times, peaks)
    assert len(tracker.scratches(program_db=0.0)[0].ticks) == 6
    keep = times != times[2]  # one tick drops under L - 20 dB as L rises
    tracker.update(times[keep], peaks[keep])
    assert tracker.scratches(program_db=0.0) == plain_search(times[keep], peaks[keep],
                                                              rpms=(45.0,))
    louder = peaks.copy()
    louder[-1] = 9.0  # the last tick, merged with a louder detection: out of the train
    tracker.update(times, louder)
    assert tracker.scratches(program_db=0.0) == plain_search(times, louder, rpms=(45.0,))

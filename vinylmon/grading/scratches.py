"""Scratch tracker: impulses that repeat once per revolution.

A scratch across the groove ticks once per revolution (60/rpm seconds) for as
long as the stylus crosses it. :func:`track_scratches` finds such trains among
the side's events, at the given speed or, when none is given, at whichever of
33 1/3, 45 and 78 rpm explains the most ticks. Each step of a train may differ
from the period by the rubric's tolerance (+-3 %: speed error and wow), and the
steps chain from tick to tick, so slow drift is followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vinylmon.grading.events import DefectEvent, ScratchTrack
from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS

MIN_SCRATCH_TICKS = 3
#: Ticks of one scratch come from the same groove damage: similar in level.
SCRATCH_LEVEL_SPREAD_DB = 6.0
#: Only impulses this loud (re L) are considered as scratch ticks.
SCRATCH_MIN_PEAK_DB = -20.0
#: Revolutions in a row whose tick may go undetected inside a train.
MAX_MISSING_TICKS = 1
#: A train counts only when fewer than this many trains as long, as regular and as
#: even in level are expected to line up by chance among the events around it.
CHANCE_BUDGET = 0.0005
#: Seconds around a train whose events set the chance rate.
CHANCE_CONTEXT_S = 10.0
#: Floors of the observed step deviation (fraction of the period) and level spread (dB)
#: in the chance estimate, so that a train cannot be "too regular to be chance" on the
#: strength of timing or level noise.
MIN_STEP_DEVIATION = 0.003
MIN_LEVEL_SPREAD_DB = 1.5


@dataclass(frozen=True, slots=True)
class Scratch:
    """A repeating scratch: ``ticks`` start times (s), once per revolution."""

    ticks: tuple[float, ...]
    period_s: float
    rpm: float
    peak_db: float


def chance_trains(chain: Sequence[int], times: np.ndarray, peaks: np.ndarray, *,
                  period_s: float, tolerance: float, n_speeds: int,
                  max_missing: int = MAX_MISSING_TICKS) -> float:
    """How many trains as long, as regular and as even in level as ``chain`` would
    line up by chance among the events around it.

    The events within :data:`CHANCE_CONTEXT_S` of the train that could join it
    (within :data:`SCRATCH_LEVEL_SPREAD_DB` of its first tick), other than its own
    ticks, are taken as Poisson at their rate ``lam`` (per second). Every event
    is a possible start at each of ``n_speeds`` speeds. By chance, each next tick
    is found with probability ``q = 1 - exp(-lam * w)``, ``w`` the search windows'
    width (``+-tolerance`` of 1 .. ``max_missing + 1`` periods), and lands
    anywhere in its window, at any level within the spread. So the chance that
    all of a train's later steps deviate at most ``dev`` from its median step,
    and all its ticks lie within ``spread`` dB of its median level, is about
    ``(dev / tolerance) ** (n - 2) * (spread / 6 dB) ** (n - 2)``, and the expected
    number of such trains of ``n`` ticks is

        starts * q ** (n - 1) * (dev / tolerance) ** (n - 2) * (spread / 6) ** (n - 2).

    Returns
    -------
    float
        The expected number of such chance trains (compare with CHANCE_BUDGET).
    """
    idx = np.asarray(chain)
    n = len(idx)
    t = times[idx]
    steps = np.diff(t)
    per_rev = steps / np.maximum(1, np.round(steps / period_s))
    p_hat = float(np.median(per_rev))
    dev = max(MIN_STEP_DEVIATION, float(np.max(np.abs(per_rev - p_hat))) / p_hat)
    level = float(np.median(peaks[idx]))
    spread = max(MIN_LEVEL_SPREAD_DB, float(np.max(np.abs(peaks[idx] - level))))
    lo = max(float(times[0]), float(t[0]) - CHANCE_CONTEXT_S)
    hi = min(float(times[-1]), float(t[-1]) + CHANCE_CONTEXT_S)
    span = max(hi - lo, float(t[-1] - t[0]), 1e-3)
    near = (times >= lo) & (times <= hi)
    starts = max(1, int(near.sum())) * n_speeds
    near[idx] = False
    lam = float(np.sum(near & (np.abs(peaks - peaks[idx[0]]) <= SCRATCH_LEVEL_SPREAD_DB))) / span
    reach = sum(range(1, max_missing + 2))  # windows of 1 .. max_missing + 1 periods
    q = 1.0 - float(np.exp(-lam * 2 * tolerance * p_hat * reach))
    shape = min(1.0, dev / tolerance) * min(1.0, spread / SCRATCH_LEVEL_SPREAD_DB)
    return starts * q ** (n - 1) * shape ** (n - 2)


def find_scratches(events: Sequence[DefectEvent], *, rpms: Sequence[float] = RPMS,
                   tolerance: float = PERIOD_TOLERANCE, min_ticks: int = MIN_SCRATCH_TICKS,
                   max_missing: int = MAX_MISSING_TICKS) -> tuple[Scratch, ...]:
    """Trains of impulses one revolution apart for >= ``min_ticks`` revolutions.

    Each event belongs to at most one train; longer trains win. Candidates are
    events at or above L - 20 dB whose levels stay within 6 dB of the train's
    first tick. A train may bridge up to ``max_missing`` revolutions in a row
    whose tick was not detected (the next tick then lies that many periods on,
    within the tolerance of each). Each step is measured from the tick before,
    so ticks that wow or a speed error has drifted stay members.

    Among many clicks, some line up at a revolution period by chance: a train
    counts only when fewer than :data:`CHANCE_BUDGET` trains as long, as regular
    and as even in level are expected by chance (:func:`chance_trains`).
    """
    cand = sorted((e for e in events if e.peak_db >= SCRATCH_MIN_PEAK_DB),
                  key=lambda e: e.start_s)
    times = np.array([e.start_s for e in cand])
    peaks = np.array([e.peak_db for e in cand])
    found: list[tuple[list[int], float, float]] = []
    for rpm in rpms:
        period = 60.0 / rpm
        for i in range(len(cand)):
            chain, t = [i], times[i]
            while True:
                j = None
                for steps in range(1, max_missing + 2):
                    lo = np.searchsorted(times, t + steps * period * (1 - tolerance))
                    hi = np.searchsorted(times, t + steps * period * (1 + tolerance),
                                         side="right")
                    nxt = [k for k in range(lo, hi)
                           if abs(peaks[k] - peaks[i]) <= SCRATCH_LEVEL_SPREAD_DB]
                    if nxt:
                        j = min(nxt, key=lambda k: abs(times[k] - t - steps * period))
                        break
                if j is None:
                    break
                chain.append(j)
                t = times[j]
            if len(chain) >= min_ticks and chance_trains(
                    chain, times, peaks, period_s=period, tolerance=tolerance,
                    n_speeds=len(rpms), max_missing=max_missing) < CHANCE_BUDGET:
                found.append((chain, period, rpm))
    found.sort(key=lambda f: -len(f[0]))
    used: set[int] = set()
    out = []
    for chain, period, rpm in found:
        if used.intersection(chain):
            continue
        used.update(chain)
        ticks = tuple(float(times[j]) for j in chain)
        steps = np.diff(ticks)
        measured = float(np.median(steps / np.maximum(1, np.round(steps / period))))
        out.append(Scratch(ticks, measured, rpm, float(max(peaks[j] for j in chain))))
    return tuple(sorted(out, key=lambda s: s.ticks[0]))




def track_scratches(events: Sequence[DefectEvent], *, rpm: float | None = None,
                    tolerance: float = PERIOD_TOLERANCE
                    ) -> tuple[list[ScratchTrack], dict[int, int], float | None]:
    """Repeating scratches among ``events`` (side time, peaks re L).

    Parameters
    ----------
    events : sequence of DefectEvent
    rpm : float or None, keyword-only
        The record's speed; None estimates it from the trains found.
    tolerance : float, keyword-only
        Allowed relative deviation of each step from the period.

    Returns
    -------
    tracks : list of ScratchTrack
        Sorted by first tick, ids 0, 1, ...
    members : dict
        Index into ``events`` -> track id, for every tick of a track.
    rpm : float or None
        ``rpm`` as given, else the estimate (None when no train was found).

    Notes
    -----
    ``confidence`` grows with the number of revolutions and falls with the
    spread of the steps (per revolution): ``(1 - 2 ** -(count - 1)) * max(0, 1 - sd /
    (tol * period))``. A train may bridge one revolution whose tick went undetected.
    """
    if rpm is not None and not (10.0 <= rpm <= 100.0):
        raise ValueError(f"rpm must be between 10 and 100, got {rpm}")
    rpms = (float(rpm),) if rpm is not None else RPMS
    found = find_scratches(events, rpms=rpms, tolerance=tolerance)
    if rpm is None and found:
        ticks = {r: sum(len(s.ticks) for s in found if s.rpm == r) for r in RPMS}
        best = max(ticks, key=ticks.get)
        found = tuple(s for s in found if s.rpm == best)
        rpm_out: float | None = best
    else:
        rpm_out = rpm
    index = {e.start_s: i for i, e in enumerate(events)}
    tracks, members = [], {}
    for tid, s in enumerate(sorted(found, key=lambda s: s.ticks[0])):
        steps = np.diff(s.ticks)
        steps = steps / np.maximum(1, np.round(steps / s.period_s))  # bridged revolutions
        spread = float(np.std(steps)) if len(steps) > 1 else 0.0
        regular = max(0.0, 1.0 - spread / (tolerance * s.period_s))
        conf = (1.0 - 2.0 ** -(len(s.ticks) - 1)) * regular
        tracks.append(ScratchTrack(tid, s.period_s, s.ticks[0], s.ticks[-1], len(s.ticks),
                                   round(conf, 4), s.rpm, s.peak_db))
        for t in s.ticks:
            members[index[t]] = tid
    return tracks, members, rpm_out

"""Scratch tracker: impulses that repeat once per revolution.

A scratch across the groove ticks once per revolution (60/rpm seconds) for as
long as the stylus crosses it. :func:`track_scratches` finds such trains among
the side's events, at the given speed or, when none is given, at whichever of
33 1/3, 45 and 78 rpm explains the most ticks. Each step of a train may differ
from the period by the rubric's tolerance (+-3 %: speed error and wow), and the
steps chain from tick to tick, so slow drift is followed.
"""

from __future__ import annotations

import functools
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


def every_revolution(ticks: np.ndarray, *, period_s: float, min_ticks: int) -> bool:
    """Whether a train repeats once per revolution rather than every other: at least
    ``min_ticks - 1`` of its steps are one revolution, and no fewer than those that
    bridge an undetected tick. A scratch that is heard at all is heard in most
    revolutions; music's beat landing on every other revolution never steps one."""
    steps = np.round(np.diff(np.asarray(ticks, float)) / period_s)
    single = int(np.count_nonzero(steps == 1))
    return single >= max(min_ticks - 1, len(steps) - single)


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

    A train counts only when most of its steps are one revolution
    (:func:`every_revolution`): music's beats may land every other revolution, a
    scratch repeats every one. Among many clicks, some line up at a
    revolution period by chance: a train counts only when fewer than
    :data:`CHANCE_BUDGET` trains as long, as regular and as even in level are
    expected by chance (:func:`chance_trains`).
    """
    cand = sorted((e for e in events if e.peak_db >= SCRATCH_MIN_PEAK_DB),
                  key=lambda e: e.start_s)
    tracker = ScratchTracker(rpms=rpms, tolerance=tolerance, min_ticks=min_ticks,
                             max_missing=max_missing)
    tracker.update(np.array([e.start_s for e in cand], float),
                   np.array([e.peak_db for e in cand], float))
    return tracker.scratches(program_db=0.0)


def _chain(i: int, times: np.ndarray, peaks: np.ndarray, *, period: float, tolerance: float,
           max_missing: int) -> list[int]:
    """The train from candidate ``i`` on: each next tick one revolution (or up to
    ``max_missing`` + 1) after the last, within ``tolerance``, within 6 dB of the first.
    Of several ticks in a revolution's window, the one nearest the train's own period
    so far (the median of its steps, per revolution) is taken: a turntable off speed, or
    a second scratch whose ticks cross this one's, does not pull the train off its
    course."""
    chain, t = [i], times[i]
    own: list[float] = []  # the train's steps so far, per revolution
    while True:
        j, bridged = None, 1
        expect = float(np.median(own)) if own else period
        for steps in range(1, max_missing + 2):
            lo = np.searchsorted(times, t + steps * period * (1 - tolerance))
            hi = np.searchsorted(times, t + steps * period * (1 + tolerance), side="right")
            nxt = [k for k in range(lo, hi) if abs(peaks[k] - peaks[i]) <= SCRATCH_LEVEL_SPREAD_DB]
            if nxt:
                j = min(nxt, key=lambda k: abs(times[k] - t - steps * expect))
                bridged = steps
                break
        if j is None:
            return chain
        chain.append(j)
        own.append(float(times[j] - t) / bridged)
        t = times[j]


@dataclass
class _Train:
    """One start's train at one speed, and the stretch of the side it depends on."""

    ticks: tuple[float, ...]
    accepted: bool
    lo_s: float  # a candidate added or removed in [lo_s, hi_s] can change it
    hi_s: float
    start_clipped: bool  # its chance estimate reads the side's first candidate
    end_clipped: bool  # ... or its last


class ScratchTracker:
    """:func:`find_scratches` kept up to date while a side's events arrive.

    Each candidate's train (at each speed) is searched once and kept until a
    candidate appears or goes (new events, or L moving a level across L - 20 dB)
    within the stretch it depends on: its ticks, the search windows after its
    last tick, and the :data:`CHANCE_CONTEXT_S` around it that its chance
    estimate reads. So a window costs the same at minute 1 and at minute 180,
    and the scratches are exactly :func:`find_scratches`'s.

    Peaks may be given re any reference (the tracker compares them only with
    each other); :meth:`scratches` states them re L.
    """

    def __init__(self, *, rpms: Sequence[float] = RPMS, tolerance: float = PERIOD_TOLERANCE,
                 min_ticks: int = MIN_SCRATCH_TICKS, max_missing: int = MAX_MISSING_TICKS):
        self.rpms = tuple(float(r) for r in rpms)
        self.tolerance = float(tolerance)
        self.min_ticks = int(min_ticks)
        self.max_missing = int(max_missing)
        self._times = np.zeros(0)
        self._peaks = np.zeros(0)
        self._trains: list[dict[float, _Train]] = [{} for _ in self.rpms]
        self._clipped: list[tuple[set, set]] = [(set(), set()) for _ in self.rpms]
        self._accepted: list[set[float]] = [set() for _ in self.rpms]
        self._extent_s = 0.0  # the longest train's span, for finding the trains a change touches
        #: The trains kept after longer ones took their ticks: (ticks, period, rpm),
        #: until the accepted trains change.
        self._resolved: list[tuple[tuple[float, ...], float, float]] | None = None
        #: How far after its last tick a train depends on the candidates.
        self._after_s = max(CHANCE_CONTEXT_S, max((self._search_s(r) for r in self.rpms),
                                                   default=0.0))

    def _search_s(self, rpm: float) -> float:
        return (self.max_missing + 1) * 60.0 / rpm * (1 + self.tolerance)

    def update(self, times: np.ndarray, peaks: np.ndarray) -> None:
        """The candidates now: start times (s, sorted, distinct) and peaks."""
        times = np.asarray(times, float)
        peaks = np.asarray(peaks, float)
        old_t, old_p = self._times, self._peaks
        added = _changed(times, peaks, old_t, old_p)  # new, or with another peak
        removed = _changed(old_t, old_p, times, peaks)
        dirty = np.union1d(added, removed).tolist()
        first_moved = _end(times, 0) != _end(old_t, 0)
        last_moved = _end(times, -1) != _end(old_t, -1)
        self._times, self._peaks = times, peaks
        reach = self._extent_s + self._after_s
        for r, trains in enumerate(self._trains):
            start_clipped, end_clipped = self._clipped[r]
            stale = set(removed.tolist()) | set(added.tolist())
            if first_moved:
                stale |= start_clipped
            if last_moved:
                stale |= end_clipped
            for d in dirty:
                lo = np.searchsorted(times, d - reach)
                hi = np.searchsorted(times, d + CHANCE_CONTEXT_S, side="right")
                for s in times[lo:hi].tolist():
                    tr = trains.get(s)
                    if tr is not None and tr.lo_s <= d <= tr.hi_s:
                        stale.add(s)
            for s in stale:
                if trains.pop(s, None) is not None:
                    start_clipped.discard(s)
                    end_clipped.discard(s)
                    if s in self._accepted[r]:
                        self._accepted[r].discard(s)
                        self._resolved = None
            period = 60.0 / self.rpms[r]
            todo = sorted(s for s in stale if s not in trains)
            for i, s in zip(np.searchsorted(times, todo).tolist(), todo, strict=True):
                if i < len(times) and times[i] == s:
                    self._add(r, i, period)

    def _add(self, r: int, i: int, period: float) -> None:
        times, peaks = self._times, self._peaks
        chain = _chain(i, times, peaks, period=period, tolerance=self.tolerance,
                       max_missing=self.max_missing)
        accepted = every_revolution(times[chain], period_s=period, min_ticks=self.min_ticks) \
            and chance_trains(
            chain, times, peaks, period_s=period, tolerance=self.tolerance,
            n_speeds=len(self.rpms), max_missing=self.max_missing) < CHANCE_BUDGET
        first, last = float(times[chain[0]]), float(times[chain[-1]])
        self._extent_s = max(self._extent_s, last - first)
        tr = _Train(tuple(float(times[j]) for j in chain), accepted,
                    first - CHANCE_CONTEXT_S, last + self._after_s,
                    bool(times[0] > first - CHANCE_CONTEXT_S),
                    bool(times[-1] < last + CHANCE_CONTEXT_S))
        self._trains[r][first] = tr
        if tr.start_clipped:
            self._clipped[r][0].add(first)
        if tr.end_clipped:
            self._clipped[r][1].add(first)
        if accepted:
            self._accepted[r].add(first)
            self._resolved = None

    def scratches(self, *, program_db: float) -> tuple[Scratch, ...]:
        """The trains found (as :func:`find_scratches` gives them), peaks re L
        (``program_db``: L in the peaks' reference)."""
        if self._resolved is None:
            found = [(self._trains[r][s].ticks, 60.0 / rpm, rpm)
                     for r, rpm in enumerate(self.rpms) for s in sorted(self._accepted[r])]
            found.sort(key=lambda f: -len(f[0]))
            used: set[float] = set()
            self._resolved = []
            for ticks, period, rpm in found:
                # a train inside a longer one (its later start) is not another scratch;
                # one that shares a tick or two with it (two scratches ticking together,
                # merged into one event) is
                shared = len(used.intersection(ticks))
                if shared and (2 * shared > len(ticks) or len(ticks) - shared < self.min_ticks):
                    continue
                used.update(ticks)
                steps = np.diff(ticks)
                measured = float(np.median(steps / np.maximum(1, np.round(steps / period))))
                self._resolved.append((ticks, measured, rpm))
        out = []
        for ticks, measured, rpm in self._resolved:
            at = np.searchsorted(self._times, ticks)
            out.append(Scratch(ticks, measured, rpm,
                               float(max(self._peaks[at].tolist()) - program_db)))
        return tuple(sorted(out, key=lambda s: s.ticks[0]))


def _end(a: np.ndarray, i: int) -> float | None:
    return float(a[i]) if len(a) else None


def _changed(times: np.ndarray, peaks: np.ndarray, other_t: np.ndarray,
             other_p: np.ndarray) -> np.ndarray:
    """The times of ``(times, peaks)`` that ``(other_t, other_p)`` does not hold alike."""
    if not len(other_t):
        return times
    k = np.minimum(np.searchsorted(other_t, times), len(other_t) - 1)
    same = (other_t[k] == times) & (other_p[k] == peaks)
    return times[~same]


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
    tracks, by_tick, rpm_out = tracks_of(found, rpm=rpm, tolerance=tolerance)
    index = {e.start_s: i for i, e in enumerate(events)}
    return tracks, {index[t]: tid for t, tid in by_tick.items()}, rpm_out


def tracks_of(found: Sequence[Scratch], *, rpm: float | None,
              tolerance: float = PERIOD_TOLERANCE
              ) -> tuple[list[ScratchTrack], dict[float, int], float | None]:
    """The trains found (all speeds searched when ``rpm`` is None) as the side's
    tracks: at the speed that explains the most ticks, ids by first tick, with their
    confidence (see :func:`track_scratches`); and each tick's time -> track id."""
    if rpm is None and found:
        ticks = {r: sum(len(s.ticks) for s in found if s.rpm == r) for r in RPMS}
        best = max(ticks, key=ticks.get)
        found = tuple(s for s in found if s.rpm == best)
        rpm_out: float | None = best
    else:
        rpm_out = rpm
    tracks, members = [], {}
    for tid, s in enumerate(sorted(found, key=lambda s: s.ticks[0])):
        tracks.append(ScratchTrack(tid, s.period_s, s.ticks[0], s.ticks[-1], len(s.ticks),
                                   _confidence(s.ticks, s.period_s, tolerance), s.rpm,
                                   s.peak_db))
        for t in s.ticks:
            members[t] = tid
    return tracks, members, rpm_out


@functools.lru_cache(maxsize=4096)
def _confidence(ticks: tuple[float, ...], period_s: float, tolerance: float) -> float:
    """A train's confidence (see :func:`track_scratches`); the same train's, window
    after window, is looked up."""
    steps = np.diff(ticks)
    steps = steps / np.maximum(1, np.round(steps / period_s))  # bridged revolutions
    spread = float(np.std(steps)) if len(steps) > 1 else 0.0
    regular = max(0.0, 1.0 - spread / (tolerance * period_s))
    return round((1.0 - 2.0 ** -(len(ticks) - 1)) * regular, 4)

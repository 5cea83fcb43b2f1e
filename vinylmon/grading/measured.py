"""The measured grader: GRADING.md's c, k, n, s, x from detections, then the rubric.

Inputs are the detector's events over a side (or an excerpt), already placed in
side time with their peak re the side's program level L, the detector's
noise-floor estimates per window, and the seconds of non-silent audio analysed.
The result carries the quantities, the repeating scratches found, and the
rubric's grade with the criterion that limited it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vinylmon.grading.rubric import (
    CLICK_FLOOR_DB,
    PERIOD_TOLERANCE,
    RPMS,
    Quantities,
    RubricGrade,
    click_rate,
    grade_quantities,
)

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
class Event:
    """A detected impulse in side time: ``[start_s, end_s)``, ``peak_db`` re L."""

    start_s: float
    end_s: float
    channel: int | None
    peak_db: float
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Scratch:
    """A repeating scratch: ``ticks`` start times (s), once per revolution."""

    ticks: tuple[float, ...]
    period_s: float
    rpm: float
    peak_db: float


@dataclass(frozen=True, slots=True)
class Measurement:
    quantities: Quantities
    scratches: tuple[Scratch, ...]
    grade: RubricGrade


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


def find_scratches(events: Sequence[Event], *, rpms: Sequence[float] = RPMS,
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


#: A groove repeat counts as a skip when a click-loud event lands this close to its start.
SKIP_TICK_S = 0.25


def confirm_skips(repeats: Sequence, events: Sequence[Event], *,
                  min_similarity: float = 0.95) -> list:
    """The repeats (:class:`vinylmon.grading.skips.Repeat`) that are skips.

    Music can repeat itself at a revolution period too; a skip is a repeat at
    least ``min_similarity`` alike whose start has the stylus's landing tick: a
    click-loud event within :data:`SKIP_TICK_S`.
    """
    ticks = np.array([e.start_s for e in events if e.peak_db >= CLICK_FLOOR_DB])
    return [r for r in repeats if r.similarity >= min_similarity
            and np.any(np.abs(ticks - r.start_s) <= SKIP_TICK_S)]


#: The share of a side's audio (its quietest-reading windows) below which its surface
#: noise is read: the windows' estimates (:func:`side_noise_db`).
NOISE_QUANTILE = 0.25


def side_noise_db(window_noise_db: Sequence[float], seconds: Sequence[float]) -> float:
    """n of a side (dB re L) from its windows' estimates (dB re L) and their seconds.

    The music leaks into every window's estimate and never takes noise out of it, so
    the estimate is too loud where the music is dense and truest where it is weak
    (quiet passages, gaps): the side reads at the :data:`NOISE_QUANTILE` of its
    windows' estimates, weighted by duration (one window: its own). On the
    validation split (``python scripts/evaluate_grading.py --split val --control
    control_val --measures none``) this moved n's median error from +3.87 to +0.58 dB
    and its mean absolute error from 7.39 to 6.55 dB against the mean power.
    -inf for no windows.
    """
    est = np.asarray(window_noise_db, dtype=np.float64)
    w = np.asarray(seconds, dtype=np.float64)
    if est.shape != w.shape or est.ndim != 1:
        raise ValueError(f"expected one estimate per window, got {est.shape} and {w.shape}")
    ok = np.isfinite(est) & (w > 0)
    if not ok.any():
        return float("-inf")
    est, w = est[ok], w[ok]
    order = np.argsort(est)
    cum = np.cumsum(w[order])
    return float(est[order][np.searchsorted(cum, NOISE_QUANTILE * cum[-1])])


def measure(events: Sequence[Event], *, analysed_s: float, noise_db: float,
            skips: int = 0, crackle_per_s: float | None = None,
            false_clicks_per_min: float = 0.0) -> Measurement:
    """Quantities and rubric grade from detections.

    Parameters
    ----------
    events : sequence of Event
        Every detected impulse in non-silent audio (peaks re L).
    analysed_s : float, keyword-only
        Seconds of non-silent audio the events come from (> 0).
    noise_db : float, keyword-only
        Surface noise, dB re L (the detector's noise-floor estimate).
    skips : int, keyword-only
    crackle_per_s : float or None, keyword-only
        k from another estimate (e.g. the detector's counts); default: from events.
    false_clicks_per_min : float, keyword-only
        The detector's false events per minute on clean music, taken off c
        (:func:`vinylmon.grading.rubric.click_rate`, as the app's session does).

    Returns
    -------
    Measurement
    """
    if not analysed_s > 0:
        raise ValueError(f"analysed_s must be > 0, got {analysed_s}")
    if not np.isfinite(noise_db):
        raise ValueError(f"noise_db must be finite, got {noise_db}")
    clicks = sum(1 for e in events if e.peak_db >= CLICK_FLOOR_DB)
    crackle = len(events) - clicks
    scratches = find_scratches(events)
    q = Quantities(
        clicks_per_min=click_rate(clicks, analysed_s, false_clicks_per_min=false_clicks_per_min),
        crackle_per_s=crackle / analysed_s if crackle_per_s is None else float(crackle_per_s),
        surface_noise_db=float(noise_db), scratches=len(scratches),
        scratch_peak_db=max((s.peak_db for s in scratches), default=float("-inf")),
        skips=int(skips), analysed_s=float(analysed_s))
    return Measurement(q, scratches, grade_quantities(q))

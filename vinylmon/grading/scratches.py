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

import numpy as np

from vinylmon.grading.events import ScratchTrack
from vinylmon.grading.measured import Event, find_scratches
from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS


def track_scratches(events: Sequence[Event], *, rpm: float | None = None,
                    tolerance: float = PERIOD_TOLERANCE
                    ) -> tuple[list[ScratchTrack], dict[int, int], float | None]:
    """Repeating scratches among ``events`` (side time, peaks re L).

    Parameters
    ----------
    events : sequence of Event
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

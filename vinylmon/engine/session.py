"""A session: the analysed windows of one side, turned into events, scratches and a grade.

Windows arrive one by one (live) or in batches (a file). Levels are kept re full
scale until asked for: the program level L of GRADING.md is the RMS over every
non-silent window heard so far, so an event's level re L (and with it click or
crackle) is settled only when the side is. :meth:`Session.state` computes the
side so far; :func:`vinylmon.reports.report.build_report` writes it as REPORT.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vinylmon.grading.events import AnalysedWindow, DefectEvent, GradeResult, Impulse, ScratchTrack
from vinylmon.grading.fusion import fuse_grade
from vinylmon.grading.measured import CLICK_FLOOR_DB, Event, confirm_skips, side_noise_db
from vinylmon.grading.rubric import Quantities, click_rate
from vinylmon.grading.scratches import track_scratches
from vinylmon.grading.skips import Repeat

#: Detections closer than this (s) are one event (e.g. split at a window boundary).
MERGE_GAP_S = 0.001


@dataclass(frozen=True)
class SessionState:
    """The side so far.

    Attributes
    ----------
    events : tuple of DefectEvent
        Sorted by start; peaks re ``program_level_db``.
    scratches : tuple of ScratchTrack
    skips : tuple of Repeat
        Groove repeats with a landing tick.
    rpm : float or None
        As given, or estimated from the scratches (None when unknown).
    program_level_db : float
        L, dBFS (-inf before any non-silent audio).
    noise_db : float
        Surface noise re L (nan before any non-silent audio).
    analysed_s, heard_s : float
        Non-silent audio analysed; all audio heard (silent windows included).
    grade : GradeResult or None
        None until some non-silent audio was analysed.
    dropped_windows : int
    """

    events: tuple[DefectEvent, ...]
    scratches: tuple[ScratchTrack, ...]
    skips: tuple[Repeat, ...]
    rpm: float | None
    program_level_db: float
    noise_db: float
    analysed_s: float
    heard_s: float
    grade: GradeResult | None
    dropped_windows: int
    #: The click detector's false events per minute on clean music, taken off c.
    false_clicks_per_min: float = 0.0
    #: The spread of n's measurement error (dB) the grade's probabilities allow for.
    noise_sd_db: float = 0.0
    #: The spread of k's measurement error (RMS of ln((k + 0.2) / (true k + 0.2))).
    crackle_sd_log: float = 0.0


def merge_impulses(impulses: Sequence[Impulse], *, gap_s: float = MERGE_GAP_S) -> list[Impulse]:
    """One impulse per event: overlapping or adjacent (within ``gap_s``) detections merge.

    A merged event in different channels is in both (``channel`` None).
    """
    out: list[Impulse] = []
    for imp in sorted(impulses, key=lambda i: i.start_s):
        if out and imp.start_s <= out[-1].end_s + gap_s:
            last = out[-1]
            out[-1] = Impulse(last.start_s, max(last.end_s, imp.end_s),
                              last.channel if last.channel == imp.channel else None,
                              max(last.peak_dbfs, imp.peak_dbfs),
                              max(last.confidence, imp.confidence))
        else:
            out.append(imp)
    return out


class Session:
    """Accumulates :class:`AnalysedWindow` objects of one side.

    Parameters
    ----------
    rpm : float or None, keyword-only
        The record's speed; None estimates it.
    learned_weight : float, keyword-only
        Pool weight of the learned grader (see :mod:`vinylmon.grading.fusion`).
    false_clicks_per_min : float, keyword-only
        The click detector's false events per minute on clean music; c is counted
        net of it (:func:`vinylmon.grading.rubric.click_rate`).
    noise_sd_db : float, keyword-only
        The spread of the surface-noise measurement's error (dB; 0: taken as exact).
    crackle_sd_log : float, keyword-only
        The spread of k's measurement error
        (:func:`vinylmon.grading.fusion.crackle_log_error`; 0: its count's alone).
    """

    def __init__(self, *, rpm: float | None = None, learned_weight: float = 0.0,
                 false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
                 crackle_sd_log: float = 0.0) -> None:
        if rpm is not None and not (10.0 <= rpm <= 100.0):
            raise ValueError(f"rpm must be between 10 and 100, got {rpm}")
        if not (0.0 <= false_clicks_per_min < 1000.0):
            raise ValueError(f"false_clicks_per_min must be in 0..1000, got "
                             f"{false_clicks_per_min}")
        self.rpm = rpm
        self.learned_weight = float(learned_weight)
        if not (0.0 <= noise_sd_db < 100.0):
            raise ValueError(f"noise_sd_db must be in 0..100, got {noise_sd_db}")
        self.false_clicks_per_min = float(false_clicks_per_min)
        self.noise_sd_db = float(noise_sd_db)
        if not (0.0 <= crackle_sd_log < 20.0):
            raise ValueError(f"crackle_sd_log must be in 0..20, got {crackle_sd_log}")
        self.crackle_sd_log = float(crackle_sd_log)
        self.windows: list[AnalysedWindow] = []
        self.repeats: list[Repeat] = []
        self.dropped_windows = 0

    def add(self, window: AnalysedWindow) -> None:
        self.windows.append(window)

    def set_repeats(self, repeats: Sequence[Repeat]) -> None:
        """The groove repeats found in the audio so far (all of them)."""
        self.repeats = list(repeats)

    def state(self) -> SessionState:
        """Events, scratches, skips and the grade of everything heard so far."""
        live = [w for w in self.windows if not w.silent]
        heard = sum(w.end_s - w.start_s for w in self.windows)
        analysed = sum(w.end_s - w.start_s for w in live)
        if not live or analysed <= 0:
            return SessionState((), (), (), self.rpm, float("-inf"), float("nan"), 0.0, heard,
                                None, self.dropped_windows)
        dur = np.array([w.end_s - w.start_s for w in live])
        lv = np.array([w.level_db for w in live])
        power = 10 ** (lv / 10)
        program = float(10 * np.log10(np.sum(power * dur) / dur.sum()))
        noise = side_noise_db([w.noise_db + w.level_db - program for w in live], dur)
        impulses = merge_impulses([i for w in live for i in w.impulses])
        measured = [Event(i.start_s, i.end_s, i.channel, i.peak_dbfs - program, i.confidence)
                    for i in impulses]
        tracks, members, rpm = track_scratches(measured, rpm=self.rpm)
        events = []
        for n, e in enumerate(measured):
            sid = members.get(n)
            kind = "scratch" if sid is not None else \
                "click" if e.peak_db >= CLICK_FLOOR_DB else "crackle"
            events.append(DefectEvent(kind, e.start_s, e.end_s, e.channel, round(e.peak_db, 2),
                                      round(e.confidence, 4), sid))
        skips = tuple(confirm_skips(self.repeats, measured))
        clicks = sum(1 for e in measured if e.peak_db >= CLICK_FLOOR_DB)
        crackle = len(measured) - clicks
        k = crackle / analysed
        if all(w.crackle_per_s is not None for w in live):
            # the window measures count the crackle the music masks tick by tick
            k = float(np.sum(np.array([w.crackle_per_s for w in live]) * dur) / dur.sum())
            crackle = int(round(k * analysed))  # the count behind k's probabilities
        q = Quantities(clicks_per_min=click_rate(
                           clicks, analysed, false_clicks_per_min=self.false_clicks_per_min),
                       crackle_per_s=k, surface_noise_db=noise,
                       scratches=len(tracks),
                       scratch_peak_db=max((t.peak_db for t in tracks), default=float("-inf")),
                       skips=len(skips), analysed_s=analysed)
        learned = [w.grade_probs for w in live if w.grade_probs is not None]
        lp = np.mean(np.array(learned), axis=0) if learned else None
        grade = fuse_grade(q, clicks=clicks, crackle=crackle, learned_probs=lp,
                           weight=self.learned_weight,
                           false_clicks_per_min=self.false_clicks_per_min,
                           noise_sd_db=self.noise_sd_db, crackle_sd_log=self.crackle_sd_log)
        return SessionState(tuple(events), tuple(tracks), skips, rpm, program, noise, analysed,
                            heard, grade, self.dropped_windows, self.false_clicks_per_min,
                            self.noise_sd_db, self.crackle_sd_log)

"""A session: the analysed windows of one side, turned into events, scratches and a grade.

Windows arrive one by one (live) or in batches (a file). Levels are kept re full
scale until asked for: the program level L of GRADING.md is the RMS over every
non-silent window heard so far, so an event's level re L (and with it click or
crackle) is settled only when the side is. :meth:`Session.state` measures the
side so far (:func:`vinylmon.grading.measured.measure_side`) and grades it;
:func:`vinylmon.reports.report.build_report` writes it as REPORT.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vinylmon.grading.events import AnalysedWindow, DefectEvent, GradeResult, ScratchTrack
from vinylmon.grading.fusion import fuse_grade
from vinylmon.grading.measured import GROOVE_NOISE_SD_DB, SideMeter
from vinylmon.grading.rubric import GRADES
from vinylmon.grading.skips import Repeat


@dataclass(frozen=True)
class SessionState:
    """The side so far: what :class:`~vinylmon.grading.measured.SideMeasurement` holds
    (events, scratches, skips, rpm, L, n, seconds analysed and heard, with the same
    meanings), the grade (None until some non-silent audio was analysed) and the
    windows dropped."""

    events: Sequence[DefectEvent]
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
    #: ``(start_s, end_s)`` of the silent windows heard, in order.
    silent_spans: tuple[tuple[float, float], ...] = ()
    #: The learned grader's pool weight in the fused grade (from its validation skill).
    learned_weight: float = 0.0
    #: Seconds of the groove alone (lead-in, gaps, run-out) n and k were read on (0:
    #: they were estimated under the music).
    groove_s: float = 0.0
    #: c holds the detector's click counts of the windows that show clicks, not only the
    #: detected clicks (:data:`vinylmon.grading.measured.CLICK_DENSITY_MIN_EVENTS`).
    clicks_learned: bool = False
    #: The spread of c's measurement error (RMS of ln((c + 1) / (true c + 1))).
    click_sd_log: float = 0.0


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
    click_sd_log : float, keyword-only
        The spread of c's measurement error
        (:func:`vinylmon.grading.fusion.click_log_error`; 0: its count's alone).
    accept : float, keyword-only
        The confidence an impulse needs to be an event of its own; fainter ones count
        only as ticks of a repeating scratch (the detector's ``event_accept``).
    """

    def __init__(self, *, rpm: float | None = None, learned_weight: float = 0.0,
                 false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
                 crackle_sd_log: float = 0.0, click_sd_log: float = 0.0,
                 accept: float = 0.0) -> None:
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
        if not (0.0 <= click_sd_log < 20.0):
            raise ValueError(f"click_sd_log must be in 0..20, got {click_sd_log}")
        self.click_sd_log = float(click_sd_log)
        if not (0.0 <= accept <= 1.0):
            raise ValueError(f"accept must be in 0..1, got {accept}")
        self.accept = float(accept)
        self.repeats: list[Repeat] = []
        self.dropped_windows = 0
        self._meter = SideMeter()
        self._silent: list[tuple[float, float]] = []
        self._learned = np.zeros((64, len(GRADES)))
        self._n_learned = 0

    def add(self, window: AnalysedWindow) -> None:
        """One more window of the side (in time order); :meth:`state` folds in only
        what is new, so each window costs the same at minute 1 and at minute 180."""
        self._meter.add(window)
        if window.silent:
            self._silent.append((window.start_s, window.end_s))
        if not window.silent and window.grade_probs is not None:
            if self._n_learned == len(self._learned):
                self._learned = np.concatenate([self._learned, np.zeros_like(self._learned)])
            self._learned[self._n_learned] = window.grade_probs
            self._n_learned += 1

    @property
    def windows(self) -> list[AnalysedWindow]:
        """The windows added so far (the side meter keeps them)."""
        return self._meter.windows

    def set_repeats(self, repeats: Sequence[Repeat]) -> None:
        """The groove repeats found in the audio so far (all of them)."""
        self.repeats = list(repeats)

    def state(self) -> SessionState:
        """Events, scratches, skips and the grade of everything heard so far."""
        m = self._meter.measure(rpm=self.rpm, repeats=self.repeats,
                                false_clicks_per_min=self.false_clicks_per_min,
                                accept=self.accept)
        if m.quantities is None:
            return SessionState((), (), (), self.rpm, m.program_level_db, m.noise_db, 0.0,
                                m.heard_s, None, self.dropped_windows,
                                silent_spans=tuple(self._silent),
                                learned_weight=self.learned_weight)
        lp = np.mean(self._learned[:self._n_learned], axis=0) if self._n_learned else None
        # read on the groove alone, n is a measurement and k a count, not estimates
        # under the music: n keeps the groove's spread, k its count's (over the groove)
        groove = m.groove_s > 0
        noise_sd = min(self.noise_sd_db, GROOVE_NOISE_SD_DB) if groove else self.noise_sd_db
        crackle_sd = 0.0 if groove else self.crackle_sd_log
        grade = fuse_grade(m.quantities, clicks=m.clicks, crackle=m.crackle, learned_probs=lp,
                           weight=self.learned_weight,
                           false_clicks_per_min=self.false_clicks_per_min,
                           noise_sd_db=noise_sd, crackle_sd_log=crackle_sd,
                           click_sd_log=self.click_sd_log,
                           crackle_exposure_s=m.groove_s if groove else None)
        return SessionState(m.events, m.scratches, m.skips, m.rpm, m.program_level_db,
                            m.noise_db, m.analysed_s, m.heard_s, grade, self.dropped_windows,
                            self.false_clicks_per_min, noise_sd, crackle_sd,
                            tuple(self._silent), self.learned_weight, m.groove_s,
                            m.clicks_learned, self.click_sd_log)

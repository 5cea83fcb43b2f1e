"""The small immutable records that flow from the engine to reports and the GUI.

Times are seconds from the start of the audio; levels name their reference
(``peak_db`` is re the program level L of GRADING.md, ``peak_dbfs`` re full scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from vinylmon.grading.rubric import CLICK_FLOOR_DB, Quantities

#: Event kinds of REPORT.md. ``scratch`` is a tick that belongs to a repeating scratch.
KINDS = ("click", "pop", "crackle", "scratch")

#: What a whole window is, as the detector classifies it (its class probabilities).
WINDOW_CLASSES = ("clean", "click", "crackle", "scratch", "noise")


@dataclass(frozen=True, slots=True)
class Impulse:
    """A detection as the detector placed it, before the side's level L is known.

    ``[start_s, end_s)`` spans the damaged samples; ``channel`` is 0, 1 or None
    (both); ``confidence`` is the detector's probability.
    """

    start_s: float
    end_s: float
    channel: int | None
    peak_dbfs: float
    confidence: float


@dataclass(frozen=True, slots=True)
class DefectEvent:
    """An event of the report: an :class:`Impulse` with its kind and level re L."""

    kind: str
    start_s: float
    end_s: float
    channel: int | None
    peak_db: float
    confidence: float
    scratch_id: int | None = None

    @classmethod
    def at_level(cls, start_s: float, end_s: float, channel: int | None, peak_db: float,
                 confidence: float = 1.0) -> DefectEvent:
        """A click (``peak_db`` >= L - 10 dB) or a crackle tick, by its level re L."""
        return cls("click" if peak_db >= CLICK_FLOOR_DB else "crackle", start_s, end_s, channel,
                   peak_db, confidence)


@dataclass(frozen=True, slots=True)
class ScratchTrack:
    """A repeating scratch: ``count`` ticks one revolution (``period_s``) apart."""

    id: int
    period_s: float
    first_s: float
    last_s: float
    count: int
    confidence: float
    rpm: float
    peak_db: float


@dataclass(frozen=True, slots=True)
class AnalysedWindow:
    """One analysis window through the engine.

    Attributes
    ----------
    index : int
    start_s, end_s : float
    silent : bool
        Silent windows are not analysed: probabilities are None, impulses empty.
    level_db : float
        RMS over both channels, dBFS.
    defect_probs : tuple of float or None
        Probabilities of :data:`WINDOW_CLASSES`.
    grade_probs : tuple of float or None
        The learned grader's probabilities of GRADES (None without a grader).
    noise_db : float
        The detector's surface-noise estimate, dB re this window's level.
    impulses : tuple of Impulse
    inference_s : float
        Wall time the models took for this window (its share of a batch).
    crackle_per_s : float or None
        The window measures' crackle density k (None: k is counted from impulses).
    floor_dbfs : float
        The window's non-impulsive level (dBFS) when it holds steady over its length, as
        the groove alone does (:func:`vinylmon.audio.noisefloor.steady_floor_dbfs`);
        NaN when it varies as music does, or was not measured. The side reads the
        groove's windows (far under its music) as its surface noise.
    floor_ticks_dbfs : tuple of float
        The peaks (dBFS) of the ticks that stand over that steady floor
        (:func:`vinylmon.audio.noisefloor.groove_ticks_dbfs`): in the groove's windows,
        the side's crackle, counted one by one.
    learned_clicks : float or None
        The detector's window head's estimate of the click-loud impulses in the window
        (peak >= L - 10 dB), learned from exact simulated counts, so it includes the
        clicks the music masks; None where not estimated. The side's c counts it
        instead of the window's detected clicks where it is higher and the window shows
        clicks (:func:`vinylmon.grading.measured.measure_side`).
    """

    index: int
    start_s: float
    end_s: float
    silent: bool
    level_db: float
    defect_probs: tuple[float, ...] | None
    grade_probs: tuple[float, ...] | None
    noise_db: float
    impulses: tuple[Impulse, ...]
    inference_s: float
    crackle_per_s: float | None = None
    floor_dbfs: float = float("nan")
    floor_ticks_dbfs: tuple[float, ...] = ()
    learned_clicks: float | None = None


@dataclass(frozen=True, slots=True)
class GradeResult:
    """The side's grade so far.

    Attributes
    ----------
    grade : str
        The fused grade (one of GRADES).
    grade_probs : tuple of float
        Probability of each grade of GRADES; sums to 1.
    confidence : float
        ``grade_probs`` of ``grade``: it tightens as more audio is heard.
    limited_by : str or None
        The criterion (``vinylmon.grading.rubric.CRITERIA``) that limited the measured grade.
    reasons : tuple of str
    quantities : Quantities
        The measured c, k, n, s, x and the audio they were measured on.
    measured_grade : str
    learned_grade : str or None
    learned_probs : tuple of float or None
    """

    grade: str
    grade_probs: tuple[float, ...]
    confidence: float
    limited_by: str | None
    reasons: tuple[str, ...]
    quantities: Quantities
    measured_grade: str
    learned_grade: str | None
    learned_probs: tuple[float, ...] | None

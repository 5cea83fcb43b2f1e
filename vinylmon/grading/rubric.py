"""The audio grading rubric of GRADING.md (rubric v1) as a pure function.

Quantities c, k, n, s, x go in; the grade, the criterion that limited it and a
human reason come out. The simulator labels synthetic audio with it, the measured
grader applies it to detections, and reports quote its reasons.

Boundaries follow the table as written: c and k are strict upper limits
(``c < 4`` for VG+, so exactly 4 clicks/min falls to VG); n is an inclusive
limit (``n <= -50`` for VG+, so exactly -50 dB is still VG+, and -49.99 dB is VG).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Grades from best to worst.
GRADES = ("NM", "VG+", "VG", "G+", "G", "F")
#: Record speeds (rpm) whose revolution periods scratches and skips repeat at,
#: and the tolerance on a period (speed error and wow), GRADING.md.
RPMS = (100.0 / 3.0, 45.0, 78.0)
PERIOD_TOLERANCE = 0.03
#: c counts events at or above L - 10 dB; k those below.
CLICK_FLOOR_DB = -10.0

#: Per grade (NM..G), the upper limits: c strict, k strict, n inclusive.
CLICK_LIMITS = (0.5, 4.0, 15.0, 40.0, 100.0)  # clicks per minute, c < limit
CRACKLE_LIMITS = (0.2, 1.0, 5.0, 20.0, 60.0)  # crackle per second, k < limit
NOISE_LIMITS = (-60.0, -50.0, -40.0, -33.0, -26.0)  # dB re L, n <= limit
#: VG allows at most one repeating scratch, and only one quieter than L - 6 dB.
VG_SCRATCH_PEAK_DB = -6.0

#: Names of the criteria, as used in reports (``summary.limited_by``).
CRITERIA = ("clicks_per_min", "crackle_per_s", "surface_noise_db", "scratches", "skips")


@dataclass(frozen=True, slots=True)
class Quantities:
    """The measured quantities of GRADING.md for one side or excerpt.

    Attributes
    ----------
    clicks_per_min : float
        c: impulsive events with peak >= L - 10 dB per minute of non-silent audio.
    crackle_per_s : float
        k: impulsive events with peak < L - 10 dB per second of non-silent audio.
    surface_noise_db : float
        n: RMS of the non-impulsive noise bed, dB re the program level L.
    scratches : int
        s: repeating scratches (>= 3 consecutive revolutions).
    scratch_peak_db : float
        Peak of the loudest repeating scratch, dB re L (-inf when there is none).
    skips : int
        x: skips or repeats.
    analysed_s : float
        Seconds of non-silent audio the quantities were measured on.
    """

    clicks_per_min: float
    crackle_per_s: float
    surface_noise_db: float
    scratches: int = 0
    scratch_peak_db: float = float("-inf")
    skips: int = 0
    analysed_s: float = 0.0

    def as_report(self) -> dict:
        """The ``summary.measured`` object of REPORT.md."""
        return {"clicks_per_min": self.clicks_per_min, "crackle_per_s": self.crackle_per_s,
                "surface_noise_db": self.surface_noise_db, "scratches": self.scratches,
                "skips": self.skips, "analysed_s": self.analysed_s}


@dataclass(frozen=True, slots=True)
class RubricGrade:
    """A grade with what decided it.

    Attributes
    ----------
    grade : str
        One of :data:`GRADES`.
    limited_by : str or None
        The criterion (one of :data:`CRITERIA`) that kept the grade from being
        better; None for NM.
    reason : str
        e.g. ``"VG: 11.2 clicks/min; VG+ allows < 4"``.
    per_criterion : dict
        The best grade each criterion alone allows.
    """

    grade: str
    limited_by: str | None
    reason: str
    per_criterion: dict


def _fmt(x: float) -> str:
    return f"{x:g}"


def grade_below(value: float, limits: tuple[float, ...], *, inclusive: bool) -> int:
    for i, limit in enumerate(limits):
        if value < limit or (inclusive and value == limit):
            return i
    return len(GRADES) - 1


def _scratch_grade(scratches: int, peak_db: float) -> int:
    if scratches <= 0:
        return 0
    if scratches == 1 and peak_db < VG_SCRATCH_PEAK_DB:
        return GRADES.index("VG")
    return GRADES.index("G+")


def grade_quantities(q: Quantities) -> RubricGrade:
    """Apply the rubric: the worst criterion decides.

    Parameters
    ----------
    q : Quantities

    Returns
    -------
    RubricGrade

    Raises
    ------
    ValueError
        For NaN or negative rates or counts (a measurement bug, not a grade).
    """
    for name in ("clicks_per_min", "crackle_per_s", "surface_noise_db"):
        if math.isnan(getattr(q, name)):
            raise ValueError(f"{name} is NaN")
    if q.clicks_per_min < 0 or q.crackle_per_s < 0 or q.scratches < 0 or q.skips < 0:
        raise ValueError(f"negative quantity in {q}")
    per = {
        "clicks_per_min": grade_below(q.clicks_per_min, CLICK_LIMITS, inclusive=False),
        "crackle_per_s": grade_below(q.crackle_per_s, CRACKLE_LIMITS, inclusive=False),
        "surface_noise_db": grade_below(q.surface_noise_db, NOISE_LIMITS, inclusive=True),
        "scratches": _scratch_grade(q.scratches, q.scratch_peak_db),
        "skips": len(GRADES) - 1 if q.skips > 0 else 0,
    }
    worst = max(per.values())
    grade = GRADES[worst]
    if worst == 0:
        return RubricGrade(grade, None, "NM: no criterion is worse than near mint",
                           {k: GRADES[v] for k, v in per.items()})
    limited_by = next(c for c in CRITERIA if per[c] == worst)
    better = GRADES[worst - 1]
    i = worst - 1
    if limited_by == "clicks_per_min":
        reason = (f"{grade}: {q.clicks_per_min:.1f} clicks/min; "
                  f"{better} allows < {_fmt(CLICK_LIMITS[i])}")
    elif limited_by == "crackle_per_s":
        reason = (f"{grade}: {q.crackle_per_s:.1f} crackle/s; "
                  f"{better} allows < {_fmt(CRACKLE_LIMITS[i])}")
    elif limited_by == "surface_noise_db":
        reason = (f"{grade}: surface noise {q.surface_noise_db:.1f} dB re program level; "
                  f"{better} allows <= {_fmt(NOISE_LIMITS[i])} dB")
    elif limited_by == "scratches":
        if grade == "VG":
            reason = "VG: 1 repeating scratch; VG+ allows none"
        else:
            reason = (f"G+: {q.scratches} repeating scratch(es), loudest at "
                      f"{q.scratch_peak_db:+.1f} dB re program level; VG allows one "
                      f"quieter than {_fmt(VG_SCRATCH_PEAK_DB)} dB")
    else:
        reason = f"F: {q.skips} skip(s)/repeat(s); G allows none"
    return RubricGrade(grade, limited_by, reason, {k: GRADES[v] for k, v in per.items()})


def click_rate(clicks: int, analysed_s: float, *, false_clicks_per_min: float = 0.0) -> float:
    """c, clicks per minute: the click-loud events counted over ``analysed_s`` less the
    detector's known rate of false events on clean music (measured on validation
    music, stored with the verifier), never below 0. A record whose count is within
    what the detector finds on clean music is not held to have clicks."""
    if not analysed_s > 0:
        raise ValueError(f"analysed_s must be > 0, got {analysed_s}")
    if not false_clicks_per_min >= 0:
        raise ValueError(f"false_clicks_per_min must be >= 0, got {false_clicks_per_min}")
    return max(0.0, clicks / (analysed_s / 60.0) - false_clicks_per_min)

"""One grade for the side so far: the measured rubric, fused with the learned grader.

The measured rubric (GRADING.md applied to the measured c, k, n, s, x) decides the
grade and gives the reasons. Its probabilities come from counting statistics: c
and k are rates estimated from a count of events over the audio heard so far, so
each grade's limits hold with a probability that follows from the rate's
posterior (Poisson counts, Jeffreys prior: Gamma(count + 1/2, time)); the count
also holds the click detector's false events, at the rate it makes them on clean
music. With more audio the posterior narrows and the grade's probability
tightens. n is uncertain by its measurement's error (a normal spread measured on
validation music), and so is k where a measured spread is given (log-normal on
k + 0.2/s: the density estimate's error, far wider than its count's). c's count
is also off by the detection's own error (clicks the music masks, false ones, the
density's error where c is the learned click density): a log-normal factor on the
counted rate, of a spread measured on validation music, which more audio does not
narrow. s and x are taken as measured. The worst criterion decides,
so the probability that the grade is g or better is the product over criteria.

The learned grader's window probabilities, averaged over the non-silent windows,
enter as a log-linear pool with weight ``learned_weight`` (0 ignores them): its
skill over chance on the evaluation split, so a grader at chance level adds
nothing. The grade moves to the learned grader's only when that weight is at
least 0.5 and the pooled probabilities favour it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import erf, gammainc

from vinylmon.grading.events import GradeResult
from vinylmon.grading.rubric import (
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    Quantities,
    grade_quantities,
)

#: The learned grader moves the grade only when it is at least this skilful.
LEARNED_DECIDES = 0.5


#: Nodes of the quadrature over a rate's log-normal measurement error.
_NODES, _WEIGHTS = hermegauss(9)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _rate_cdf(count: int, exposure: float, limits: Sequence[float], *,
              false_rate: float = 0.0, sd_log: float = 0.0) -> np.ndarray:
    """P(grade of this criterion <= g) for each g, from a Poisson count that also
    holds false detections at ``false_rate`` (same units as the limits). With
    ``sd_log`` > 0 the counted rate is the true one times a log-normal factor of that
    spread (the detection's own error: what it misses, what it reads too often),
    averaged over by Gauss-Hermite quadrature: the count's part narrows as more audio
    is heard, the factor's does not."""
    out = np.ones(len(GRADES))
    a = count + 0.5
    factor = np.exp(sd_log * _NODES) if sd_log > 0 else np.ones(1)
    weights = _WEIGHTS if sd_log > 0 else np.ones(1)
    for g, lim in enumerate(limits):
        # P(true rate < lim) = P(counted rate < lim * factor)
        out[g] = float(np.dot(weights, gammainc(a, (lim * factor + false_rate) * exposure)))
    return out


def _step_cdf(grade_index: int) -> np.ndarray:
    out = np.zeros(len(GRADES))
    out[grade_index:] = 1.0
    return out


def _noise_cdf(noise_db: float, sd_db: float) -> np.ndarray:
    """P(grade of the noise criterion <= g) for each g when the true n is the measured
    one give or take a normal error of ``sd_db``."""
    out = np.ones(len(GRADES))
    for g, lim in enumerate(NOISE_LIMITS):
        out[g] = 0.5 * (1.0 + erf((lim - noise_db) / (sd_db * np.sqrt(2.0))))
    return out


#: k's error is taken as multiplicative on k + this (per second): crackle-free
#: music measured at 0.1/s is not "infinitely" off.
CRACKLE_FLOOR_PER_S = 0.2


#: c's error is measured where c matters past VG+ (a true c of at least this many a
#: minute), as ln((c_est + 1) / (c_true + 1)): :func:`click_log_error`.
CLICK_ERROR_FROM_PER_MIN = 4.0


def click_log_error(c_est, c_true) -> np.ndarray:
    """c's measurement error, ln((c_est + 1) / (c_true + 1)) per minute, where the true c
    is at least :data:`CLICK_ERROR_FROM_PER_MIN` (NaN elsewhere): its RMS on
    validation music is the spread :func:`measured_probs` allows for (``click_sd_log``)."""
    c_est, c_true = np.asarray(c_est, float), np.asarray(c_true, float)
    return np.where(c_true >= CLICK_ERROR_FROM_PER_MIN, np.log((c_est + 1.0) / (c_true + 1.0)),
                    np.nan)


def crackle_log_error(k_est, k_true) -> np.ndarray:
    """k's measurement error as :func:`_crackle_cdf` models it: ln((k_est + floor) /
    (k_true + floor))."""
    return np.log((np.asarray(k_est, float) + CRACKLE_FLOOR_PER_S)
                  / (np.asarray(k_true, float) + CRACKLE_FLOOR_PER_S))


def _crackle_cdf(k: float, sd_log: float) -> np.ndarray:
    """P(grade of the crackle criterion <= g) for each g when the true k is the
    measured one give or take a log-normal error (:func:`crackle_log_error`) of
    ``sd_log``."""
    out = np.ones(len(GRADES))
    x = np.log(max(k, 0.0) + CRACKLE_FLOOR_PER_S)
    for g, lim in enumerate(CRACKLE_LIMITS):
        out[g] = 0.5 * (1.0 + erf((np.log(lim + CRACKLE_FLOOR_PER_S) - x)
                                  / (sd_log * np.sqrt(2.0))))
    return out


def measured_probs(q: Quantities, *, clicks: int, crackle: int,
                   false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
                   crackle_sd_log: float = 0.0, click_sd_log: float = 0.0,
                   crackle_exposure_s: float | None = None) -> np.ndarray:
    """Probability of each grade given the counts behind c and k, ``(6,)``;
    ``false_clicks_per_min``: the click detector's false events on clean music (the
    count holds them too; see :func:`vinylmon.grading.rubric.click_rate`); ``noise_sd_db``:
    the spread of the surface-noise measurement's error (0: n is taken as measured);
    ``crackle_sd_log``: the spread of k's measurement error (:func:`crackle_log_error`;
    0: k's uncertainty is its count's alone); ``click_sd_log``: the spread of c's
    (:func:`click_log_error`; 0: its count's alone); ``crackle_exposure_s``: the seconds the
    crackle count was made on (default all the audio analysed; the groove's seconds
    when k was counted there)."""
    if not q.analysed_s > 0:
        raise ValueError(f"analysed_s must be > 0, got {q.analysed_s}")
    if not 0.0 <= noise_sd_db < 100.0:
        raise ValueError(f"noise_sd_db must be in 0..100, got {noise_sd_db}")
    if not 0.0 <= crackle_sd_log < 20.0:
        raise ValueError(f"crackle_sd_log must be in 0..20, got {crackle_sd_log}")
    if not 0.0 <= click_sd_log < 20.0:
        raise ValueError(f"click_sd_log must be in 0..20, got {click_sd_log}")
    minutes = q.analysed_s / 60.0
    cdf = _rate_cdf(clicks, minutes, CLICK_LIMITS, false_rate=false_clicks_per_min,
                    sd_log=click_sd_log)
    if crackle_sd_log > 0:
        cdf = cdf * _crackle_cdf(q.crackle_per_s, crackle_sd_log)
    else:
        exposure = q.analysed_s if crackle_exposure_s is None else crackle_exposure_s
        if not exposure > 0:
            raise ValueError(f"crackle_exposure_s must be > 0, got {crackle_exposure_s}")
        cdf = cdf * _rate_cdf(crackle, exposure, CRACKLE_LIMITS)
    rubric = grade_quantities(q)
    per = rubric.per_criterion
    if noise_sd_db > 0 and np.isfinite(q.surface_noise_db):
        cdf = cdf * _noise_cdf(q.surface_noise_db, noise_sd_db)
    else:
        cdf = cdf * _step_cdf(GRADES.index(per["surface_noise_db"]))
    for name in ("scratches", "skips"):
        cdf = cdf * _step_cdf(GRADES.index(per[name]))
    probs = np.diff(np.concatenate([[0.0], cdf]))
    probs = np.clip(probs, 0.0, None)
    return probs / probs.sum()


def learned_weight(exact: float | None) -> float:
    """Pool weight of a learned grader from its exact accuracy: skill over chance, 0..1."""
    if exact is None or not np.isfinite(exact):
        return 0.0
    chance = 1.0 / len(GRADES)
    return float(np.clip((exact - chance) / (1.0 - chance), 0.0, 1.0))


def fuse_grade(q: Quantities, *, clicks: int, crackle: int,
               learned_probs: np.ndarray | None = None, weight: float = 0.0,
               false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
               crackle_sd_log: float = 0.0, click_sd_log: float = 0.0,
               crackle_exposure_s: float | None = None) -> GradeResult:
    """The side's grade from its measured quantities and, optionally, the learned grader.

    Parameters
    ----------
    q : Quantities
        Measured c, k, n, s, x (``analysed_s`` > 0).
    clicks, crackle : int, keyword-only
        The event counts behind c and k.
    learned_probs : np.ndarray, shape (6,), optional, keyword-only
        The learned grader's probabilities for the side.
    weight : float, keyword-only
        Its pool weight (:func:`learned_weight`).
    false_clicks_per_min : float, keyword-only
        The click detector's false events per minute on clean music: ``q``'s c is
        already net of it (:func:`vinylmon.grading.rubric.click_rate`); the count ``clicks`` is not.
    noise_sd_db : float, keyword-only
        The spread (dB) of the surface-noise measurement's error, measured on
        validation music: the noise criterion's grade is that uncertain.
    crackle_sd_log : float, keyword-only
        The spread of k's measurement error (:func:`crackle_log_error`), measured on
        validation music: the crackle criterion's grade is that uncertain.
    click_sd_log : float, keyword-only
        The spread of c's measurement error (:func:`click_log_error`), measured on
        validation music: beyond its count's, the click criterion's grade is that uncertain.
    crackle_exposure_s : float or None, keyword-only
        The seconds ``crackle`` was counted on (default ``q.analysed_s``).

    Returns
    -------
    GradeResult
    """
    rubric = grade_quantities(q)
    pm = measured_probs(q, clicks=clicks, crackle=crackle,
                        false_clicks_per_min=false_clicks_per_min, noise_sd_db=noise_sd_db,
                        crackle_sd_log=crackle_sd_log, click_sd_log=click_sd_log,
                        crackle_exposure_s=crackle_exposure_s)
    learned_grade = None
    lp = None
    if learned_probs is not None:
        lp = np.asarray(learned_probs, dtype=np.float64)
        if lp.shape != (len(GRADES),) or not np.all(np.isfinite(lp)) or lp.sum() <= 0:
            raise ValueError(f"learned_probs must be {len(GRADES)} finite probabilities")
        lp = lp / lp.sum()
        learned_grade = GRADES[int(np.argmax(lp))]
        pooled = pm * np.power(np.maximum(lp, 1e-9), weight)
        probs = pooled / pooled.sum()
    else:
        probs = pm
    grade = rubric.grade
    reasons = [rubric.reason]
    if learned_grade is not None and weight >= LEARNED_DECIDES \
            and probs[GRADES.index(learned_grade)] > probs[GRADES.index(grade)]:
        grade = learned_grade
        reasons.insert(0, f"{grade}: the learned grader hears {learned_grade} "
                          f"({lp[GRADES.index(learned_grade)]:.0%}); measured {rubric.grade}")
    elif learned_grade is not None and learned_grade != rubric.grade:
        reasons.append(f"learned grader: {learned_grade} (weight {weight:.2f}; "
                       f"the measured rubric decides)")
    minutes, seconds = divmod(int(round(q.analysed_s)), 60)
    reasons.append(f"measured on {minutes}:{seconds:02d} of audio")
    i = GRADES.index(grade)
    return GradeResult(grade, tuple(float(p) for p in probs), float(probs[i]),
                       rubric.limited_by, tuple(reasons), q, rubric.grade, learned_grade,
                       None if lp is None else tuple(float(p) for p in lp))

"""Fused grading: probabilities from counting statistics, the learned grader's weight."""

import numpy as np
import pytest

from vinylmon.grading.fusion import fuse_grade, learned_weight, measured_probs
from vinylmon.grading.rubric import GRADES, Quantities


def _q(clicks, seconds, *, crackle=0, noise=-65.0, scratches=0, skips=0):
    return Quantities(clicks_per_min=clicks / (seconds / 60), crackle_per_s=crackle / seconds,
                      surface_noise_db=noise, scratches=scratches, skips=skips,
                      analysed_s=seconds)


def test_confidence_tightens_as_more_audio_is_heard():
    # the same rate, 2 clicks/min (VG+), heard for 1, 5 and 20 minutes
    conf = [fuse_grade(_q(2 * m, 60 * m), clicks=2 * m, crackle=0).confidence for m in (1, 5, 20)]
    assert conf[0] < conf[1] < conf[2]
    assert conf[2] > 0.8


def test_probabilities_sum_to_one_and_grade_is_the_rubric_s():
    g = fuse_grade(_q(24, 120), clicks=24, crackle=0)  # 12 clicks/min
    assert sum(g.grade_probs) == pytest.approx(1.0)
    assert g.grade == g.measured_grade == "VG"
    assert g.limited_by == "clicks_per_min"
    assert "clicks/min" in g.reasons[0]


def test_reasons_name_noise_when_noise_limits():
    g = fuse_grade(_q(0, 300, noise=-45.0), clicks=0, crackle=0)
    assert g.grade == "VG" and g.limited_by == "surface_noise_db"
    assert "noise" in g.reasons[0].lower()
    assert g.grade_probs[GRADES.index("VG")] > 0.9


def test_skip_makes_f_certain():
    g = fuse_grade(_q(0, 300, skips=1), clicks=0, crackle=0)
    assert g.grade == "F" and g.grade_probs[-1] == pytest.approx(1.0)


def test_learned_grader_at_chance_changes_nothing_and_is_reported():
    lp = np.array([0.05, 0.05, 0.05, 0.05, 0.05, 0.75])
    w = learned_weight(1 / 6)
    assert w == 0.0
    g = fuse_grade(_q(1, 600), clicks=1, crackle=0, learned_probs=lp, weight=w)
    assert g.grade == "NM" and g.learned_grade == "F"
    assert any("learned grader: F" in r for r in g.reasons)
    assert g.grade_probs == pytest.approx(tuple(measured_probs(_q(1, 600), clicks=1, crackle=0)))


def test_a_skilful_learned_grader_can_move_the_grade():
    lp = np.array([0.01, 0.01, 0.95, 0.01, 0.01, 0.01])
    g = fuse_grade(_q(2, 60), clicks=2, crackle=0, learned_probs=lp, weight=learned_weight(0.95))
    assert g.measured_grade == "VG+" and g.grade == "VG"


def test_bad_learned_probs():
    with pytest.raises(ValueError, match="probabilities"):
        fuse_grade(_q(0, 60), clicks=0, crackle=0, learned_probs=np.array([np.nan] * 6), weight=1)


def test_an_uncertain_noise_reading_spreads_the_grade_probabilities():
    """n measured 1 dB under VG+'s limit with an error spread of 6 dB: VG+ is barely
    more likely than VG, not certain; exact (spread 0) it is certain."""
    q = Quantities(clicks_per_min=0.0, crackle_per_s=0.0, surface_noise_db=-51.0,
                   scratches=0, scratch_peak_db=float("-inf"), skips=0, analysed_s=600.0)
    exact = measured_probs(q, clicks=0, crackle=0)
    spread = measured_probs(q, clicks=0, crackle=0, noise_sd_db=6.0)
    vg_plus, vg = GRADES.index("VG+"), GRADES.index("VG")
    assert exact[vg_plus] > 0.99
    assert 0.4 < spread[vg_plus] < 0.7 and spread[vg] > 0.2
    assert spread.sum() == pytest.approx(1.0)
    assert fuse_grade(q, clicks=0, crackle=0, noise_sd_db=6.0).grade == "VG+"  # the rubric's
    with pytest.raises(ValueError, match="noise_sd_db"):
        measured_probs(q, clicks=0, crackle=0, noise_sd_db=-1.0)


def test_an_uncertain_crackle_density_spreads_the_grade_probabilities():
    """k measured at 0.6/s over 10 minutes: its count alone makes VG+ (< 1/s) near
    certain; with the density's error spread (a factor of e on k + 0.2) VG+ is likely
    but far from certain, and NM (< 0.2/s) possible."""
    q = Quantities(clicks_per_min=0.0, crackle_per_s=0.6, surface_noise_db=-70.0,
                   scratches=0, scratch_peak_db=float("-inf"), skips=0, analysed_s=600.0)
    counted = measured_probs(q, clicks=0, crackle=360)
    spread = measured_probs(q, clicks=0, crackle=360, crackle_sd_log=1.0)
    nm, vg_plus = GRADES.index("NM"), GRADES.index("VG+")
    assert counted[vg_plus] > 0.99
    assert 0.3 < spread[vg_plus] < 0.7 and spread[nm] > 0.1
    assert spread.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="crackle_sd_log"):
        measured_probs(q, clicks=0, crackle=0, crackle_sd_log=-0.5)


def test_an_uncertain_click_detection_spreads_the_grade_probabilities():
    """24 clicks/min counted over 10 minutes: the count alone makes G+ (15-40) near
    certain; with the detection's error spread (a factor of about 2.2) the neighbours
    VG and G are possible, however long the side: more audio narrows the count's part
    of the spread, not the factor's."""
    q = _q(240, 600)
    counted = measured_probs(q, clicks=240, crackle=0)
    spread = measured_probs(q, clicks=240, crackle=0, click_sd_log=0.8)
    vg, gp, g = GRADES.index("VG"), GRADES.index("G+"), GRADES.index("G")
    assert counted[gp] > 0.99
    assert 0.4 < spread[gp] < 0.9 and spread[vg] > 0.05 and spread[g] > 0.02
    assert spread.sum() == pytest.approx(1.0)
    assert measured_probs(q, clicks=240, crackle=0, click_sd_log=0.0) == pytest.approx(counted)
    # the same rate over 10 and 100 minutes: the count's part is gone, the factor's stays
    conf = [measured_probs(_q(24 * m, 60 * m), clicks=24 * m, crackle=0,
                           click_sd_log=0.8)[gp] for m in (10, 100)]
    assert conf[1] == pytest.approx(conf[0], abs=0.01) and conf[1] < 0.9


def test_one_doubtful_click_in_30_s_is_far_from_certain():
    """One click-loud event in 30 s (2/min, VG+ by the rubric): neither NM nor VG+ is
    near certain, with or without the detection's spread."""
    for sd in (0.0, 0.8):
        p = measured_probs(_q(1, 30), clicks=1, crackle=0, false_clicks_per_min=0.7,
                           click_sd_log=sd)
        assert p.max() < 0.8


def test_crackle_counted_on_the_groove_is_as_certain_as_its_seconds():
    """k = 0.5/s counted on a 10-s lead-in (5 ticks) is VG+ less surely than the same
    rate counted over the whole 10 minutes; the seconds must be positive."""
    q = Quantities(clicks_per_min=0.0, crackle_per_s=0.5, surface_noise_db=-70.0,
                   scratches=0, scratch_peak_db=float("-inf"), skips=0, analysed_s=600.0)
    vg_plus = GRADES.index("VG+")
    whole = measured_probs(q, clicks=0, crackle=300)
    groove = measured_probs(q, clicks=0, crackle=5, crackle_exposure_s=10.0)
    assert whole[vg_plus] > 0.99
    assert 0.5 < groove[vg_plus] < 0.97
    assert fuse_grade(q, clicks=0, crackle=5, crackle_exposure_s=10.0).grade_probs[
        vg_plus] == pytest.approx(groove[vg_plus])
    with pytest.raises(ValueError, match="crackle_exposure_s"):
        measured_probs(q, clicks=0, crackle=0, crackle_exposure_s=0.0)

"""The rubric at every boundary of GRADING.md."""

import math

import pytest

from vinylmon.grading.rubric import (
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    Quantities,
    grade_quantities,
)

CLEAN = dict(clicks_per_min=0.0, crackle_per_s=0.0, surface_noise_db=-80.0)


def grade(**kw):
    return grade_quantities(Quantities(**{**CLEAN, **kw}))


def test_clean_is_nm():
    g = grade()
    assert g.grade == "NM" and g.limited_by is None


@pytest.mark.parametrize("i", range(5))
def test_click_boundaries_are_strict(i):
    limit = CLICK_LIMITS[i]
    assert grade(clicks_per_min=math.nextafter(limit, 0)).grade == GRADES[i]
    on = grade(clicks_per_min=limit)
    assert on.grade == GRADES[i + 1] and on.limited_by == "clicks_per_min"


@pytest.mark.parametrize("i", range(5))
def test_crackle_boundaries_are_strict(i):
    limit = CRACKLE_LIMITS[i]
    assert grade(crackle_per_s=math.nextafter(limit, 0)).grade == GRADES[i]
    assert grade(crackle_per_s=limit).grade == GRADES[i + 1]


@pytest.mark.parametrize("i", range(5))
def test_noise_boundaries_are_inclusive_as_written(i):
    limit = NOISE_LIMITS[i]
    assert grade(surface_noise_db=limit).grade == GRADES[i]
    above = grade(surface_noise_db=math.nextafter(limit, 0))
    assert above.grade == GRADES[i + 1] and above.limited_by == "surface_noise_db"


def test_scratches():
    assert grade(scratches=1, scratch_peak_db=-6.01).grade == "VG"
    assert grade(scratches=1, scratch_peak_db=-6.0).grade == "G+"  # not < L - 6 dB
    assert grade(scratches=2, scratch_peak_db=-30).grade == "G+"
    assert grade(scratches=9, scratch_peak_db=10).grade == "G+"  # never worse than G+ alone


def test_any_skip_is_f():
    g = grade(skips=1)
    assert g.grade == "F" and g.limited_by == "skips"


def test_worst_criterion_decides_and_reason_names_it():
    g = grade(clicks_per_min=11.2, crackle_per_s=0.5, surface_noise_db=-55)
    assert g.grade == "VG" and g.limited_by == "clicks_per_min"
    assert g.reason == "VG: 11.2 clicks/min; VG+ allows < 4"
    assert g.per_criterion == {"clicks_per_min": "VG", "crackle_per_s": "VG+",
                               "surface_noise_db": "VG+", "scratches": "NM", "skips": "NM"}
    g = grade(surface_noise_db=-30.0)
    assert g.grade == "G" and "surface noise -30.0 dB" in g.reason
    assert "G+ allows <= -33" in g.reason
    assert grade(crackle_per_s=70).reason == "F: 70.0 crackle/s; G allows < 60"


def test_far_beyond_every_limit_is_f():
    assert grade(clicks_per_min=1e6).grade == "F"
    assert grade(surface_noise_db=0.0).grade == "F"


def test_nan_and_negative_are_refused():
    with pytest.raises(ValueError):
        grade(clicks_per_min=float("nan"))
    with pytest.raises(ValueError):
        grade(crackle_per_s=-1)

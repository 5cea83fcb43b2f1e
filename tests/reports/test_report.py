"""build_report's extra keys: the record the user named, and the notes beside the grade."""

import dataclasses
import json

import pytest

from vinylmon.grading.events import Impulse
from vinylmon.grading.names import SHELLAC_NOTE
from vinylmon.reports.report import build_report
from vinylmon.reports.schema import report_problems

LEVEL = -20.0  # the windows' level (tests/reports/conftest.py), dBFS
MODELS = {"detector": "cnn@1", "grader": None, "device": "cpu"}


def report_of(state, windows, **extra):
    return build_report(state, windows, input_name="side.flac", sample_rate=44100, channels=2,
                        duration_s=10.0, models=MODELS, **extra)


def test_record_holds_the_non_empty_values(side_by_hand):
    report = report_of(*side_by_hand(), record={"artist": " Nina Simone ", "title": "Pastel Blues",
                                        "side": "", "label": None})
    assert report["record"] == {"artist": "Nina Simone", "title": "Pastel Blues"}
    assert report_problems(json.loads(json.dumps(report))) == []


@pytest.mark.parametrize("record", [None, {}, {"artist": "  ", "side": None}])
def test_no_record_no_key(side_by_hand, record):
    report = report_of(*side_by_hand(), record=record)
    assert "record" not in report
    assert report_problems(report) == []


@pytest.mark.parametrize("rpm", [78.0, 78.26])
def test_a_78_has_the_shellac_note(side_by_hand, rpm):
    report = report_of(*side_by_hand(rpm=rpm))
    assert report["summary"]["notes"] == [SHELLAC_NOTE]
    assert report["summary"]["limited_by"] is not None  # the limiting reason stays
    assert report_problems(report) == []


def test_an_estimated_78_has_the_shellac_note(side_by_hand):
    ticks = [Impulse(0.5 + i * 60 / 78, 0.5005 + i * 60 / 78, None, LEVEL + 2.0, 0.9)
             for i in range(8)]
    state, windows = side_by_hand(impulses=ticks)
    assert state.rpm == 78.0  # estimated from the scratch
    assert report_of(state, windows)["summary"]["notes"] == [SHELLAC_NOTE]


@pytest.mark.parametrize("rpm", [None, 100 / 3, 45.0])
def test_other_speeds_have_no_notes(side_by_hand, rpm):
    report = report_of(*side_by_hand(rpm=rpm))
    assert "notes" not in report["summary"]


def test_required_keys_are_unchanged(side_by_hand):
    report = report_of(*side_by_hand(rpm=78.0), record={"artist": "A"})
    assert {"schema", "input", "sample_rate", "channels", "duration_s", "rpm", "models",
            "events", "scratches", "windows", "summary"} <= set(report)
    assert {"grade", "grade_probs", "limited_by", "reasons", "measured", "learned_grade",
            "measured_grade"} <= set(report["summary"])


@pytest.mark.parametrize("weight", [0.0, 0.37])
def test_the_learned_graders_weight_is_in_the_summary(side_by_hand, weight):
    state, windows = side_by_hand(learned_weight=weight)
    assert state.learned_weight == weight
    assert report_of(state, windows)["summary"]["learned_weight"] == pytest.approx(weight)


def test_the_methods_say_how_k_was_measured(side_by_hand):
    """Told how k was measured, the report says so; not told, it says it from the
    windows (here without a density of their own: the events were counted)."""
    told = report_of(*side_by_hand(), crackle_method="the ticks a verifier hears")
    assert told["summary"]["methods"]["crackle_per_s"].startswith("the ticks a verifier hears")
    assert report_problems(told) == []
    plain = report_of(*side_by_hand())["summary"]["methods"]["crackle_per_s"]
    assert plain.startswith("detected impulses with peak < L - 10 dB")


def test_the_methods_say_when_n_was_read_on_the_groove(side_by_hand):
    state, windows = side_by_hand()
    plain = report_of(state, windows)["summary"]["methods"]["surface_noise_db"]
    assert plain.startswith("the models' estimate of the noise bed")
    grooved = report_of(dataclasses.replace(state, groove_s=12.5, noise_sd_db=2.0),
                        windows)
    said = grooved["summary"]["methods"]["surface_noise_db"]
    assert said.startswith("the level of the groove heard alone")
    assert "read on 12.5 s of it" in said and "+-2.0 dB" in said
    assert report_problems(grooved) == []


def test_the_methods_say_when_c_holds_the_models_click_counts(side_by_hand):
    state, windows = side_by_hand()
    plain = report_of(state, windows)["summary"]["methods"]["clicks_per_min"]
    assert plain.startswith("detected impulses (clicks, pops, scratch ticks)")
    assert "models' click count" not in plain
    dense = report_of(dataclasses.replace(state, clicks_learned=True, click_sd_log=0.95),
                      windows)
    said = dense["summary"]["methods"]["clicks_per_min"]
    assert said.startswith("detected impulses (clicks, pops, scratch ticks)")
    assert "the models' click count for the window" in said
    assert "includes the clicks the music masks" in said and "factor of about 2.6" in said
    assert report_problems(dense) == []
    # an extra key (REPORT.md allows them) says it plainly, for whoever reads the report
    assert dense["summary"]["clicks_include_masked"] is True
    assert report_of(state, windows)["summary"]["clicks_include_masked"] is False

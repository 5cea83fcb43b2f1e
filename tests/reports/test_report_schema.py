"""The report contract vinylmon.report/1: the JSON Schema and the checks beyond it."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from vinylmon.errors import ReportError, VinylmonError
from vinylmon.grading.rubric import GRADES
from vinylmon.reports.schema import (
    SCHEMA_ID,
    SCHEMA_PATH,
    load_schema,
    report_problems,
    validate_report,
)

REPORT_MD = Path(__file__).resolve().parents[3] / "shared" / "spec" / "REPORT.md"


def probs(keys, rng):
    p = rng.dirichlet(np.ones(len(keys)))
    return {k: float(v) for k, v in zip(keys, p, strict=True)}


def valid_report(seed=7):
    """The REPORT.md example with 2 events, 1 scratch and 2 windows (one silent)."""
    rng = np.random.default_rng(seed)
    t0 = float(rng.uniform(1.0, 4.0))
    return {
        "schema": "vinylmon.report/1",
        "input": "side_a.flac",
        "sample_rate": 44100,
        "channels": 2,
        "duration_s": 10.0,
        "rpm": 33.333,
        "models": {"detector": "cnn@1.1.0", "grader": "w2v@0.3.0", "device": "cpu"},
        "events": [
            {"kind": "click", "start_s": t0, "end_s": t0 + 0.0004, "channel": 0,
             "peak_db": float(rng.uniform(-10, 0)), "confidence": 0.97, "scratch_id": None},
            {"kind": "scratch", "start_s": t0 + 1.8, "end_s": t0 + 1.8005, "channel": None,
             "peak_db": -4.0, "confidence": 0.9, "scratch_id": 0},
        ],
        "scratches": [
            {"id": 0, "period_s": 1.8, "first_s": t0 + 1.8, "last_s": t0 + 5.4, "count": 3,
             "confidence": 0.93},
        ],
        "windows": [
            {"start_s": 0.0, "end_s": 5.0, "silent": False,
             "defect_probs": probs(["clean", "click", "crackle", "scratch", "noise"], rng),
             "grade_probs": probs(GRADES, rng)},
            {"start_s": 5.0, "end_s": 10.0, "silent": True,
             "defect_probs": probs(["clean", "click", "crackle", "scratch", "noise"], rng),
             "grade_probs": None},
        ],
        "summary": {
            "grade": "VG",
            "grade_probs": probs(GRADES, rng),
            "limited_by": "scratches",
            "reasons": ["VG: 1 repeating scratch; VG+ allows none"],
            "measured": {"clicks_per_min": 12.0, "crackle_per_s": 0.0,
                         "surface_noise_db": -55.0, "scratches": 1, "skips": 0,
                         "analysed_s": 5.0},
            "learned_grade": "VG+",
            "measured_grade": "VG",
        },
    }


def assert_problem(report, *fragments):
    problems = report_problems(report)
    text = "\n".join(problems)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {problems}"
    return problems


def test_schema_file_is_a_valid_draft_2020_12_schema():
    schema = load_schema()
    assert SCHEMA_PATH.name == "report_schema.json"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == SCHEMA_ID
    assert set(schema["required"]) == {"schema", "input", "sample_rate", "channels",
                                       "duration_s", "rpm", "models", "events", "scratches",
                                       "windows", "summary"}
    load_schema()["required"].clear()  # a copy: the next caller is not affected
    assert len(load_schema()["required"]) == 11


def test_valid_report_has_no_problems():
    report = valid_report()
    assert report_problems(report) == []
    validate_report(report)  # does not raise
    # it survives a JSON round trip unchanged
    assert report_problems(json.loads(json.dumps(report, allow_nan=False))) == []


def test_nullables_and_extra_keys_are_allowed():
    report = valid_report()
    report["rpm"] = None
    report["summary"]["learned_grade"] = None
    report["summary"]["measured"]["surface_noise_db"] = None
    report["summary"]["limited_by"] = None
    report["windows"][1]["defect_probs"] = None
    report["models"]["grader"] = None
    report["created"] = "2026-11-21T10:00:00Z"
    report["events"][0]["extra"] = {"anything": [1, 2]}
    report["summary"]["measured"]["scratch_peak_db"] = -4.0
    assert report_problems(report) == []


def test_record_and_notes_are_optional_extras():
    report = valid_report()
    report["record"] = {"artist": "Nina Simone", "title": "Pastel Blues", "side": "A"}
    report["summary"]["notes"] = ["78 rpm: a note"]
    assert report_problems(report) == []
    report["record"] = {}
    report["summary"]["notes"] = []
    assert report_problems(report) == []


@pytest.mark.parametrize(("record", "fragment"), [
    ("Nina Simone", "$.record: 'Nina Simone' is not of type 'object'"),
    (["Nina Simone"], "$.record: ['Nina Simone'] is not of type 'object'"),
    ({"artist": 7}, "$.record.artist: 7 is not of type 'string'"),
    ({"side": None}, "$.record.side: None is not of type 'string'"),
    ({"title": {"main": "x"}}, "$.record.title: {'main': 'x'} is not of type 'string'"),
])
def test_record_must_be_an_object_of_strings(record, fragment):
    report = valid_report()
    report["record"] = record
    assert_problem(report, fragment)


def test_notes_must_be_a_list_of_strings():
    report = valid_report()
    report["summary"]["notes"] = "78 rpm"
    assert_problem(report, "$.summary.notes: '78 rpm' is not of type 'array'")
    report["summary"]["notes"] = ["ok", 3]
    assert_problem(report, "$.summary.notes[1]: 3 is not of type 'string'")


@pytest.mark.parametrize("key", ["schema", "rpm", "events", "summary", "windows"])
def test_missing_top_level_key(key):
    report = valid_report()
    del report[key]
    assert_problem(report, f"'{key}' is a required property")


def test_missing_nested_keys():
    report = valid_report()
    del report["summary"]["measured"]["analysed_s"]
    del report["events"][1]["scratch_id"]
    del report["models"]["device"]
    assert_problem(report, "$.summary.measured: 'analysed_s' is a required property",
                   "$.events[1]: 'scratch_id' is a required property",
                   "$.models: 'device' is a required property")


def test_wrong_schema_string():
    report = valid_report()
    report["schema"] = "vinylmon.report/2"
    assert_problem(report, "$.schema:", "vinylmon.report/1")


def test_bad_grade():
    report = valid_report()
    report["summary"]["grade"] = "M"
    report["summary"]["measured_grade"] = "P"
    assert_problem(report, "$.summary.grade: 'M' is not one of",
                   "$.summary.measured_grade: 'P' is not one of")


def test_bad_kind():
    report = valid_report()
    report["events"][0]["kind"] = "thump"
    assert_problem(report, "$.events[0].kind: 'thump' is not one of")


def test_grade_probs_need_exactly_the_six_grades():
    report = valid_report()
    report["summary"]["grade_probs"]["M"] = 0.0
    del report["summary"]["grade_probs"]["F"]
    assert_problem(report, "'F' is a required property", "'M' was unexpected")


@pytest.mark.parametrize("where", ["summary", "window_grade", "window_defect"])
def test_probs_not_summing_to_one(where):
    report = valid_report()
    target = {"summary": report["summary"]["grade_probs"],
              "window_grade": report["windows"][0]["grade_probs"],
              "window_defect": report["windows"][0]["defect_probs"]}[where]
    key = min(target, key=target.get)
    target[key] += 0.05
    path = {"summary": "$.summary.grade_probs", "window_grade": "$.windows[0].grade_probs",
            "window_defect": "$.windows[0].defect_probs"}[where]
    assert_problem(report, f"{path}: probabilities sum to")


def test_probs_within_tolerance_pass():
    report = valid_report()
    probs_ = report["summary"]["grade_probs"]
    probs_["NM"] = max(0.0, probs_["NM"] - 5e-4)
    assert report_problems(report) == []


def test_probability_out_of_range():
    report = valid_report()
    report["events"][0]["confidence"] = 1.5
    report["windows"][0]["grade_probs"]["NM"] = -0.1
    assert_problem(report, "$.events[0].confidence: 1.5 is greater than the maximum of 1",
                   "$.windows[0].grade_probs.NM: -0.1 is less than the minimum of 0")


def test_unsorted_events():
    report = valid_report()
    report["events"].reverse()
    assert_problem(report, "$.events[1].start_s:", "must be in order of start_s")


def test_unsorted_windows():
    report = valid_report()
    report["windows"].reverse()
    assert_problem(report, "$.windows[1].start_s:", "windows must be in order of start_s")


def test_scratch_id_naming_no_scratch():
    report = valid_report()
    report["events"][1]["scratch_id"] = 5
    assert_problem(report, "$.events[1].scratch_id: 5 names no scratch")


def test_scratch_tick_without_scratch_id():
    report = valid_report()
    report["events"][1]["scratch_id"] = None
    assert_problem(report, "$.events[1]: a scratch tick must name its scratch")


def test_duplicate_scratch_ids():
    report = valid_report()
    report["scratches"].append(copy.deepcopy(report["scratches"][0]))
    assert_problem(report, "$.scratches[1].id: 0 is also the id of $.scratches[0]")


def test_negative_duration():
    report = valid_report()
    report["duration_s"] = -1.0
    assert_problem(report, "$.duration_s: -1.0 is less than the minimum of 0")


def test_event_ending_before_it_starts():
    report = valid_report()
    e = report["events"][0]
    e["end_s"] = e["start_s"] - 0.001
    report["windows"][0]["end_s"] = 0.0  # equal to start_s is allowed
    problems = assert_problem(report, "$.events[0]: end_s")
    assert not any(p.startswith("$.windows[0]") for p in problems)


def test_window_ending_before_it_starts():
    report = valid_report()
    report["windows"][1]["end_s"] = 4.0
    assert_problem(report, "$.windows[1]: end_s 4.0 is before start_s 5.0")


def test_channel_beyond_the_recording():
    report = valid_report()
    report["events"][0]["channel"] = 2
    assert_problem(report, "$.events[0].channel: 2 is not a channel of a 2-channel")


def test_types_and_ranges():
    report = valid_report()
    report["sample_rate"] = 0
    report["channels"] = 0
    report["events"][0]["channel"] = -1
    report["windows"][0]["silent"] = "no"
    report["summary"]["measured"]["skips"] = 1.5
    report["rpm"] = True
    assert_problem(report, "$.sample_rate: 0 is less than or equal to the minimum of 0",
                   "$.channels: 0 is less than the minimum of 1",
                   "$.events[0].channel: -1 is less than the minimum of 0",
                   "$.windows[0].silent: 'no' is not of type 'boolean'",
                   "$.summary.measured.skips: 1.5 is not of type 'integer'",
                   "$.rpm: True is not of type 'number', 'null'")


def test_nan_is_a_problem():
    report = valid_report()
    report["events"][0]["peak_db"] = float("nan")
    report["duration_s"] = float("inf")
    assert_problem(report, "$.events[0].peak_db: nan is not a finite number",
                   "$.duration_s: inf is not a finite number")


def test_garbage_does_not_crash():
    for garbage in (None, [], "report", {"events": ["x", 3], "scratches": {"a": 1},
                                         "windows": [None], "summary": "?", "channels": "2"}):
        problems = report_problems(garbage)
        assert problems and all(isinstance(p, str) for p in problems)


def test_problems_are_listed_in_document_order():
    report = valid_report()
    for i in range(12):
        report["events"].append(dict(report["events"][0], start_s=5.0 + i, end_s=5.1 + i))
    report["events"][2]["kind"] = "bad"
    report["events"][11]["kind"] = "bad"
    problems = [p for p in report_problems(report) if "is not one of" in p]
    assert [p.split(":")[0] for p in problems] == ["$.events[2].kind", "$.events[11].kind"]


def test_validate_report_raises_report_error():
    report = valid_report()
    report["summary"]["grade"] = "Z"
    report["events"][0]["kind"] = "thump"
    with pytest.raises(ReportError) as info:
        validate_report(report)
    assert isinstance(info.value, VinylmonError)
    message = str(info.value)
    assert "; " in message and "'Z' is not one of" in message and "'thump'" in message


def test_validate_report_message_is_bounded():
    report = valid_report()
    report["events"] = [dict(report["events"][0], kind="bad") for _ in range(200)]
    with pytest.raises(ReportError, match="and 180 more problems"):
        validate_report(report)


def test_report_md_example_validates():
    if not REPORT_MD.is_file():
        pytest.skip(f"{REPORT_MD} is missing (shared/ is not beside this clone)")
    blocks = re.findall(r"```json\s*\n(.*?)\n```", REPORT_MD.read_text(encoding="utf-8"),
                        re.DOTALL)
    assert len(blocks) == 1, "REPORT.md should have exactly one ```json example"
    example = json.loads(blocks[0])
    assert report_problems(example) == []
    # every key the example shows is required by the schema
    schema = load_schema()
    assert set(example) == set(schema["required"])
    assert set(example["summary"]) == set(schema["$defs"]["summary"]["required"])
    assert set(example["events"][0]) == set(schema["$defs"]["event"]["required"])
    assert set(example["scratches"][0]) == set(schema["$defs"]["scratch"]["required"])
    assert set(example["windows"][0]) == set(schema["$defs"]["window"]["required"])
    assert set(example["summary"]["measured"]) == set(schema["$defs"]["measured"]["required"])
    assert set(example["models"]) == set(schema["properties"]["models"]["required"])

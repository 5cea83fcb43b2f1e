"""The event table as CSV: a header, one row per event, values that read back."""

import csv
import io
import json

import pytest

from vinylmon.reports.csv import COLUMNS, events_csv, write_events_csv
from vinylmon.reports.report import build_report


@pytest.fixture
def report(side_by_hand):
    state, windows = side_by_hand()
    rep = build_report(state, windows, input_name="side.flac", sample_rate=44100, channels=2,
                       duration_s=10.0, models={"detector": "d@1", "grader": None,
                                                "device": "cpu"})
    return json.loads(json.dumps(rep))  # as a reader of the JSON file has it


def read_back(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_round_trip(report):
    text = events_csv(report)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    rows = read_back(text)
    events = report["events"]
    assert len(rows) == len(events) == 7
    for row, e in zip(rows, events, strict=True):
        assert row["kind"] == e["kind"]
        for key in ("start_s", "end_s"):  # to 0.1 ms and better: the report's own digits
            assert float(row[key]) == pytest.approx(e[key], abs=1e-6)
        assert float(row["peak_db"]) == pytest.approx(e["peak_db"], abs=0.005)
        assert float(row["confidence"]) == pytest.approx(e["confidence"], abs=5e-5)
        for key in ("channel", "scratch_id"):
            assert (None if row[key] == "" else int(row[key])) == e[key]
    assert {r["kind"] for r in rows} == {"scratch", "click", "crackle"}
    # an event 0.12 ms into a second keeps its digits
    assert any(r["start_s"] == "3.000120" for r in rows)


def test_no_events_is_the_header_alone(report):
    report["events"] = []
    assert read_back(events_csv(report)) == []
    assert events_csv(report) == ",".join(COLUMNS) + "\r\n"


def test_write_events_csv(report, tmp_path):
    path = write_events_csv(report, tmp_path / "side.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report["events"])
    assert not list(tmp_path.glob("*.part"))

"""events_csv on a report that is not one: a ReportError naming what is wrong."""

import pytest

from vinylmon.errors import ReportError, VinylmonError
from vinylmon.reports.csv import events_csv, write_events_csv

EVENT = {"kind": "click", "start_s": 1.0, "end_s": 1.0005, "channel": 0, "peak_db": -3.0,
         "confidence": 0.9, "scratch_id": None}


@pytest.mark.parametrize(("report", "fragment"), [
    ([], "JSON object"),
    ({}, "no events list"),
    ({"events": {"0": EVENT}}, "no events list"),
    ({"events": ["click"]}, "$.events[0] is not an object"),
    ({"events": [{k: v for k, v in EVENT.items() if k != "end_s"}]}, "has no end_s"),
    ({"events": [{**EVENT, "start_s": "1.0"}]}, "start_s is not a number"),
    ({"events": [{**EVENT, "start_s": float("nan")}]}, "not a finite number"),
    ({"events": [{**EVENT, "peak_db": True}]}, "peak_db is not a number"),
    ({"events": [{**EVENT, "channel": 0.5}]}, "channel is not a whole number"),
    ({"events": [{**EVENT, "kind": None}]}, "kind is null"),
    ({"events": [EVENT, {**EVENT, "confidence": None}]}, "$.events[1].confidence is null"),
])
def test_bad_report(report, fragment):
    with pytest.raises(ReportError) as exc:
        events_csv(report)
    assert fragment in str(exc.value)
    assert isinstance(exc.value, VinylmonError)


def test_nothing_is_written_for_a_bad_report(tmp_path):
    with pytest.raises(ReportError):
        write_events_csv({"events": [{"kind": "click"}]}, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []

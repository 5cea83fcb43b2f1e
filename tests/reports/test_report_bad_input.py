"""build_report refuses a record that is not text (a ReportError, before any work)."""

import pytest

from vinylmon.errors import ReportError, VinylmonError
from vinylmon.reports.report import build_report


@pytest.mark.parametrize("record", [["artist", "Nina"], {"artist": 7}, {"side": b"A"},
                                    {3: "three"}, {"title": ["x"]}])
def test_record_that_is_not_text(side_by_hand, record):
    state, windows = side_by_hand()
    with pytest.raises(ReportError, match="record") as exc:
        build_report(state, windows, input_name="x.flac", sample_rate=44100, channels=2,
                     duration_s=10.0, models={"detector": "d@1", "grader": None,
                                              "device": "cpu"}, record=record)
    assert isinstance(exc.value, VinylmonError)

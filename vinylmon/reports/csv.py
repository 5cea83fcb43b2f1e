"""A report's event table as CSV, for spreadsheets (``vinylmon grade --csv``, the GUI).

One row per event of a ``vinylmon.report/1`` report (REPORT.md), in the report's
order, under a header row of :data:`COLUMNS`. Times keep the report's resolution
(microseconds, well within REPORT.md's 0.1 ms); ``channel`` and ``scratch_id`` are
empty where the report has null (an event in every channel; a tick of no scratch).
Rows end with CRLF (RFC 4180); a file is written with ``newline=""``.

Standard library only.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

from vinylmon.errors import ReportError

#: The columns, in order: REPORT.md's event keys.
COLUMNS = ("kind", "start_s", "end_s", "channel", "peak_db", "confidence", "scratch_id")
#: Decimals written per numeric column (the report's own rounding).
DECIMALS = {"start_s": 6, "end_s": 6, "peak_db": 2, "confidence": 4}


def _cell(key: str, value: object, where: str) -> str:
    if value is None:
        if key in ("channel", "scratch_id"):
            return ""
        raise ReportError(f"{where}.{key} is null")
    if key == "kind":
        if not isinstance(value, str):
            raise ReportError(f"{where}.kind is not text: {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"{where}.{key} is not a number: {value!r}")
    if key in DECIMALS:
        if not math.isfinite(value):
            raise ReportError(f"{where}.{key} is not a finite number: {value!r}")
        return f"{float(value):.{DECIMALS[key]}f}"
    if not float(value).is_integer():
        raise ReportError(f"{where}.{key} is not a whole number: {value!r}")
    return str(int(value))


def events_csv(report: Mapping) -> str:
    """The events of ``report`` as CSV text: a header row, then one row per event.

    Parameters
    ----------
    report : mapping
        A ``vinylmon.report/1`` report (as built, or as parsed from JSON).

    Returns
    -------
    str
        Rows of :data:`COLUMNS`, each ending with CRLF.

    Raises
    ------
    ReportError
        No ``events`` list, or an event without one of :data:`COLUMNS` or with a
        value of the wrong type (text for ``kind``; finite numbers; whole numbers or
        null for ``channel`` and ``scratch_id``).
    """
    if not isinstance(report, Mapping):
        raise ReportError(f"a report is a JSON object, not {type(report).__name__}")
    events = report.get("events")
    if not isinstance(events, list):
        raise ReportError("the report has no events list ($.events)")
    rows = []
    for i, event in enumerate(events):
        where = f"$.events[{i}]"
        if not isinstance(event, Mapping):
            raise ReportError(f"{where} is not an object")
        missing = [k for k in COLUMNS if k not in event]
        if missing:
            raise ReportError(f"{where} has no {', '.join(missing)}")
        rows.append([_cell(k, event[k], where) for k in COLUMNS])
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


def write_events_csv(report: Mapping, path: str | os.PathLike) -> Path:
    """Write :func:`events_csv` of ``report`` to ``path``, atomically (a half-written
    table never lands).

    Raises
    ------
    ReportError
        As :func:`events_csv` (nothing is written).
    OSError
        The folder is not writable.
    """
    text = events_csv(report)
    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, p)
    return p

"""The report contract ``vinylmon.report/1`` (REPORT.md) as a check.

:file:`report_schema.json` beside this module is the JSON Schema (draft 2020-12)
of the report: every key REPORT.md shows is required, extra keys are allowed; of
the extra keys vinylmon writes, an optional ``record`` must be an object of text
(artist, title, side) and ``summary.notes`` a list of text.
:func:`report_problems` applies it and adds the rules a schema cannot express:
probabilities that sum to 1, events and windows in time order, ``end_s >= start_s``,
scratch ids that are unique and that events name correctly, no NaN or infinity.

This module imports neither numpy nor torch nor Qt. The schema check needs
``jsonschema``, imported only when a report is checked.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vinylmon.errors import ReportError

#: The value of a report's ``schema`` key.
SCHEMA_ID = "vinylmon.report/1"
#: The JSON Schema file of ``vinylmon.report/1``.
SCHEMA_PATH = Path(__file__).with_name("report_schema.json")
#: Probabilities must sum to 1 within this.
PROB_SUM_TOLERANCE = 1e-3
#: A problem message quoting a value is cut to this many characters.
MAX_MESSAGE_CHARS = 240
#: :func:`validate_report` quotes at most this many problems in its error.
MAX_QUOTED_PROBLEMS = 20


def load_schema() -> dict:
    """The JSON Schema of ``vinylmon.report/1``.

    Returns
    -------
    dict
        A fresh copy, parsed from :data:`SCHEMA_PATH`: callers may change it.
    """
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    try:
        import jsonschema
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("checking a report needs jsonschema>=4.18 "
                          "(a development dependency: pip install -e '.[dev]')") from exc
    return jsonschema.Draft202012Validator(load_schema())


def _short(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS - 3] + "..."


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _items(report: Mapping, key: str) -> Iterator[tuple[int, Mapping]]:
    """``(index, item)`` for the object items of the list ``report[key]``."""
    seq = report.get(key)
    if not isinstance(seq, list):
        return
    for i, item in enumerate(seq):
        if isinstance(item, Mapping):
            yield i, item


def _non_finite(value: object, path: str) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{path}: {value} is not a finite number (JSON has no NaN or Infinity)"
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _non_finite(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{path}[{i}]")


def _prob_sum(probs: object, path: str) -> Iterator[str]:
    if not isinstance(probs, Mapping) or not probs:
        return
    values = list(probs.values())
    if not all(_is_number(v) and math.isfinite(v) for v in values):
        return  # the schema or the finite check reports it
    total = math.fsum(values)
    if abs(total - 1.0) > PROB_SUM_TOLERANCE:
        yield f"{path}: probabilities sum to {total:.6g}, not 1 (tolerance {PROB_SUM_TOLERANCE:g})"


def _spans(report: Mapping, key: str) -> Iterator[str]:
    """``end_s >= start_s`` for each item, and items in order of ``start_s``."""
    previous: tuple[int, float] | None = None
    for i, item in _items(report, key):
        start, end = item.get("start_s"), item.get("end_s")
        if not (_is_number(start) and math.isfinite(start)):
            continue
        if _is_number(end) and end < start:
            yield f"$.{key}[{i}]: end_s {end!r} is before start_s {start!r}"
        if previous is not None and start < previous[1]:
            yield (f"$.{key}[{i}].start_s: {start!r} is before $.{key}[{previous[0]}].start_s "
                   f"{previous[1]!r} ({key} must be in order of start_s)")
        previous = (i, start)


def _scratch_links(report: Mapping) -> Iterator[str]:
    ids: dict[int, int] = {}
    for i, scratch in _items(report, "scratches"):
        sid = scratch.get("id")
        if isinstance(sid, int) and not isinstance(sid, bool):
            if sid in ids:
                yield f"$.scratches[{i}].id: {sid} is also the id of $.scratches[{ids[sid]}]"
            else:
                ids[sid] = i
        first, last = scratch.get("first_s"), scratch.get("last_s")
        if _is_number(first) and _is_number(last) and last < first:
            yield f"$.scratches[{i}]: last_s {last!r} is before first_s {first!r}"
    for i, event in _items(report, "events"):
        sid = event.get("scratch_id")
        if isinstance(sid, int) and not isinstance(sid, bool) and sid not in ids:
            yield f"$.events[{i}].scratch_id: {sid} names no scratch in $.scratches"
        if event.get("kind") == "scratch" and sid is None:
            yield (f"$.events[{i}]: a scratch tick must name its scratch "
                   "(scratch_id is null)")


def _channels(report: Mapping) -> Iterator[str]:
    channels = report.get("channels")
    if not (isinstance(channels, int) and not isinstance(channels, bool)) or channels < 1:
        return
    for i, event in _items(report, "events"):
        ch = event.get("channel")
        if isinstance(ch, int) and not isinstance(ch, bool) and ch >= channels:
            yield (f"$.events[{i}].channel: {ch} is not a channel of a "
                   f"{channels}-channel recording (0-based)")


def _error_order(error: Any) -> tuple:
    """Errors in document order: list indices numerically, then by message."""
    path = [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]
    return path, error.message


def report_problems(report: dict) -> list[str]:
    """Everything in which ``report`` departs from ``vinylmon.report/1``.

    Parameters
    ----------
    report : dict
        A report as parsed from JSON (or built for writing).

    Returns
    -------
    list of str
        Human-readable problems, each starting with the JSON path it is about
        (``$`` is the report, e.g. ``$.events[3].kind``); empty when the report is
        valid. First the schema's findings in path order, then these checks:
        no NaN or infinity anywhere; ``summary.grade_probs`` and each window's
        ``grade_probs`` and ``defect_probs`` sum to 1 within
        :data:`PROB_SUM_TOLERANCE`; events and windows in order of ``start_s``,
        each with ``end_s >= start_s``; scratch ids unique, ``last_s >= first_s``;
        every non-null ``scratch_id`` names a scratch, and every ``scratch`` event
        names one; event channels below ``channels``.

    Raises
    ------
    ImportError
        When ``jsonschema`` is not installed.
    """
    errors = sorted(_validator().iter_errors(report), key=_error_order)
    problems = [_short(f"{e.json_path}: {e.message}") for e in errors]
    if not isinstance(report, Mapping):
        return problems
    problems.extend(_short(p) for p in _non_finite(report, "$"))
    summary = report.get("summary")
    if isinstance(summary, Mapping):
        problems.extend(_prob_sum(summary.get("grade_probs"), "$.summary.grade_probs"))
    for i, window in _items(report, "windows"):
        for key in ("grade_probs", "defect_probs"):
            problems.extend(_prob_sum(window.get(key), f"$.windows[{i}].{key}"))
    problems.extend(_spans(report, "events"))
    problems.extend(_spans(report, "windows"))
    problems.extend(_scratch_links(report))
    problems.extend(_channels(report))
    return problems


def validate_report(report: dict) -> None:
    """Raise unless ``report`` follows ``vinylmon.report/1``.

    Parameters
    ----------
    report : dict

    Raises
    ------
    ReportError
        With the problems of :func:`report_problems` joined by ``"; "`` (at most
        :data:`MAX_QUOTED_PROBLEMS` of them, then how many more there are).
    ImportError
        When ``jsonschema`` is not installed.
    """
    problems = report_problems(report)
    if not problems:
        return
    quoted = problems[:MAX_QUOTED_PROBLEMS]
    if len(problems) > len(quoted):
        quoted.append(f"and {len(problems) - len(quoted)} more problems")
    raise ReportError("; ".join(quoted))

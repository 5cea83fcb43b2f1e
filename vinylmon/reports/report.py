"""The JSON report of a side (``vinylmon.report/1``, ../shared/spec/REPORT.md).

:func:`build_report` turns a session's state and windows into the exact shape of
REPORT.md (plus a few extra keys, which the contract allows: ``vinylmon``,
``scope``, ``record`` (the artist, title and side the user named), ``summary.confidence``,
``summary.dropped_windows``, ``summary.notes`` (e.g. the shellac note of a 78),
``scratches[].rpm`` and ``scratches[].peak_db``, ``windows[].level_db``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from vinylmon import __version__
from vinylmon.engine.session import SessionState
from vinylmon.errors import AudioDataError, ReportError
from vinylmon.grading.events import WINDOW_CLASSES, AnalysedWindow
from vinylmon.grading.fusion import CLICK_ERROR_FROM_PER_MIN, CRACKLE_FLOOR_PER_S
from vinylmon.grading.measured import GROOVE_BELOW_DB
from vinylmon.grading.names import SHELLAC_NOTE, is_shellac
from vinylmon.grading.rubric import GRADES

SCHEMA = "vinylmon.report/1"
SCOPE = ("Audio only: Goldmine's visual criteria (sleeve, label, visible marks) "
         "are not graded.")


def _num(x: float, digits: int = 6) -> float | None:
    return round(float(x), digits) if x is not None and math.isfinite(x) else None


def _probs(names: Sequence[str], values: Sequence[float] | None) -> dict | None:
    if values is None:
        return None
    total = sum(values)
    return {n: round(v / total, 6) for n, v in zip(names, values, strict=True)}


def record_info(record: Mapping | None) -> dict[str, str]:
    """The ``record`` key of a report: ``record``'s non-empty values, stripped.

    Parameters
    ----------
    record : mapping or None
        e.g. ``{"artist": ..., "title": ..., "side": ...}``; None values are left out.

    Raises
    ------
    ReportError
        A key or value that is not text.
    """
    if record is None:
        return {}
    if not isinstance(record, Mapping):
        raise ReportError(f"record must be a mapping of text, got {type(record).__name__}")
    out = {}
    for key, value in record.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise ReportError(f"record[{key!r}] must be text, got {type(value).__name__}")
        if value is not None and value.strip():
            out[key] = value.strip()
    return out


def notes_of(rpm: float | None) -> list[str]:
    """What a reader must know beside the grade (``summary.notes``): the shellac note
    of a 78 (:data:`~vinylmon.grading.names.SHELLAC_NOTE`)."""
    return [SHELLAC_NOTE] if is_shellac(rpm) else []


def build_report(state: SessionState, windows: Sequence[AnalysedWindow], *, input_name: str,
                 sample_rate: int, channels: int, duration_s: float, models: dict,
                 record: Mapping | None = None, notes: Sequence[str] = (),
                 crackle_method: str | None = None) -> dict:
    """The report dict of REPORT.md.

    Parameters
    ----------
    state : SessionState
    windows : sequence of AnalysedWindow
        Every window heard, silent ones included, in order.
    input_name : str, keyword-only
        The file name (or a description of the live input).
    sample_rate, channels : int, keyword-only
        Of the input.
    duration_s : float, keyword-only
    models : dict, keyword-only
        ``detector``, ``grader`` (NAME@VERSION or None) and ``device``.
    record : mapping or None, keyword-only
        The record as the user named it (``artist``, ``title``, ``side``): its
        non-empty values become the extra key ``record`` (none: no key).
    notes : sequence of str, keyword-only
        More for ``summary.notes`` beside the shellac note (e.g. that the file was
        truncated and the grade covers only what it holds).
    crackle_method : str or None, keyword-only
        How k was measured, in plain words (the engine's ``crackle_method``), for
        ``summary.methods``; None: said from the windows.

    Raises
    ------
    ReportError
        A ``record`` key or value that is not text.
    AudioDataError
        When nothing was graded (the audio is silent throughout).
    """
    named = record_info(record)
    g = state.grade
    if g is None:
        raise AudioDataError(f"{input_name}: nothing to grade, the audio is silent throughout "
                             f"({state.heard_s:.1f} s heard)")
    q = g.quantities
    summary = {
        "grade": g.grade,
        "grade_probs": _probs(GRADES, g.grade_probs),
        "confidence": _num(g.confidence, 4),
        "limited_by": g.limited_by,
        "reasons": list(g.reasons),
        "measured": {
            "clicks_per_min": _num(q.clicks_per_min, 3),
            "crackle_per_s": _num(q.crackle_per_s, 3),
            "surface_noise_db": _num(q.surface_noise_db, 2),
            "scratches": q.scratches,
            "skips": q.skips,
            "analysed_s": _num(state.analysed_s, 3),
        },
        "methods": methods(windows, state.analysed_s,
                           false_clicks_per_min=state.false_clicks_per_min,
                           noise_sd_db=state.noise_sd_db,
                           crackle_sd_log=state.crackle_sd_log,
                           click_sd_log=state.click_sd_log,
                           crackle_method=crackle_method,
                           groove_s=state.groove_s,
                           clicks_learned=state.clicks_learned),
        "clicks_include_masked": bool(state.clicks_learned),
        "learned_grade": g.learned_grade,
        "measured_grade": g.measured_grade,
        "learned_grade_probs": _probs(GRADES, g.learned_probs),
        "learned_weight": _num(state.learned_weight if g.learned_probs is not None else 0.0, 4),
        "dropped_windows": state.dropped_windows,
    }
    notes = notes_of(state.rpm) + [str(n) for n in notes]
    if notes:
        summary["notes"] = notes
    return {
        "schema": SCHEMA,
        "vinylmon": __version__,
        "scope": SCOPE,
        **({"record": named} if named else {}),
        "input": input_name,
        "sample_rate": int(sample_rate),
        "channels": int(channels),
        "duration_s": _num(duration_s, 4),
        "rpm": _num(state.rpm, 3),
        "program_level_dbfs": _num(state.program_level_db, 2),
        "models": dict(models),
        "events": [{"kind": e.kind, "start_s": _num(e.start_s), "end_s": _num(e.end_s),
                    "channel": e.channel, "peak_db": _num(e.peak_db, 2),
                    "confidence": _num(e.confidence, 4), "scratch_id": e.scratch_id}
                   for e in state.events],
        "scratches": [{"id": s.id, "period_s": _num(s.period_s, 4), "first_s": _num(s.first_s),
                       "last_s": _num(s.last_s), "count": s.count,
                       "confidence": _num(s.confidence, 4), "rpm": _num(s.rpm, 3),
                       "peak_db": _num(s.peak_db, 2)} for s in state.scratches],
        "skips": [{"start_s": _num(r.start_s, 3), "end_s": _num(r.end_s, 3),
                   "period_s": _num(r.period_s, 4), "similarity": _num(r.similarity, 4)}
                  for r in state.skips],
        "windows": [{"start_s": _num(w.start_s), "end_s": _num(w.end_s), "silent": w.silent,
                     "level_db": _num(w.level_db, 2),
                     "defect_probs": _probs(WINDOW_CLASSES, w.defect_probs),
                     "grade_probs": _probs(GRADES, w.grade_probs)} for w in windows],
        "summary": summary,
    }


def _factor_note(sd_log: float, on: str) -> str:
    """How far a rate measured with a log-normal error of ``sd_log`` (on ``on``) errs,
    for :func:`methods` ("" when unknown)."""
    return (f"; it errs on validation music by a factor of about {math.exp(sd_log):.1f} "
            f"(on {on}), and the grade's probabilities allow for it" if sd_log > 0 else "")


def methods(windows: Sequence[AnalysedWindow], analysed_s: float, *,
            false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
            crackle_sd_log: float = 0.0, crackle_method: str | None = None,
            groove_s: float = 0.0, clicks_learned: bool = False,
            click_sd_log: float = 0.0) -> dict:
    """How each measured quantity was measured, and on how much audio (plain words);
    ``crackle_method``: how k was, when the caller knows (else said from the windows);
    ``groove_s``: the seconds of the groove alone n and k were read on (0: none);
    ``clicks_learned``: c holds the models' click counts of the windows that show clicks;
    ``click_sd_log``: the spread of c's error on validation music (0: unknown)."""
    live = [w for w in windows if not w.silent]
    on = f"over {analysed_s:.1f} s of non-silent audio ({len(live)} windows)"
    density = bool(live) and all(w.crackle_per_s is not None for w in live)
    net = (f", less the {false_clicks_per_min:.2g} per minute the detector finds on clean "
           "music" if false_clicks_per_min > 0 else "")
    spread = _factor_note(crackle_sd_log, f"k + {CRACKLE_FLOOR_PER_S:g}/s")
    if groove_s > 0:
        crackle = ("the ticks counted one by one in the groove heard alone (lead-in, gaps "
                   "between tracks, run-out), where no music masks them: impulses standing "
                   "15.6 dB or more over its bed, with peak < L - 10 dB, "
                   f"over {groove_s:.1f} s of it")
    elif crackle_method is not None:
        crackle = f"{crackle_method}, averaged {on}{spread}"
    elif density:
        crackle = ("crackle density estimated per window by the models (learned from "
                   "exact simulated counts, so it includes the crackle the music masks "
                   f"tick by tick), averaged {on}{spread}")
    else:
        crackle = ("detected impulses with peak < L - 10 dB, each heard as a tick of its "
                   "own (crackle the music masks tick by tick is not counted), "
                   f"counted {on}")
    sd = (f"; its error on validation music spreads +-{noise_sd_db:.1f} dB, and the grade's "
          "probabilities allow for it" if noise_sd_db > 0 else "")
    if groove_s > 0:
        noise = ("the level of the groove heard alone (lead-in, gaps between tracks, "
                 f"run-out: steady audio {GROOVE_BELOW_DB:g} dB or more under the music), "
                 "crackle left out, "
                 f"read on {groove_s:.1f} s of it"
                 + (f"; the grade's probabilities allow +-{noise_sd_db:.1f} dB"
                    if noise_sd_db > 0 else ""))
    else:
        noise = ("the models' estimate of the noise bed per window, read where the music "
                 f"leaks least (the quietest-reading quarter of the audio), {on}{sd}")
    c_spread = _factor_note(click_sd_log,
                            f"c + 1/min, where c >= {CLICK_ERROR_FROM_PER_MIN:g}/min")
    raised = ("; in the windows that hold one or more of them, the models' click count "
              "for the window where it is higher (learned from exact simulated counts, so it "
              "includes the clicks the music masks one by one)" if clicks_learned else "")
    clicks = ("detected impulses (clicks, pops, scratch ticks) with peak "
              f">= L - 10 dB, counted {on}{raised}{net}{c_spread}")
    return {
        "clicks_per_min": clicks,
        "crackle_per_s": crackle,
        "surface_noise_db": noise,
        "scratches": "trains of impulses one revolution apart (+-3 %) for >= 3 revolutions, "
                     f"kept only when unlikely to line up by chance, {on}",
    }


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write ``report`` as JSON, atomically (a half-written report never lands)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p

"""One self-contained HTML page of a ``vinylmon.report/1`` report, for a record listing.

The page needs nothing beyond itself: no scripts, no fonts, no links to fetch. Its
pictures are inline SVG; the spectrogram is a PNG this module encodes itself
(zlib and struct) and embeds as a ``data:`` URI. Only numpy and the standard
library are used. Every text taken from the report is escaped, and only the file
name of ``input`` is shown, never the folder it was in.

What it shows: the grade with its probabilities, reasons and limiting criterion
(both grades side by side when the learned grader and the measured rubric
disagree), the measured quantities against the rubric of GRADING.md, the scope
of an audio-only grade, the recording and the models, a spectrogram (optional),
a timeline of every event, and a table of the events.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

from vinylmon.grading.rubric import (
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    VG_SCRATCH_PEAK_DB,
    Quantities,
    grade_quantities,
)
from vinylmon.reports.schema import SCHEMA_ID, load_schema

#: The scope of the grade, shown on every page (GRADING.md).
SCOPE_LINE = "Audio only: Goldmine's visual criteria (sleeve, label, visible marks) are not graded."
#: The event table lists at most this many events (the first, by time).
MAX_TABLE_EVENTS = 500
#: The timeline draws at most this many repeating scratches, and this many skips.
MAX_DRAWN_SCRATCHES = 100
MAX_DRAWN_SKIPS = 200
#: A larger spectrogram is reduced to this many columns / rows (maximum of each group).
MAX_SPEC_COLUMNS = 2000
MAX_SPEC_ROWS = 512
#: The spectrogram shows this many dB below its maximum.
SPEC_RANGE_DB = 80.0
#: Timeline tick heights run over this range of peak level (dB re L).
PEAK_RANGE_DB = (-40.0, 20.0)

GRADE_NAMES = {"NM": "Near Mint", "VG+": "Very Good Plus", "VG": "Very Good",
               "G+": "Good Plus", "G": "Good", "F": "Fair / Poor"}
#: Badge background and text colour per grade.
GRADE_COLOURS = {"NM": ("#1a7f37", "#ffffff"), "VG+": ("#4d9a2a", "#ffffff"),
                 "VG": ("#a3c43b", "#111111"), "G+": ("#f0b429", "#111111"),
                 "G": ("#e36b2c", "#ffffff"), "F": ("#c0392b", "#ffffff")}
#: Event kinds in drawing order (the last is drawn on top) and their colours.
KIND_COLOURS = {"crackle": "#17a2b8", "click": "#1f5fbf", "pop": "#8e44ad",
                "scratch": "#d62728"}
SKIP_COLOUR = "#111111"
#: magma at 0, 1/8, ..., 1 (8-bit sRGB): dark is quiet, light is loud.
_MAGMA = np.array([(0, 0, 4), (29, 17, 71), (81, 18, 124), (131, 38, 129), (183, 55, 121),
                   (231, 82, 99), (252, 137, 97), (254, 196, 136), (252, 253, 191)], float)
_LUT = np.stack([np.interp(np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(_MAGMA)),
                           _MAGMA[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)
_TIME_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
               300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 18000.0, 36000.0)
_CRITERIA_ROWS = (("clicks_per_min", "c", "clicks per minute"),
                  ("crackle_per_s", "k", "crackle per second"),
                  ("surface_noise_db", "n", "surface noise (dB re program level L)"),
                  ("scratches", "s", "repeating scratches"),
                  ("skips", "x", "skips / repeats"))
# Picture geometry (SVG user units = CSS px at full width).
_X0 = 64.0
_PLOT_W = 880.0
_SVG_W = _X0 + _PLOT_W + 16.0


# --------------------------------------------------------------------------- formatting


def _is_number(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _finite(x: object) -> bool:
    return _is_number(x) and math.isfinite(float(x))


def _num(x: object, spec: str, unit: str = "") -> str:
    """``x`` formatted, or a dash for None, or its text when it is no number."""
    if x is None:
        return "–"
    if _finite(x):
        try:
            return format(x, spec) + unit
        except (TypeError, ValueError):  # e.g. an integer format for 2.5
            return f"{x}{unit}"
    return str(x)


def _mmss(t: float) -> str:
    minutes, seconds = divmod(int(round(max(float(t), 0.0))), 60)
    return f"{minutes}:{seconds:02d}"


def _mmss_ms(t: object) -> str:
    if not _finite(t):
        return str(t)
    total_ms = int(round(max(float(t), 0.0) * 1000.0))
    minutes, ms = divmod(total_ms, 60_000)
    return f"{minutes:02d}:{ms / 1000.0:06.3f}"


def _tick_label(t: float, step: float) -> str:
    if step >= 1.0:
        return _mmss(t)
    decimals = 1 if step >= 0.1 else 2
    minutes, seconds = divmod(round(t, decimals), 60.0)
    return f"{int(minutes)}:{seconds:0{3 + decimals}.{decimals}f}"


def _hz(f: float) -> str:
    return f"{f / 1000.0:.3g} kHz" if f >= 1000.0 else f"{f:.0f} Hz"


def _file_name(path: object) -> str:
    """The last part of a path (either slash): the page does not show folders."""
    text = str(path)
    name = re.split(r"[\\/]", text.rstrip("\\/"))[-1]
    return name or text


def _channel_label(channel: object, channels: int) -> str:
    if channel is None:
        return "mono" if channels == 1 else ("both" if channels == 2 else "all")
    if isinstance(channel, int) and not isinstance(channel, bool):
        if channels == 1 and channel == 0:
            return "mono"
        if channels == 2 and channel in (0, 1):
            return "LR"[channel]
        return f"ch {channel + 1}"
    return str(channel)


def _svg_text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11,
              fill: str = "#333") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}">{escape(text)}</text>')


def _time_axis(y: float, duration: float) -> list[str]:
    """An m:ss axis from 0 to ``duration`` along the plot width at height ``y``."""
    step = next((s for s in _TIME_STEPS if duration / s <= 10.0), _TIME_STEPS[-1])
    out = [f'<line x1="{_X0:.1f}" y1="{y:.1f}" x2="{_X0 + _PLOT_W:.1f}" y2="{y:.1f}" '
           'stroke="#555"/>']
    n = int(math.floor(duration / step + 1e-9))
    for i in range(n + 1):
        t = i * step
        x = _X0 + _PLOT_W * t / duration
        out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" '
                   'stroke="#555"/>')
        out.append(_svg_text(x, y + 16, _tick_label(t, step)))
    return out


# --------------------------------------------------------------------------- spectrogram


def _encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (shape (height, width, 3), uint8), no filtering."""
    height, width, _ = rgb.shape
    raw = np.zeros((height, 1 + 3 * width), np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = rgb.reshape(height, 3 * width)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def _check_spectrogram(db: object, freqs: object, hop: object
                       ) -> tuple[np.ndarray, np.ndarray, float] | None:
    if db is None:
        if freqs is not None or hop is not None:
            raise ValueError("spectrogram_freqs_hz and spectrogram_hop_s were given "
                             "without spectrogram_db")
        return None
    a = np.asarray(db)
    if a.ndim != 2:
        raise ValueError(f"spectrogram_db must be 2-D (bins, columns); got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"spectrogram_db is empty (shape {a.shape})")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"spectrogram_db must hold real dB values; got dtype {a.dtype}")
    if freqs is None or hop is None:
        raise ValueError("spectrogram_db needs spectrogram_freqs_hz (one per row) and "
                         "spectrogram_hop_s (seconds between columns)")
    f = np.asarray(freqs)
    if f.dtype.kind not in "fiu" or f.ndim != 1 or len(f) != a.shape[0]:
        raise ValueError(f"spectrogram_freqs_hz must be {a.shape[0]} real numbers, one per "
                         f"row of spectrogram_db; got shape {f.shape}, dtype {f.dtype}")
    f = f.astype(np.float64)
    if not np.all(np.isfinite(f)):
        raise ValueError("spectrogram_freqs_hz holds NaN or infinity")
    d = np.diff(f)
    if len(f) > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("spectrogram_freqs_hz must be strictly increasing or decreasing")
    if not _finite(hop) or float(hop) <= 0:
        raise ValueError(f"spectrogram_hop_s must be a finite number > 0; got {hop!r}")
    return a, f, float(hop)


def _spectrogram_svg(a: np.ndarray, freqs: np.ndarray, hop_s: float) -> str:
    rows, cols = a.shape
    extent_s = cols * hop_s
    a = a.astype(np.float32, copy=False)
    # Reduce a large array to groups, keeping each group's loudest value (fmax skips NaN).
    col_step = math.ceil(cols / MAX_SPEC_COLUMNS)
    if col_step > 1:
        a = np.fmax.reduceat(a, np.arange(0, cols, col_step), axis=1)
    row_step = math.ceil(rows / MAX_SPEC_ROWS)
    if row_step > 1:
        starts = np.arange(0, rows, row_step)
        a = np.fmax.reduceat(a, starts, axis=0)
        freqs = np.add.reduceat(freqs, starts) / np.diff(np.append(starts, rows))
    finite = np.isfinite(a)
    top = float(a[finite].max()) if finite.any() else 0.0
    floor = top - SPEC_RANGE_DB
    v = np.clip(np.where(np.isnan(a), floor, a), floor, top)  # -inf: floor, +inf: top
    index = np.rint((v - floor) * (255.0 / SPEC_RANGE_DB)).astype(np.uint8)
    ascending = len(freqs) < 2 or freqs[1] > freqs[0]
    if ascending:  # low frequencies at the bottom of the picture
        index = index[::-1]
    png = _encode_png(_LUT[index])
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    top_y, height = 8.0, 240.0
    n_rows = index.shape[0]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SVG_W:.0f} '
           f'{top_y + height + 40:.0f}" width="100%" role="img" '
           'aria-label="spectrogram"><title>Spectrogram</title>',
           f'<image x="{_X0:.1f}" y="{top_y:.1f}" width="{_PLOT_W:.1f}" height="{height:.1f}" '
           f'preserveAspectRatio="none" href="{uri}"/>',
           f'<rect x="{_X0:.1f}" y="{top_y:.1f}" width="{_PLOT_W:.1f}" height="{height:.1f}" '
           'fill="none" stroke="#555"/>']
    for j in sorted({int(round(x)) for x in np.linspace(0, n_rows - 1, min(5, n_rows))}):
        shown = n_rows - 1 - j if ascending else j  # picture row of frequency row j
        y = top_y + (shown + 0.5) * height / n_rows
        out.append(f'<line x1="{_X0 - 4:.1f}" y1="{y:.1f}" x2="{_X0:.1f}" y2="{y:.1f}" '
                   'stroke="#555"/>')
        out.append(_svg_text(_X0 - 6, y + 4, _hz(float(freqs[j])), anchor="end", size=10))
    out.extend(_time_axis(top_y + height, extent_s))
    out.append("</svg>")
    caption = (f"Spectrogram, {cols} columns {hop_s * 1000:.4g} ms apart; colour shows the "
               f"top {SPEC_RANGE_DB:g} dB (dark: {floor:.0f} dB, light: {top:.0f} dB).")
    return ('<figure class="picture">' + "".join(out)
            + f"<figcaption>{escape(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------- timeline


def _lane_names(channels: int) -> list[str]:
    if channels == 1:
        return ["mono"]
    names = ["L", "R"] if channels == 2 else [f"ch {c + 1}" for c in range(channels)]
    return names + ["both" if channels == 2 else "all"]


def _lane_of(channel: object, channels: int) -> int | None:
    if channel is None:
        return 0 if channels == 1 else channels
    if isinstance(channel, int) and not isinstance(channel, bool) and 0 <= channel < channels:
        return channel
    return None


def _silent_runs(windows: Sequence[Mapping], duration: float) -> list[tuple[float, float]]:
    """Silent windows merged into runs (gaps under a pixel closed)."""
    gap = duration / _PLOT_W
    runs: list[list[float]] = []
    for w in windows:
        start, end = w.get("start_s"), w.get("end_s")
        if w.get("silent") is not True or not (_finite(start) and _finite(end)):
            continue
        start, end = float(start), float(end)
        if runs and start <= runs[-1][1] + gap:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return [(a, b) for a, b in runs]


def _skips(report: Mapping) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the optional ``skips`` list (extra key), by time."""
    skips = report.get("skips")
    if not isinstance(skips, list):
        return []
    out = []
    for r in skips:
        if isinstance(r, Mapping) and _finite(r.get("start_s")):
            start = float(r["start_s"])
            end = float(r["end_s"]) if _finite(r.get("end_s")) else start
            out.append((start, max(start, end)))
    return sorted(out)


def _timeline_svg(report: Mapping, duration: float, channels: int) -> str:
    events, scratches = report["events"], report["scratches"]
    lanes = _lane_names(channels)
    kinds = list(KIND_COLOURS)
    lane_h, gap = 34.0, 4.0
    top = 6.0
    lane_y = [top + i * (lane_h + gap) for i in range(len(lanes))]
    scratch_list = [s for s in scratches if isinstance(s, Mapping)
                    and _finite(s.get("first_s")) and _finite(s.get("last_s"))]
    scratch_list.sort(key=lambda s: float(s["first_s"]))
    drawn = scratch_list[:MAX_DRAWN_SCRATCHES]
    # Pack scratch bars (with their labels) into at most 4 rows.
    row_ends: list[float] = []
    placed: list[tuple[Mapping, int, float, float, str]] = []
    for s in drawn:
        x1 = _X0 + _PLOT_W * min(max(float(s["first_s"]) / duration, 0.0), 1.0)
        x2 = max(_X0 + _PLOT_W * min(max(float(s["last_s"]) / duration, 0.0), 1.0), x1 + 2.0)
        label = f"#{s.get('id')} every {_num(s.get('period_s'), '.2f', ' s')} ×{s.get('count')}"
        right = max(x2, x1 + 6.0 * len(label))
        row = next((r for r, end in enumerate(row_ends) if end + 4.0 <= x1), None)
        if row is None:
            if len(row_ends) < 4:
                row = len(row_ends)
                row_ends.append(right)
            else:
                row = int(np.argmin(row_ends))
        row_ends[row] = max(row_ends[row], right)
        placed.append((s, row, x1, x2, label))
    scratch_y = top + len(lanes) * (lane_h + gap)
    scratch_h = 22.0 * max(1, len(row_ends)) + 4.0
    axis_y = scratch_y + scratch_h
    total_h = axis_y + 26.0

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SVG_W:.0f} {total_h:.0f}" '
           'width="100%" role="img" aria-label="timeline of events">'
           "<title>Timeline of events</title>"]
    for a, b in _silent_runs(report["windows"], duration):
        x1 = _X0 + _PLOT_W * min(max(a / duration, 0.0), 1.0)
        x2 = _X0 + _PLOT_W * min(max(b / duration, 0.0), 1.0)
        out.append(f'<rect x="{x1:.1f}" y="{top:.1f}" width="{max(x2 - x1, 0.5):.1f}" '
                   f'height="{axis_y - top:.1f}" fill="#bbbbbb" fill-opacity="0.45">'
                   f"<title>silent {escape(_mmss_ms(a))} – {escape(_mmss_ms(b))}</title></rect>")
    for name, y in zip(lanes, lane_y, strict=True):
        out.append(f'<rect x="{_X0:.1f}" y="{y:.1f}" width="{_PLOT_W:.1f}" height="{lane_h:.1f}" '
                   'fill="none" stroke="#ccc"/>')
        out.append(_svg_text(_X0 - 8, y + lane_h / 2 + 4, name, anchor="end"))
    out.append(f'<rect x="{_X0:.1f}" y="{scratch_y:.1f}" width="{_PLOT_W:.1f}" '
               f'height="{scratch_h - 4:.1f}" fill="none" stroke="#ccc"/>')
    out.append(_svg_text(_X0 - 8, scratch_y + 15, "scratch", anchor="end"))

    # Events: one tick per (lane, kind, pixel column) at the loudest peak there, one
    # path per lane and kind, so the picture stays small for any number of events.
    n_bins = int(_PLOT_W)
    lo, hi = PEAK_RANGE_DB
    loudest = np.full((len(lanes), len(kinds), n_bins), -np.inf)
    counts = np.zeros((len(lanes), len(kinds)), np.int64)
    for e in events:
        if not isinstance(e, Mapping) or not _finite(e.get("start_s")):
            continue
        kind, lane = e.get("kind"), _lane_of(e.get("channel"), channels)
        if kind not in KIND_COLOURS or lane is None:
            continue
        k = kinds.index(kind)
        b = min(max(int(float(e["start_s"]) / duration * n_bins), 0), n_bins - 1)
        peak = float(e["peak_db"]) if _finite(e.get("peak_db")) else lo
        loudest[lane, k, b] = max(loudest[lane, k, b], peak)
        counts[lane, k] += 1
    for k, kind in enumerate(kinds):
        for lane, y in enumerate(lane_y):
            bins = np.flatnonzero(np.isfinite(loudest[lane, k]))
            if len(bins) == 0:
                continue
            level = np.clip((loudest[lane, k, bins] - lo) / (hi - lo), 0.0, 1.0)
            y_tops = y + lane_h - lane_h * (0.15 + 0.85 * level)
            d = "".join(f"M{_X0 + b + 0.5:.1f} {y + lane_h:.1f}V{yt:.1f}"
                        for b, yt in zip(bins.tolist(), y_tops.tolist(), strict=True))
            out.append(f'<path d="{d}" stroke="{KIND_COLOURS[kind]}" stroke-width="1.2" '
                       f'fill="none"><title>{escape(kind)}, {escape(lanes[lane])}: '
                       f"{int(counts[lane, k])} events</title></path>")
    for s, row, x1, x2, label in placed:
        y = scratch_y + 4.0 + 22.0 * row
        out.append(f'<rect x="{x1:.1f}" y="{y:.1f}" width="{x2 - x1:.1f}" height="6" '
                   f'fill="{KIND_COLOURS["scratch"]}"><title>{escape(label)}: '
                   f"{escape(_mmss_ms(s['first_s']))} – {escape(_mmss_ms(s['last_s']))}"
                   "</title></rect>")
        out.append(_svg_text(x1, y + 17, label, anchor="start", size=10))
    skips = _skips(report)
    for a, b in skips[:MAX_DRAWN_SKIPS]:
        x1 = _X0 + _PLOT_W * min(max(a / duration, 0.0), 1.0)
        x2 = _X0 + _PLOT_W * min(max(b / duration, 0.0), 1.0)
        out.append(f'<rect x="{x1:.1f}" y="{top:.1f}" width="{max(x2 - x1, 1.5):.1f}" '
                   f'height="{axis_y - top:.1f}" fill="{SKIP_COLOUR}" fill-opacity="0.7">'
                   f"<title>skip / repeat {escape(_mmss_ms(a))} – {escape(_mmss_ms(b))}"
                   "</title></rect>")
    out.extend(_time_axis(axis_y, duration))
    out.append("</svg>")

    legend = " ".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>'
        f"{escape(kind)} {int(counts[:, k].sum())}</span>"
        for k, (kind, colour) in enumerate(KIND_COLOURS.items()))
    legend += ('<span class="key"><span class="swatch" style="background:#bbbbbb"></span>'
               "silent</span>")
    if skips:
        legend += (f'<span class="key"><span class="swatch" style="background:{SKIP_COLOUR}">'
                   f"</span>skip / repeat {len(skips)}</span>")
    note = ""
    if len(skips) > MAX_DRAWN_SKIPS:
        note += f" The first {MAX_DRAWN_SKIPS} of {len(skips)} skips are drawn."
    if len(scratch_list) > len(drawn):
        note += (f" The first {len(drawn)} of {len(scratch_list)} repeating scratches are "
                "drawn.")
    caption = (f"Each event is a tick at its start, in the lane of its channel; tick height is "
               f"its peak ({lo:g} to {hi:+g} dB re L).{note}")
    return (f'<figure class="picture">{"".join(out)}<figcaption><div class="legend">{legend}'
            f"</div>{escape(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------- sections


def _badge(grade: object, *, big: bool) -> str:
    g = str(grade)
    bg, fg = GRADE_COLOURS.get(g, ("#777777", "#ffffff"))
    cls = "badge big" if big else "badge"
    return (f'<div class="{cls}" style="background:{bg};color:{fg}">{escape(g)}'
            f'<span class="name">{escape(GRADE_NAMES.get(g, ""))}</span></div>')


def _grade_section(report: Mapping) -> str:
    summary = report["summary"]
    grade = summary["grade"]
    parts = ['<section class="grade-box">', _badge(grade, big=True), '<div class="why">']
    limited_by = summary.get("limited_by")
    parts.append(f'<p class="limited">Limited by: <b>{escape(str(limited_by))}</b></p>'
                 if limited_by is not None else
                 '<p class="limited">Limited by: nothing (no criterion is worse than NM)</p>')
    reasons = summary.get("reasons") or []
    if reasons:
        parts.append('<ul class="reasons">'
                     + "".join(f"<li>{escape(str(r))}</li>" for r in reasons) + "</ul>")
    learned, measured = summary.get("learned_grade"), summary.get("measured_grade")
    grader = report["models"].get("grader")
    if learned is None and measured is not None:
        parts.append('<p class="agree">Learned grader: not run; the grade is the measured '
                     "rubric's.</p>")
    elif learned != measured:
        parts.append('<div class="versus">')
        for title, g, note in (("Learned grader", learned, grader),
                               ("Measured rubric", measured, "GRADING.md rubric v1")):
            body = (_badge(g, big=False) if g is not None
                    else '<div class="badge none">not run</div>')
            parts.append(f'<div class="card"><div class="card-title">{escape(title)}</div>{body}'
                         f'<div class="card-note">{escape(str(note or ""))}</div></div>')
        parts.append("</div>")
    elif learned is not None:
        parts.append(f'<p class="agree">The learned grader and the measured rubric agree: '
                     f"{escape(str(learned))}.</p>")
    parts.append("</div>")
    probs = summary.get("grade_probs")
    if isinstance(probs, Mapping):
        rows = []
        for g in GRADES:
            p = probs.get(g)
            if not _finite(p):
                continue
            width = min(max(float(p), 0.0), 1.0) * 100.0
            bg = GRADE_COLOURS[g][0]
            cls = ' class="chosen"' if g == grade else ""
            rows.append(f"<tr{cls}><th>{escape(g)}</th><td class=\"bar\"><span "
                        f'style="width:{width:.1f}%;background:{bg}"></span></td>'
                        f"<td>{float(p) * 100:.1f} %</td></tr>")
        parts.append('<table class="probs"><caption>Probability of each grade</caption>'
                     + "".join(rows) + "</table>")
    parts.append("</section>")
    return "".join(parts)


def _scratch_peak(report: Mapping) -> float | None:
    """Loudest known peak (dB re L) of the repeating scratches, None if unknown."""
    peaks = [float(s["peak_db"]) for s in report["scratches"]
             if isinstance(s, Mapping) and _finite(s.get("peak_db"))]
    ids = {s.get("id") for s in report["scratches"] if isinstance(s, Mapping)}
    peaks += [float(e["peak_db"]) for e in report["events"]
              if isinstance(e, Mapping) and e.get("scratch_id") in ids
              and e.get("scratch_id") is not None and _finite(e.get("peak_db"))]
    return max(peaks) if peaks else None


def _limit_text(criterion: str, grade: str) -> str:
    if grade not in GRADES:
        return "–"
    i = GRADES.index(grade)
    if criterion == "skips":
        return "any" if grade == "F" else "none"
    if criterion == "scratches":
        if i <= 1:
            return "none"
        if grade == "VG":
            return f"at most one, peak < L − {abs(VG_SCRATCH_PEAK_DB):g} dB"
        return "any"
    if grade == "F":
        return "anything worse"
    if criterion == "clicks_per_min":
        return f"< {CLICK_LIMITS[i]:g}"
    if criterion == "crackle_per_s":
        return f"< {CRACKLE_LIMITS[i]:g}"
    return f"≤ {NOISE_LIMITS[i]:g} dB"


def _per_criterion(report: Mapping) -> dict:
    """The best grade each measured quantity alone allows (rubric.py), or {}."""
    m = report["summary"]["measured"]
    try:
        noise = m.get("surface_noise_db")
        peak = _scratch_peak(report)
        q = Quantities(float(m["clicks_per_min"]), float(m["crackle_per_s"]),
                       float(noise) if _finite(noise) else -math.inf,
                       int(m["scratches"]), peak if peak is not None else 0.0,
                       int(m["skips"]), float(m["analysed_s"]))
        per = dict(grade_quantities(q).per_criterion)
    except (KeyError, TypeError, ValueError):
        return {}
    if not _finite(noise):
        per["surface_noise_db"] = "–"
    if peak is None and q.scratches == 1:
        per["scratches"] = "VG or G+"  # depends on the scratch's level, not in the report
    return per


def _measured_section(report: Mapping) -> str:
    summary = report["summary"]
    m, grade = summary["measured"], str(summary["grade"])
    better = GRADES[GRADES.index(grade) - 1] if grade in GRADES[1:] else None
    per = _per_criterion(report)
    values = {"clicks_per_min": _num(m.get("clicks_per_min"), ".2f"),
              "crackle_per_s": _num(m.get("crackle_per_s"), ".2f"),
              "surface_noise_db": ("unknown" if m.get("surface_noise_db") is None
                                   else _num(m.get("surface_noise_db"), ".1f", " dB")),
              "scratches": _num(m.get("scratches"), "d"),
              "skips": _num(m.get("skips"), "d")}
    head = ["", "quantity", "measured", "alone allows", f"limit for {grade}"]
    if better:
        head.append(f"needed for {better}")
    rows = ["<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for key, symbol, label in _CRITERIA_ROWS:
        cells = [symbol, label, values[key], str(per.get(key, "–")), _limit_text(key, grade)]
        if better:
            cells.append(_limit_text(key, better))
        cls = ' class="limit"' if key == summary.get("limited_by") else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    analysed = m.get("analysed_s")
    amount = (f"{_mmss(float(analysed))} (m:ss, {float(analysed):.1f} s) of non-silent audio"
              if _finite(analysed) else str(analysed))
    return ('<section><h2>Measured quantities</h2><table class="measured">' + "".join(rows)
            + f"</table><p>Measured on {escape(amount)}. Levels are relative to the program "
            "level L (the RMS of the music). The worst criterion decides the grade; a value "
            "exactly on a limit falls to the worse grade.</p></section>")


def _info_section(report: Mapping, duration: float) -> str:
    models = report["models"]
    rpm = report.get("rpm")
    items = [("File", _file_name(report["input"])),
             ("Duration", f"{_mmss(duration)} (m:ss)"),
             ("Sample rate", _num(report.get("sample_rate"), ",d", " Hz")),
             ("Channels", _num(report.get("channels"), "d")),
             ("Speed", _num(rpm, ".4g", " rpm") if rpm is not None else "not given / estimated"),
             ("Models", f"detector {models.get('detector') or '–'}, grader "
                        f"{models.get('grader') or 'none'}, device {models.get('device') or '–'}")]
    for key, title in (("created", "Created"), ("vinylmon", "vinylmon version")):
        if report.get(key) is not None:
            items.append((title, str(report[key])))
    return ('<section><h2>Recording</h2><dl class="info">'
            + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
            + "</dl></section>")


def _scratch_table(report: Mapping) -> str:
    scratches = [s for s in report["scratches"] if isinstance(s, Mapping)]
    if not scratches:
        return ""
    head = ["id", "period", "rpm", "first", "last", "revolutions", "confidence",
            "peak dB re L"]
    rows = ["<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for s in scratches:
        period = s.get("period_s")
        rpm = s.get("rpm", 60.0 / float(period) if _finite(period) and period > 0 else None)
        cells = [str(s.get("id")), _num(period, ".3f", " s"), _num(rpm, ".4g"),
                 _mmss_ms(s.get("first_s")), _mmss_ms(s.get("last_s")),
                 _num(s.get("count"), "d"), _num(s.get("confidence"), ".2f"),
                 _num(s.get("peak_db"), "+.1f")]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return ('<section><h2>Repeating scratches</h2><table class="events">' + "".join(rows)
            + "</table></section>")


def _event_table(report: Mapping, channels: int) -> str:
    events = [e for e in report["events"] if isinstance(e, Mapping)]
    if not events:
        return "<section><h2>Events</h2><p>No impulsive events were detected.</p></section>"
    order = sorted(range(len(events)), key=lambda i: (
        float(events[i]["start_s"]) if _finite(events[i].get("start_s")) else math.inf, i))
    shown = order[:MAX_TABLE_EVENTS]
    head = ["#", "time (mm:ss.mmm)", "length", "kind", "channel", "peak dB re L",
            "confidence", "scratch"]
    rows = ["<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for n, i in enumerate(shown, start=1):
        e = events[i]
        start, end = e.get("start_s"), e.get("end_s")
        length = (f"{(float(end) - float(start)) * 1000:.2f} ms"
                  if _finite(start) and _finite(end) else "–")
        scratch = e.get("scratch_id")
        cells = [str(n), _mmss_ms(start), length, str(e.get("kind")),
                 _channel_label(e.get("channel"), channels), _num(e.get("peak_db"), "+.1f"),
                 _num(e.get("confidence"), ".2f"), "–" if scratch is None else str(scratch)]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    left_out = len(events) - len(shown)
    note = (f"<p>The first {len(shown)} of {len(events)} events by time are listed; "
            f"{left_out} more are left out.</p>" if left_out else
            f"<p>All {len(events)} events, by time.</p>")
    return (f'<section><h2>Events</h2>{note}<table class="events">{"".join(rows)}</table>'
            "</section>")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#222;max-width:1000px;margin:1.5em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.5em;margin:0 0 .6em;overflow-wrap:anywhere}h2{font-size:1.15em;margin:1.4em 0 .4em}
.grade-box{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
.badge{display:inline-flex;flex-direction:column;align-items:center;justify-content:center;
border-radius:12px;font-weight:700;font-size:1.6em;min-width:3.5em;padding:.3em .5em}
.badge.big{font-size:4em;min-width:2.6em;padding:.15em .3em}
.badge .name{font-size:.22em;font-weight:600;letter-spacing:.04em;text-transform:uppercase}
.badge:not(.big) .name{font-size:.4em}.badge.none{background:#eee;color:#666;font-size:1em}
.why{flex:1 1 320px}.reasons{margin:.3em 0}.limited{margin:.2em 0}
.versus{display:flex;gap:1em;margin:.6em 0}.card{border:1px solid #ddd;border-radius:8px;
padding:.5em .8em;text-align:center}.card-title{font-weight:600}
.card-note{font-size:.8em;color:#666}
.probs{border-collapse:collapse;font-size:.9em;min-width:260px}.probs caption{text-align:left;
font-weight:600;padding-bottom:.2em}.probs th{text-align:left;padding:1px 6px 1px 0}
.probs td{padding:1px 4px}.probs td.bar{width:160px}.probs td.bar span{display:block;height:.8em;
border-radius:2px;min-width:1px}.probs tr.chosen th,.probs tr.chosen td{font-weight:700}
.scope{background:#fff6d8;border-left:4px solid #f0b429;padding:.4em .8em}
table.measured,table.events{border-collapse:collapse;font-size:.9em}
table.measured td,table.measured th,table.events td,table.events th{border-bottom:1px solid #e3e3e3;
padding:2px 8px;text-align:left}table.events td{font-variant-numeric:tabular-nums}
tr.limit td{background:#fde8e6;font-weight:600}
dl.info{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.info dt{font-weight:600}
dl.info dd{margin:0;overflow-wrap:anywhere}
figure.picture{margin:.5em 0}figcaption{font-size:.85em;color:#555}
.legend{display:flex;flex-wrap:wrap;gap:.9em;margin:.2em 0}.swatch{display:inline-block;
width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-.05em}
footer{margin-top:2em;font-size:.8em;color:#777}
@media print{body{margin:0}section,figure{break-inside:avoid}}
"""


def _check_report(report: object) -> None:
    if not isinstance(report, Mapping):
        raise ValueError(f"report must be a dict ({SCHEMA_ID}); got {type(report).__name__}")
    if report.get("schema") != SCHEMA_ID:
        raise ValueError(f"report schema is {report.get('schema')!r}, not {SCHEMA_ID!r}")
    schema = load_schema()
    missing = [k for k in schema["required"] if k not in report]
    summary = report.get("summary")
    if isinstance(summary, Mapping):
        missing += [f"summary.{k}" for k in schema["$defs"]["summary"]["required"]
                    if k not in summary]
    if missing:
        raise ValueError(f"report lacks required keys: {', '.join(missing)}")
    for key, kind in (("events", list), ("scratches", list), ("windows", list),
                      ("models", Mapping), ("summary", Mapping)):
        if not isinstance(report[key], kind):
            raise ValueError(f"report {key} must be a {'list' if kind is list else 'dict'}")
    if not isinstance(report["summary"]["measured"], Mapping):
        raise ValueError("report summary.measured must be a dict")
    channels = report["channels"]
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"report channels must be an integer >= 1; got {channels!r}")


def _duration(report: Mapping) -> float:
    """Seconds the timeline spans: ``duration_s``, or the last end seen when it is not > 0."""
    duration = report["duration_s"]
    if _finite(duration) and float(duration) > 0.0:
        return float(duration)
    ends = [float(x["end_s"]) for key in ("events", "windows") for x in report[key]
            if isinstance(x, Mapping) and _finite(x.get("end_s"))]
    return max([e for e in ends if e > 0.0], default=1.0)


def render_html(report: dict, *, spectrogram_db: np.ndarray | None = None,
                spectrogram_freqs_hz: np.ndarray | None = None,
                spectrogram_hop_s: float | None = None) -> str:
    """One self-contained HTML page of a report, for a record listing.

    Parameters
    ----------
    report : dict
        A ``vinylmon.report/1`` report (REPORT.md). Only the presence of the
        required keys is checked here; check a report from elsewhere with
        :func:`vinylmon.reports.schema.report_problems` first. Optional keys read
        when present: ``created`` and ``vinylmon`` (a time stamp and the version,
        shown with the recording), ``scratches[].peak_db`` (the scratch table and
        the rubric's scratch criterion), ``scratches[].rpm`` (the scratch table;
        60 / ``period_s`` when absent), ``skips`` (a list of objects with
        ``start_s`` and optionally ``end_s``: drawn on the timeline).
    spectrogram_db : array_like of shape (bins, columns), optional
        A spectrogram in dB; drawn with the top 80 dB in a magma colour map. NaN
        and -inf draw as the quietest colour, +inf as the loudest. Arrays over
        :data:`MAX_SPEC_COLUMNS` columns or :data:`MAX_SPEC_ROWS` rows are reduced
        to groups, keeping each group's loudest value.
    spectrogram_freqs_hz : array_like of shape (bins,), optional
        Frequency of each row, strictly increasing or decreasing; required with
        ``spectrogram_db``. Low frequencies are drawn at the bottom.
    spectrogram_hop_s : float, optional
        Seconds between columns; required with ``spectrogram_db``.

    Returns
    -------
    str
        The page, starting with ``<!doctype html>``. It uses no scripts and
        fetches nothing.

    Raises
    ------
    ValueError
        For a report without the required keys or with another ``schema``, a
        spectrogram that is not 2-D real numbers, frequencies or hop that are
        missing, of the wrong length, not finite or not monotonic, or frequencies
        and hop given without a spectrogram.
    """
    spectrogram = _check_spectrogram(spectrogram_db, spectrogram_freqs_hz, spectrogram_hop_s)
    _check_report(report)
    summary = report["summary"]
    channels = report["channels"]
    duration = _duration(report)
    name = _file_name(report["input"])
    grade = str(summary["grade"])
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(f'{name}: audio grade {grade}')}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Audio grade of {escape(name)}</h1>",
             _grade_section(report),
             f'<p class="scope">{escape(SCOPE_LINE)}</p>',
             _measured_section(report),
             _info_section(report, duration)]
    if spectrogram is not None:
        parts.append("<section><h2>Spectrogram</h2>" + _spectrogram_svg(*spectrogram)
                     + "</section>")
    parts.append("<section><h2>Timeline</h2>" + _timeline_svg(report, duration, channels)
                 + "</section>")
    parts.append(_scratch_table(report))
    parts.append(_event_table(report, channels))
    parts.append(f"<footer>Made by vinylmon from a {escape(SCHEMA_ID)} report; grades follow "
                 "the audio-only rubric v1 (Goldmine grades as heard).</footer>")
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)

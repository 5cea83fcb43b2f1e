"""One self-contained HTML page of a ``vinylmon.report/1`` report, for a record listing.

The page needs nothing beyond itself: no scripts, no fonts, no links to fetch. Its
pictures are inline SVG; the spectrogram is a PNG this module encodes itself
(zlib and struct) and embeds as a ``data:`` URI. Only numpy and the standard
library are used. Every text taken from the report is escaped, and only the file
name of ``input`` is shown, never the folder it was in.

What it shows: the record (artist, title, side) when the report names it, the
grade with its probabilities, notes (e.g. a 78's shellac note), reasons and
limiting criterion in GRADING.md's words, the learned grader's opinion beside the
measured rubric's when it has skill (its weight in the grade shown; otherwise a
small note says why it is left out), the measured quantities against the rubric,
the scope of an audio-only grade, the recording and the models, a spectrogram
(optional, round axis labels), a timeline of every event, a disc map (the side
seen from above, each event at its angle in the revolution and the radius of its
groove: :mod:`vinylmon.grading.discmap`), close-ups of the
loudest events (optional: :mod:`vinylmon.reports.strips`), and a table of the
events.

Colours are the monitor's (:mod:`vinylmon.grading.names`); they were chosen for a
dark background, so the timeline's lanes are dark, and marks and swatches on the
white page have a dark outline.
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

from vinylmon.grading.discmap import DEFAULT_SIZE_IN, DISC_SIZES, disc_map, mark_size, xy_mm
from vinylmon.grading.events import DefectEvent, ScratchTrack
from vinylmon.grading.names import (
    CRITERION_NAMES,
    CRITERION_SYMBOLS,
    CRITERION_UNITS,
    DEFAULT_COLOR,
    GRADE_COLORS,
    KIND_COLORS,
    KIND_NAMES,
    SKIP_COLOR,
    criterion_name,
    text_color_on,
)
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
from vinylmon.reports.strips import EventStrip

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
#: Event kinds in drawing order (the last is drawn on top); colours: grading.names.
KIND_ORDER = ("crackle", "click", "pop", "scratch")
assert set(KIND_ORDER) == set(KIND_COLORS)
#: The learned grader's opinion is shown only with at least this weight in the grade
#: (``summary.learned_weight``: its skill over chance on validation, 0..1; 0.1 is an
#: exact grade on 25 % of validation excerpts, where chance gives 1 in 6). The shipped
#: grader's 0.06 (21 % exact) stays below it.
LEARNED_SHOWN_WEIGHT = 0.1
#: Background of the timeline's lanes: the palette is the monitor's, made for a dark
#: background (yellow crackle would not read on white).
PANEL_COLOR = "#1f2229"
#: Outline of coloured marks and swatches on the white page.
OUTLINE_COLOR = "#222222"
#: magma at 0, 1/8, ..., 1 (8-bit sRGB): dark is quiet, light is loud.
_MAGMA = np.array([(0, 0, 4), (29, 17, 71), (81, 18, 124), (131, 38, 129), (183, 55, 121),
                   (231, 82, 99), (252, 137, 97), (254, 196, 136), (252, 253, 191)], float)
_LUT = np.stack([np.interp(np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(_MAGMA)),
                           _MAGMA[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)
_TIME_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
               300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 18000.0, 36000.0)
#: Round frequencies a log axis may be labelled with, most wanted first.
_ROUND_HZ = (10.0, 100.0, 1000.0, 10000.0, 20.0, 50.0, 200.0, 500.0, 2000.0, 5000.0,
             20000.0)
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
    """A frequency in plain words: 100 Hz, 1 kHz, 2.5 kHz (3 digits at most)."""
    return f"{f / 1000.0:.3g} kHz" if f >= 1000.0 else f"{f:.3g} Hz"


def _nice_step(span: float, most: int) -> float:
    """The smallest of 1, 2, 5 x 10^k that cuts ``span`` into at most ``most`` steps."""
    step = 10.0 ** math.floor(math.log10(max(span / max(most, 1), 1e-9)))
    while True:
        for m in (1.0, 2.0, 5.0):
            if span / (m * step) <= most * (1 + 1e-9):
                return m * step
        step *= 10.0


def _freq_ticks(freqs: np.ndarray, height: float, *, min_gap: float = 26.0
                ) -> list[tuple[float, float]]:
    """``(frequency, y)`` of round frequencies to label on an axis of rows ``freqs``
    (monotonic), drawn low at the bottom over ``height``. Log-spaced rows get decades
    first (100 Hz, 1 kHz, 10 kHz), then other round values that keep ``min_gap``
    apart; linear rows get multiples of a round step (0, 5 kHz, 10 kHz, ...)."""
    n = len(freqs)
    f = np.asarray(freqs, np.float64)
    if n > 1 and f[1] < f[0]:
        f = f[::-1]
    lo, hi = float(f[0]), float(f[-1])
    log = False
    if n > 2 and lo > 0:  # log-spaced rows: their steps vary less in log than in Hz
        d_lin, d_log = np.diff(f), np.diff(np.log(f))
        log = bool(np.std(d_log) / np.mean(d_log) < np.std(d_lin) / np.mean(d_lin))

    def y_of(hz: float) -> float:
        if n < 2:
            return height / 2
        axis = np.log(f) if log else f
        r = float(np.interp(math.log(hz) if log else hz, axis, np.arange(n)))
        return (n - 1 - r + 0.5) * height / n

    if log:
        values = [hz * scale for scale in (1.0, 10.0) for hz in _ROUND_HZ]
    elif hi > lo:
        step = _nice_step(hi - lo, max(1, int(height // min_gap)))
        values = [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
    else:
        values = []
    chosen: list[tuple[float, float]] = []
    for v in values:
        if lo <= v <= hi:
            y = y_of(v)
            if all(abs(y - yc) >= min_gap for _, yc in chosen):
                chosen.append((v, y))
    if not chosen:  # a narrow band: its ends, as they are
        chosen = [(lo, y_of(lo))] + ([(hi, y_of(hi))] if n > 1 and hi > lo else [])
    return sorted(chosen)


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


def _spectrogram_svg(a: np.ndarray, freqs: np.ndarray, hop_s: float, *, note: str = "") -> str:
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
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SVG_W:.0f} '
           f'{top_y + height + 40:.0f}" width="100%" role="img" '
           'aria-label="spectrogram"><title>Spectrogram</title>',
           f'<image x="{_X0:.1f}" y="{top_y:.1f}" width="{_PLOT_W:.1f}" height="{height:.1f}" '
           f'preserveAspectRatio="none" href="{uri}"/>',
           f'<rect x="{_X0:.1f}" y="{top_y:.1f}" width="{_PLOT_W:.1f}" height="{height:.1f}" '
           'fill="none" stroke="#555"/>']
    for hz, y in _freq_ticks(freqs, height):
        y += top_y
        out.append(f'<line x1="{_X0 - 4:.1f}" y1="{y:.1f}" x2="{_X0:.1f}" y2="{y:.1f}" '
                   'stroke="#555"/>')
        out.append(_svg_text(_X0 - 6, y + 4, _hz(hz), anchor="end", size=10))
    out.extend(_time_axis(top_y + height, extent_s))
    out.append("</svg>")
    caption = (f"Spectrogram of the whole recording (time in m:ss), {cols} columns "
               f"{hop_s * 1000:.4g} ms apart; colour shows the top {SPEC_RANGE_DB:g} dB "
               f"(dark: {floor:.0f} dB, light: {top:.0f} dB).{note}")
    return ('<figure class="picture">' + "".join(out)
            + f"<figcaption>{escape(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------- timeline

#: Silent stretches on the timeline's dark panel.
_SILENT_COLOR = "#4b515d"


def _swatch(color: str) -> str:
    """A small square of ``color`` with a dark outline (reads on the white page)."""
    return f'<span class="swatch" style="background:{color}"></span>'


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
    kinds = list(KIND_ORDER)
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
           "<title>Timeline of events</title>",
           f'<rect x="{_X0:.1f}" y="{top:.1f}" width="{_PLOT_W:.1f}" '
           f'height="{axis_y - top - 4:.1f}" fill="{PANEL_COLOR}"/>']
    for a, b in _silent_runs(report["windows"], duration):
        x1 = _X0 + _PLOT_W * min(max(a / duration, 0.0), 1.0)
        x2 = _X0 + _PLOT_W * min(max(b / duration, 0.0), 1.0)
        out.append(f'<rect x="{x1:.1f}" y="{top:.1f}" width="{max(x2 - x1, 0.5):.1f}" '
                   f'height="{axis_y - top - 4:.1f}" fill="{_SILENT_COLOR}">'
                   f"<title>silent {escape(_mmss_ms(a))} – {escape(_mmss_ms(b))}</title></rect>")
    for name, y in zip(lanes, lane_y, strict=True):
        out.append(f'<rect x="{_X0:.1f}" y="{y:.1f}" width="{_PLOT_W:.1f}" height="{lane_h:.1f}" '
                   'fill="none" stroke="#4a505c"/>')
        out.append(_svg_text(_X0 - 8, y + lane_h / 2 + 4, name, anchor="end"))
    out.append(f'<rect x="{_X0:.1f}" y="{scratch_y:.1f}" width="{_PLOT_W:.1f}" '
               f'height="{scratch_h - 4:.1f}" fill="none" stroke="#4a505c"/>')
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
        if kind not in KIND_COLORS or lane is None:
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
            out.append(f'<path d="{d}" stroke="{KIND_COLORS[kind]}" stroke-width="1.2" '
                       f'fill="none"><title>{escape(KIND_NAMES[kind])}, {escape(lanes[lane])}: '
                       f"{int(counts[lane, k])} events</title></path>")
    for s, row, x1, x2, label in placed:
        y = scratch_y + 4.0 + 22.0 * row
        out.append(f'<rect x="{x1:.1f}" y="{y:.1f}" width="{x2 - x1:.1f}" height="6" '
                   f'fill="{KIND_COLORS["scratch"]}"><title>{escape(label)}: '
                   f"{escape(_mmss_ms(s['first_s']))} – {escape(_mmss_ms(s['last_s']))}"
                   "</title></rect>")
        out.append(_svg_text(x1, y + 17, label, anchor="start", size=10, fill="#e6e6e6"))
    skips = _skips(report)
    for a, b in skips[:MAX_DRAWN_SKIPS]:
        x1 = _X0 + _PLOT_W * min(max(a / duration, 0.0), 1.0)
        x2 = _X0 + _PLOT_W * min(max(b / duration, 0.0), 1.0)
        out.append(f'<rect x="{x1:.1f}" y="{top:.1f}" width="{max(x2 - x1, 1.5):.1f}" '
                   f'height="{axis_y - top - 4:.1f}" fill="{SKIP_COLOR}" fill-opacity="0.8">'
                   f"<title>skip / repeat {escape(_mmss_ms(a))} – {escape(_mmss_ms(b))}"
                   "</title></rect>")
    out.extend(_time_axis(axis_y, duration))
    out.append("</svg>")

    legend = " ".join(
        f'<span class="key">{_swatch(KIND_COLORS[kind])}{escape(KIND_NAMES[kind])} '
        f"{int(counts[:, k].sum())}</span>" for k, kind in enumerate(kinds))
    legend += f'<span class="key">{_swatch(_SILENT_COLOR)}silent</span>'
    if skips:
        legend += (f'<span class="key">{_swatch(SKIP_COLOR)}skip / repeat {len(skips)}'
                   "</span>")
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


# --------------------------------------------------------------------------- disc map

#: The disc map draws at most this many events: the loudest (every scratch tick among
#: them first), so the page stays small; the caption says how many were left out.
MAX_DISC_MARKS = 3000
#: The disc map's picture: its size (SVG units = CSS px) and the disc's colours (a black
#: record, its recorded area a shade lighter, a grey label), the monitor's.
_D_SIZE = 480.0
_D_VINYL, _D_GROOVES, _D_LABEL = "#0b0c10", "#181b22", "#2b303a"
_D_RING = "#3a3f48"


def _disc_records(report: Mapping) -> tuple[list[DefectEvent], list[ScratchTrack]]:
    """The report's events and scratches that can be placed (finite times, known kinds),
    as the engine's records."""
    events = []
    for e in report["events"]:
        if not isinstance(e, Mapping) or not _finite(e.get("start_s")) \
                or e.get("kind") not in KIND_COLORS:
            continue
        sid = e.get("scratch_id")
        events.append(DefectEvent(
            str(e["kind"]), float(e["start_s"]),
            float(e["end_s"]) if _finite(e.get("end_s")) else float(e["start_s"]),
            e.get("channel") if isinstance(e.get("channel"), int) else None,
            float(e["peak_db"]) if _finite(e.get("peak_db")) else -math.inf,
            float(e["confidence"]) if _finite(e.get("confidence")) else 0.0,
            int(sid) if _is_number(sid) and not isinstance(sid, float) else None))
    tracks = []
    for s in report["scratches"]:
        if not isinstance(s, Mapping) or not all(
                _finite(s.get(k)) for k in ("id", "period_s", "first_s", "last_s", "count")):
            continue
        if float(s["period_s"]) <= 0:
            continue
        tracks.append(ScratchTrack(
            int(s["id"]), float(s["period_s"]), float(s["first_s"]), float(s["last_s"]),
            int(s["count"]), float(s["confidence"]) if _finite(s.get("confidence")) else 0.0,
            float(s["rpm"]) if _finite(s.get("rpm")) and float(s["rpm"]) > 0
            else 60.0 / float(s["period_s"]),
            float(s["peak_db"]) if _finite(s.get("peak_db")) else -math.inf))
    return events, tracks


def _disc_size_of(report: Mapping) -> int:
    """``record.size_in`` (12, 10 or 7) when the report names it, else 12."""
    record = report.get("record")
    size = record.get("size_in") if isinstance(record, Mapping) else None
    return int(size) if _is_number(size) and int(size) in DISC_SIZES else DEFAULT_SIZE_IN


def _discmap_svg(report: Mapping, duration: float, channels: int) -> str:
    """The side seen from above: each event at its angle in the revolution and the radius
    of its groove (:mod:`vinylmon.grading.discmap`), coloured by kind, sized by level;
    each repeating scratch a radial line labelled with its tick count."""
    events, tracks = _disc_records(report)
    rpm = float(report["rpm"]) if _finite(report.get("rpm")) and float(report["rpm"]) > 0 \
        else None
    side_s = duration if report.get("side_complete") is True else None
    m = disc_map(events, tracks, rpm=rpm, size_in=_disc_size_of(report), side_s=side_s)
    c = _D_SIZE / 2
    scale = (c - 6.0) / m.size.edge_mm  # px per mm

    def pt(x_mm, y_mm):
        return c + scale * x_mm, c - scale * y_mm

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_D_SIZE:.0f} {_D_SIZE:.0f}" '
           f'width="{_D_SIZE:.0f}" style="max-width:100%;height:auto" role="img" '
           'aria-label="disc map of events"><title>Disc map: where on the side each event '
           "lies</title>"]
    s = m.size
    for r_mm, fill in ((s.edge_mm, _D_VINYL), (s.outer_mm, _D_GROOVES), (s.inner_mm, _D_VINYL),
                       (s.label_mm, _D_LABEL)):
        out.append(f'<circle cx="{c:.1f}" cy="{c:.1f}" r="{scale * r_mm:.1f}" fill="{fill}" '
                   f'stroke="{_D_RING}"/>')
    out.append(f'<circle cx="{c:.1f}" cy="{c:.1f}" r="{scale * 3.6:.1f}" fill="#ffffff" '
               f'stroke="{_D_RING}"/>')

    # The marks: the loudest MAX_DISC_MARKS (scratch ticks first), drawn kind by kind.
    order = np.lexsort((-np.nan_to_num(m.peak_db, neginf=-1e9),
                        np.array([k != "scratch" for k in m.kinds], bool)))
    kept = np.sort(order[:MAX_DISC_MARKS])
    left_out = len(events) - kept.size
    radius_px = mark_size(m.peak_db, smallest=2.2, largest=14.0) / 2
    xs, ys = pt(m.x_mm, m.y_mm)
    counts = {kind: int(np.sum(m.kinds == kind)) for kind in KIND_ORDER}
    for kind in KIND_ORDER:
        idx = kept[m.kinds[kept] == kind]
        if idx.size == 0:
            continue
        faint = kind == "crackle"
        outline = 'stroke="none" fill-opacity="0.6"' if faint else \
            f'stroke="{_D_VINYL}" stroke-width="0.7"'
        marks = []
        for i in idx.tolist():
            e = events[i]
            level = _num(e.peak_db if math.isfinite(e.peak_db) else None, "+.1f", " dB re L")
            title = (f"{KIND_NAMES[kind]} {_mmss_ms(e.start_s)}, {level}, "
                     f"{_channel_label(e.channel, channels)}")
            marks.append(f'<circle cx="{xs[i]:.1f}" cy="{ys[i]:.1f}" r="{radius_px[i]:.1f}">'
                         f"<title>{escape(title)}</title></circle>")
        out.append(f'<g class="disc-{kind}" fill="{KIND_COLORS[kind]}" {outline}>'
                   + "".join(marks) + "</g>")

    min_len = 10.0 / scale  # mm: a scratch's line is drawn at least 10 px long
    for line in m.lines[:MAX_DRAWN_SCRATCHES]:
        mid = (line.r_first_mm + line.r_last_mm) / 2
        half = max((line.r_first_mm - line.r_last_mm) / 2 + 0.5, min_len / 2)
        (x1, x2), (y1, y2) = pt(*xy_mm(line.angle_deg, np.array([mid + half, mid - half])))
        title = (f"scratch #{line.id}: every {line.period_s:.2f} s, {line.count} ticks "
                 f"{_mmss_ms(line.first_s)} – {_mmss_ms(line.last_s)}")
        seg = f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
        out.append(f'<g class="disc-scratch-line"><title>{escape(title)}</title>'
                   f'<line {seg} stroke="#000000" stroke-width="7" stroke-linecap="round"/>'
                   f'<line {seg} stroke="{KIND_COLORS["scratch"]}" stroke-width="4" '
                   'stroke-linecap="round"/>')
        lx, ly = pt(*xy_mm(line.angle_deg, min(mid + half + 14.0 / scale, s.edge_mm - 4.0)))
        out.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" font-size="12" '
                   f'font-weight="700" fill="#ffffff" stroke="#000000" stroke-width="3" '
                   f'paint-order="stroke">×{line.count}</text></g>')
    out.append("</svg>")

    legend = " ".join(
        f'<span class="key">{_swatch(KIND_COLORS[kind])}{escape(KIND_NAMES[kind])} '
        f"{counts[kind]}</span>" for kind in KIND_ORDER)
    legend += (f'<span class="key">{_swatch(KIND_COLORS["scratch"])}repeating scratch '
               f"{len(m.lines)}</span>")
    note = ""
    if left_out > 0:
        note = (f" The loudest {kept.size} of {len(events)} events are drawn; {left_out} "
                "quieter ones are left out.")
    if len(m.lines) > MAX_DRAWN_SCRATCHES:
        note += f" The first {MAX_DRAWN_SCRATCHES} of {len(m.lines)} scratches are drawn."
    caption = (f"The side seen from above ({s.size_in}\" record), turning clockwise: each "
               "event at the angle in the revolution where it fell and at the radius of its "
               "groove, coloured by kind and larger when louder; each repeating scratch is a "
               f"red line labelled with its number of ticks. Angle: {m.rotation.note()}. "
               f"Radius: {m.radius_note()}.{note}")
    return (f'<figure class="picture disc">{"".join(out)}<figcaption><div class="legend">'
            f"{legend}</div>{escape(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------- event close-ups

#: render_html takes at most this many close-ups.
MAX_STRIPS = 100
#: A close-up's spectrogram shows this many dB below its own maximum.
STRIP_RANGE_DB = 80.0
# Close-up geometry (SVG user units).
_S_X0, _S_W = 44.0, 400.0
_S_SVG_W = _S_X0 + _S_W + 12.0
_S_MARK_Y, _S_MARK_H = 2.0, 8.0
_S_WAVE_Y, _S_WAVE_H = 13.0, 56.0
_S_SPEC_Y, _S_SPEC_H = 72.0, 96.0
_S_MARK2_Y = _S_SPEC_Y + _S_SPEC_H + 3.0
_S_AXIS_Y = _S_MARK2_Y + _S_MARK_H + 2.0
_S_SVG_H = _S_AXIS_Y + 18.0


def _strip_problem(s: EventStrip) -> str | None:
    """What is wrong with a close-up (None: nothing)."""
    for name in ("event_start_s", "event_end_s", "view_start_s", "view_end_s",
                 "samples_start_s", "first_column_s", "hop_s"):
        if not _finite(getattr(s, name)):
            return f"{name} must be a finite number; got {getattr(s, name)!r}"
    if not s.view_end_s > s.view_start_s:
        return "view_end_s must be after view_start_s"
    if s.event_end_s < s.event_start_s:
        return "event_end_s is before event_start_s"
    if s.hop_s <= 0:
        return f"hop_s must be > 0; got {s.hop_s!r}"
    if isinstance(s.sample_rate, bool) or not isinstance(s.sample_rate, int | np.integer) \
            or s.sample_rate <= 0:
        return f"sample_rate must be a positive integer; got {s.sample_rate!r}"
    if not isinstance(s.kind, str):
        return f"kind must be a string; got {s.kind!r}"
    if s.peak_db is not None and not _finite(s.peak_db):
        return f"peak_db must be a finite number or None; got {s.peak_db!r}"
    x = np.asarray(s.samples)
    if x.ndim != 1 or x.size == 0 or x.dtype.kind not in "fiu":
        return f"samples must be a non-empty 1-D array of reals; got shape {x.shape}, " \
               f"dtype {x.dtype}"
    if not np.all(np.isfinite(x)):
        return "samples hold NaN or infinity"
    db = np.asarray(s.db)
    if db.ndim != 2 or 0 in db.shape or db.dtype.kind not in "fiu":
        return f"db must be a non-empty 2-D array of reals; got shape {db.shape}, " \
               f"dtype {db.dtype}"
    f = np.asarray(s.freqs_hz)
    if f.ndim != 1 or len(f) != db.shape[0] or f.dtype.kind not in "fiu":
        return f"freqs_hz must be {db.shape[0]} real numbers, one per row of db; got " \
               f"shape {f.shape}, dtype {f.dtype}"
    if not np.all(np.isfinite(f)) or (len(f) > 1 and not np.all(np.diff(f) > 0)):
        return "freqs_hz must be finite and strictly increasing"
    if not isinstance(s.others, tuple | list) or not all(
            isinstance(o, tuple | list) and len(o) == 3 and _finite(o[0]) and _finite(o[1])
            and isinstance(o[2], str) for o in s.others):
        return "others must be (start_s, end_s, kind) triples"
    return None


def _check_strips(strips: object) -> list[EventStrip]:
    if strips is None:
        return []
    if not isinstance(strips, list | tuple):
        raise ValueError(f"event_strips must be a list of EventStrip "
                         f"(vinylmon.reports.strips.event_strips); got {type(strips).__name__}")
    if len(strips) > MAX_STRIPS:
        raise ValueError(f"event_strips holds {len(strips)} close-ups; at most {MAX_STRIPS}")
    for i, s in enumerate(strips):
        if not isinstance(s, EventStrip):
            raise ValueError(f"event_strips[{i}] must be an EventStrip; got "
                             f"{type(s).__name__}")
        problem = _strip_problem(s)
        if problem:
            raise ValueError(f"event_strips[{i}]: {problem}")
    return list(strips)


def _ms_label(ms: float) -> str:
    return "0 ms" if ms == 0 else f"{ms:+.0f} ms".replace("-", "−")


def _strip_svg(s: EventStrip, n: int) -> str:
    t0, t1 = float(s.view_start_s), float(s.view_end_s)

    def x_of(t: float) -> float:
        return _S_X0 + _S_W * (t - t0) / (t1 - t0)

    clip = f"strip-clip-{n}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_S_SVG_W:.0f} '
           f'{_S_SVG_H:.0f}" width="100%" role="img" aria-label="close-up of event">',
           f'<defs><clipPath id="{clip}"><rect x="{_S_X0:.1f}" y="0" width="{_S_W:.1f}" '
           f'height="{_S_SVG_H:.1f}"/></clipPath></defs>']
    # no audio there (before the start or after the end): light grey in both panels
    a1 = x_of(float(s.samples_start_s))
    a2 = x_of(float(s.samples_start_s) + len(s.samples) / float(s.sample_rate))
    for g1, g2 in ((_S_X0, a1), (a2, _S_X0 + _S_W)):
        if g2 - g1 > 0.5:
            out.append(f'<rect x="{g1:.1f}" y="{_S_WAVE_Y:.1f}" width="{g2 - g1:.1f}" '
                       f'height="{_S_SPEC_Y + _S_SPEC_H - _S_WAVE_Y:.1f}" fill="#e9e9e9" '
                       f'clip-path="url(#{clip})"><title>no audio</title></rect>')
    # the event's span: a band over the waveform
    ex1 = x_of(float(s.event_start_s))
    ex2 = max(x_of(float(s.event_end_s)), ex1 + 2.0)
    colour = KIND_COLORS.get(s.kind, DEFAULT_COLOR)
    out.append(f'<rect x="{ex1:.1f}" y="{_S_WAVE_Y:.1f}" width="{ex2 - ex1:.1f}" '
               f'height="{_S_WAVE_H:.1f}" fill="{colour}" fill-opacity="0.45" '
               f'clip-path="url(#{clip})"/>')
    # waveform: min and max per pixel column (or the samples themselves when few)
    x = np.asarray(s.samples, np.float64)
    amp = float(np.max(np.abs(x))) or 1.0
    mid, half = _S_WAVE_Y + _S_WAVE_H / 2, _S_WAVE_H / 2 - 2.0
    ts = float(s.samples_start_s) + np.arange(len(x)) / float(s.sample_rate)
    px = (_S_X0 + _S_W * (ts - t0) / (t1 - t0))
    if len(x) > 2 * _S_W:
        col = np.clip(np.floor(px - _S_X0).astype(np.int64), -1, int(_S_W))
        starts = np.flatnonzero(np.diff(col, prepend=col[0] - 1))
        lo_v = np.minimum.reduceat(x, starts)
        hi_v = np.maximum.reduceat(x, starts)
        d = "".join(f"M{_S_X0 + c + 0.5:.1f} {mid - half * h / amp:.1f}"
                    f"V{mid - half * lo / amp + 0.01:.1f}"
                    for c, lo, h in zip(col[starts].tolist(), lo_v.tolist(), hi_v.tolist(),
                                        strict=True))
        out.append(f'<path d="{d}" stroke="#333" stroke-width="1" fill="none" '
                   f'clip-path="url(#{clip})"/>')
    else:
        pts = " ".join(f"{a:.1f},{mid - half * v / amp:.1f}"
                       for a, v in zip(px.tolist(), x.tolist(), strict=True))
        out.append(f'<polyline points="{pts}" stroke="#333" stroke-width="1" fill="none" '
                   f'clip-path="url(#{clip})"/>')
    out.append(f'<rect x="{_S_X0:.1f}" y="{_S_WAVE_Y:.1f}" width="{_S_W:.1f}" '
               f'height="{_S_WAVE_H:.1f}" fill="none" stroke="#bbb"/>')
    # spectrogram: its own top STRIP_RANGE_DB, low frequencies at the bottom
    db = np.asarray(s.db, np.float64)
    finite = np.isfinite(db)
    top = float(db[finite].max()) if finite.any() else 0.0
    floor = top - STRIP_RANGE_DB
    v = np.clip(np.where(np.isnan(db), floor, db), floor, top)
    index = np.rint((v - floor) * (255.0 / STRIP_RANGE_DB)).astype(np.uint8)[::-1]
    uri = "data:image/png;base64," + base64.b64encode(_encode_png(_LUT[index])).decode("ascii")
    hop = float(s.hop_s)
    ix1 = x_of(float(s.first_column_s) - hop / 2)
    ix2 = x_of(float(s.first_column_s) + (db.shape[1] - 0.5) * hop)
    out.append(f'<image x="{ix1:.1f}" y="{_S_SPEC_Y:.1f}" width="{ix2 - ix1:.1f}" '
               f'height="{_S_SPEC_H:.1f}" preserveAspectRatio="none" href="{uri}" '
               f'clip-path="url(#{clip})"/>')
    for hz, y in _freq_ticks(np.asarray(s.freqs_hz, np.float64), _S_SPEC_H, min_gap=24.0):
        y += _S_SPEC_Y
        out.append(f'<line x1="{_S_X0 - 3:.1f}" y1="{y:.1f}" x2="{_S_X0:.1f}" y2="{y:.1f}" '
                   'stroke="#555"/>')
        out.append(_svg_text(_S_X0 - 5, y + 3.5, _hz(hz), anchor="end", size=9))
    # marks: the event's (outlined, above and below), other events' (smaller)
    for o_start, o_end, o_kind in s.others:
        ox1 = x_of(float(o_start))
        ox2 = max(x_of(float(o_end)), ox1 + 2.0)
        if ox2 < _S_X0 or ox1 > _S_X0 + _S_W:
            continue
        for y in (_S_MARK_Y + 3.0, _S_MARK2_Y):
            out.append(f'<rect x="{ox1:.1f}" y="{y:.1f}" width="{ox2 - ox1:.1f}" height="5" '
                       f'fill="{KIND_COLORS.get(o_kind, DEFAULT_COLOR)}" stroke="{OUTLINE_COLOR}" '
                       f'stroke-width="0.6" clip-path="url(#{clip})"><title>'
                       f"{escape(KIND_NAMES.get(o_kind, o_kind))} at "
                       f"{escape(_mmss_ms(o_start))}</title></rect>")
    for y in (_S_MARK_Y, _S_MARK2_Y):
        out.append(f'<rect x="{ex1:.1f}" y="{y:.1f}" width="{ex2 - ex1:.1f}" '
                   f'height="{_S_MARK_H:.1f}" fill="{colour}" stroke="{OUTLINE_COLOR}" '
                   f'stroke-width="1" clip-path="url(#{clip})"/>')
    # time axis: ms from the event's start
    out.append(f'<line x1="{_S_X0:.1f}" y1="{_S_AXIS_Y:.1f}" x2="{_S_X0 + _S_W:.1f}" '
               f'y2="{_S_AXIS_Y:.1f}" stroke="#555"/>')
    ref = float(s.event_start_s)
    span_ms = (t1 - t0) * 1000.0
    step = _nice_step(span_ms, 5)
    for k in range(math.ceil((t0 - ref) * 1000.0 / step),
                   math.floor((t1 - ref) * 1000.0 / step) + 1):
        xt = x_of(ref + k * step / 1000.0)
        out.append(f'<line x1="{xt:.1f}" y1="{_S_AXIS_Y:.1f}" x2="{xt:.1f}" '
                   f'y2="{_S_AXIS_Y + 3:.1f}" stroke="#555"/>')
        out.append(_svg_text(xt, _S_AXIS_Y + 13, _ms_label(k * step), size=9))
    out.append("</svg>")
    return "".join(out)


def _strip_title(s: EventStrip, channels: int) -> str:
    kind = KIND_NAMES.get(s.kind, s.kind)
    peak = "peak unknown" if s.peak_db is None else f"{s.peak_db:+.1f} dB re L"
    length_ms = (float(s.event_end_s) - float(s.event_start_s)) * 1000.0
    return (f'{_swatch(KIND_COLORS.get(s.kind, DEFAULT_COLOR))}<b>{escape(kind)}</b> at '
            f"<b>{escape(_mmss_ms(s.event_start_s))}</b>, {escape(peak)}, "
            f"{escape(f'{length_ms:.2f} ms')}, "
            f"{escape(_channel_label(s.channel, channels))}")


def _strips_section(strips: Sequence[EventStrip], report: Mapping, channels: int) -> str:
    if not strips:
        return ""
    figures = "".join(f'<figure class="strip"><figcaption class="strip-title">'
                      f"{_strip_title(s, channels)}</figcaption>{_strip_svg(s, n)}</figure>"
                      for n, s in enumerate(strips))
    total = sum(1 for e in report["events"] if isinstance(e, Mapping))
    half_ms = 1000.0 * max(float(s.view_end_s) - float(s.view_start_s) for s in strips) / 2
    hop_ms = 1000.0 * float(strips[0].hop_s)
    nyquist = float(strips[0].freqs_hz[-1])
    which = (f"All {total} events" if len(strips) == total
             else f"The {len(strips)} loudest of {total} events")
    caption = (f"{which}, each {half_ms:.0f} ms either "
               "side, times in mm:ss.mmm and ms from the event's start. Top: the waveform, "
               "scaled to each close-up's own peak. Bottom: its spectrogram, a column every "
               f"{hop_ms:.2g} ms, 0 to {_hz(nyquist)} (linear), colour showing each "
               f"close-up's top {STRIP_RANGE_DB:g} dB. The coloured bars mark the event's "
               "span; smaller bars mark other events in view.")
    return (f'<section><h2>Loudest events, close up</h2><p class="caption">{escape(caption)}'
            f'</p><div class="strips">{figures}</div></section>')


# --------------------------------------------------------------------------- sections


def _grade_color(grade: str) -> str:
    return GRADE_COLORS.get(grade, DEFAULT_COLOR)


def _badge(grade: object, *, big: bool, note: str = "") -> str:
    g = str(grade)
    bg = _grade_color(g)
    cls = "badge big" if big else "badge small"
    extra = f'<span class="weight">{escape(note)}</span>' if note else ""
    return (f'<div class="{cls}" style="background:{bg};color:{text_color_on(bg)}">{escape(g)}'
            f'<span class="name">{escape(GRADE_NAMES.get(g, ""))}</span>{extra}</div>')


def learned_weight_of(summary: Mapping) -> float | None:
    """The learned grader's weight in the fused grade (``summary.learned_weight``, 0..1),
    or None when the report does not give it."""
    w = summary.get("learned_weight")
    return min(max(float(w), 0.0), 1.0) if _finite(w) else None


def _is_learned_reason(reason: object) -> bool:
    """The fusion's line on an outvoted learned grader ("learned grader: F (weight ...")."""
    return str(reason).startswith("learned grader:")


def _learned_part(report: Mapping) -> tuple[str, bool]:
    """The learned grader's opinion (HTML), and whether it is left out for lack of skill.

    It is shown only with a weight of at least :data:`LEARNED_SHOWN_WEIGHT` in the grade,
    or when it moved the grade away from the measured rubric's; otherwise a small note
    says why it is not."""
    summary = report["summary"]
    learned, measured = summary.get("learned_grade"), summary.get("measured_grade")
    grade = summary["grade"]
    weight = learned_weight_of(summary)
    if learned is None:
        if measured is None:
            return "", False
        return ('<p class="agree">Learned grader: not run; the grade is the measured '
                "rubric's.</p>"), False
    weight_text = "weight ?" if weight is None else f"weight {weight:.2f}"
    decided = measured is not None and grade != measured
    if not decided and (weight is None or weight < LEARNED_SHOWN_WEIGHT):
        why = ("no weight in the grade given" if weight is None
               else f"weight {weight:.2f} in the grade")
        skill = "little skill" if weight else "no skill"
        return (f'<p class="learned-note">Learned grader: not shown ({escape(why)}; {skill} '
                "measured yet).</p>"), True
    if learned == measured:
        return (f'<p class="agree">The learned grader ({escape(weight_text)} in the grade) and '
                f"the measured rubric agree: {escape(str(learned))}.</p>"), False
    grader = report["models"].get("grader")
    cards = []
    for title, g, badge_note, note in (
            ("Learned grader", learned, weight_text, grader or ""),
            ("Measured rubric", measured, "", "GRADING.md rubric v1")):
        body = (_badge(g, big=False, note=badge_note) if g is not None
                else '<div class="badge none">not run</div>')
        cards.append(f'<div class="card"><div class="card-title">{escape(title)}</div>{body}'
                     f'<div class="card-note">{escape(str(note))}</div></div>')
    return '<div class="versus">' + "".join(cards) + "</div>", False


def _notes(summary: Mapping) -> str:
    """``summary.notes`` (an optional list of strings), shown beside the grade."""
    notes = summary.get("notes")
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list | tuple) or not notes:
        return ""
    return ('<div class="notes">' + "".join(f'<p class="note">{escape(str(n))}</p>'
                                            for n in notes if n is not None) + "</div>")


def _grade_section(report: Mapping) -> str:
    summary = report["summary"]
    grade = summary["grade"]
    parts = ['<section class="grade-box">', _badge(grade, big=True), '<div class="why">']
    parts.append(_notes(summary))
    limited_by = summary.get("limited_by")
    parts.append(f'<p class="limited">Limited by: <b>{escape(criterion_name(str(limited_by)))}'
                 "</b></p>" if limited_by is not None else
                 '<p class="limited">Limited by: nothing (no criterion is worse than NM)</p>')
    learned_part, left_out = _learned_part(report)
    reasons = summary.get("reasons") or []
    if not isinstance(reasons, list | tuple):
        reasons = [reasons]
    if left_out:  # its line among the reasons would show what the note holds back
        reasons = [r for r in reasons if not _is_learned_reason(r)]
    if reasons:
        parts.append('<ul class="reasons">'
                     + "".join(f"<li>{escape(str(r))}</li>" for r in reasons) + "</ul>")
    parts.append(learned_part)
    parts.append("</div>")
    probs = summary.get("grade_probs")
    if isinstance(probs, Mapping):
        rows = []
        for g in GRADES:
            p = probs.get(g)
            if not _finite(p):
                continue
            width = min(max(float(p), 0.0), 1.0) * 100.0
            bg = GRADE_COLORS[g]
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
    formats = {"clicks_per_min": ".2f", "crackle_per_s": ".2f", "surface_noise_db": ".1f",
               "scratches": "d", "skips": "d"}
    values = {key: _num(m.get(key), spec, f" {CRITERION_UNITS[key]}".rstrip())
              for key, spec in formats.items()}
    if m.get("surface_noise_db") is None:
        values["surface_noise_db"] = "unknown"
    head = ["", "quantity", "measured", "alone allows", f"limit for {grade}"]
    if better:
        head.append(f"needed for {better}")
    rows = ["<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for key, label in CRITERION_NAMES.items():
        cells = [CRITERION_SYMBOLS[key], label, values[key], str(per.get(key, "–")),
                 _limit_text(key, grade)]
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
        kind = e.get("kind")
        cells = [escape(c) for c in (str(n), _mmss_ms(start), length)]
        cells.append(_swatch(KIND_COLORS[kind]) + escape(KIND_NAMES[kind])
                     if kind in KIND_COLORS else escape(str(kind)))
        cells += [escape(c) for c in (
            _channel_label(e.get("channel"), channels), _num(e.get("peak_db"), "+.1f"),
            _num(e.get("confidence"), ".2f"), "–" if scratch is None else str(scratch))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
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
.badge.small{font-size:1.05em;min-width:3.2em;padding:.2em .4em;border-radius:8px}
.badge.small .name{font-size:.55em}.badge .weight{font-size:.6em;font-weight:600}
.badge.none{background:#eee;color:#666;font-size:1em}
.subtitle{margin:-.5em 0 .8em;color:#555}
.notes{margin:0 0 .5em}.note{background:#fff3cd;border:1px solid #e0a526;border-left-width:5px;
border-radius:4px;padding:.45em .7em;margin:0 0 .4em;font-weight:600}
.learned-note{font-size:.85em;color:#666;margin:.3em 0}
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
figure.picture{margin:.5em 0}figure.disc{display:flex;flex-wrap:wrap;gap:1em;
align-items:flex-start}figure.disc figcaption{flex:1 1 300px}figcaption{font-size:.85em;color:#555}
.legend{display:flex;flex-wrap:wrap;gap:.9em;margin:.2em 0}.swatch{display:inline-block;
width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-.05em;
border:1px solid #222;box-sizing:border-box}
.strips{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:.6em 1.2em}
figure.strip{margin:0}.strip-title{font-size:.85em;color:#222;margin-bottom:.1em}
p.caption{font-size:.85em;color:#555;margin:.2em 0 .6em}
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


def _record(report: Mapping) -> dict[str, str]:
    """The optional ``record`` (artist, title, side): its non-empty texts."""
    record = report.get("record")
    if not isinstance(record, Mapping):
        return {}
    return {k: str(record[k]).strip() for k in ("artist", "title", "side")
            if record.get(k) is not None and str(record[k]).strip()}


def _record_title(record: Mapping[str, str]) -> str:
    """"Artist – Title, side A" from what is given ("" for nothing)."""
    name = " – ".join(record[k] for k in ("artist", "title") if k in record)
    if "side" in record:
        name = f"{name}, side {record['side']}" if name else f"Side {record['side']}"
    return name


def render_html(report: dict, *, spectrogram_db: np.ndarray | None = None,
                spectrogram_freqs_hz: np.ndarray | None = None,
                spectrogram_hop_s: float | None = None,
                event_strips: Sequence[EventStrip] | None = None) -> str:
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
        ``start_s`` and optionally ``end_s``: drawn on the timeline), ``record``
        (``artist``, ``title``, ``side``: strings, each optional; the page's heading),
        ``summary.notes`` (a list of strings, e.g. the 78 rpm shellac note: shown
        beside the grade), ``summary.learned_weight`` (the learned grader's weight in
        the fused grade, 0..1: its opinion is shown only from
        :data:`LEARNED_SHOWN_WEIGHT` on, with the weight; without it, a note says it
        is not shown), ``record.size_in`` (12, 10 or 7: the disc map's record size; 12
        when absent), ``side_complete`` (true: the recording is the whole side, lead-in
        to run-out, and the disc map spreads its duration over the recorded area;
        otherwise it places the radius at a standard groove pitch).
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
    event_strips : sequence of EventStrip, optional
        Close-ups of single events (:func:`vinylmon.reports.strips.event_strips`),
        at most :data:`MAX_STRIPS`: each drawn as its waveform and spectrogram with
        the event's span marked, labelled with its time, kind and peak.

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
        and hop given without a spectrogram; ``event_strips`` that is not a list of
        at most :data:`MAX_STRIPS` :class:`EventStrip` with finite times, 1-D
        finite samples, a 2-D spectrogram with one increasing frequency per row
        and a hop > 0.
    """
    spectrogram = _check_spectrogram(spectrogram_db, spectrogram_freqs_hz, spectrogram_hop_s)
    strips = _check_strips(event_strips)
    _check_report(report)
    summary = report["summary"]
    channels = report["channels"]
    duration = _duration(report)
    name = _file_name(report["input"])
    grade = str(summary["grade"])
    record = _record_title(_record(report))
    heading = (f"<h1>{escape(record)}</h1><p class=\"subtitle\">Audio grade of "
               f"{escape(name)}</p>" if record else f"<h1>Audio grade of {escape(name)}</h1>")
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(f'{record or name}: audio grade {grade}')}</title>",
             f"<style>{_CSS}</style></head><body>",
             heading,
             _grade_section(report),
             f'<p class="scope">{escape(SCOPE_LINE)}</p>',
             _measured_section(report),
             _info_section(report, duration)]
    if spectrogram is not None:
        note = (" A click lasts a millisecond or less, too short to show here: see the "
                "close-ups below." if strips else "")
        parts.append("<section><h2>Spectrogram</h2>" + _spectrogram_svg(*spectrogram, note=note)
                     + "</section>")
    parts.append("<section><h2>Timeline</h2>" + _timeline_svg(report, duration, channels)
                 + "</section>")
    parts.append("<section><h2>Disc map</h2>" + _discmap_svg(report, duration, channels)
                 + "</section>")
    parts.append(_strips_section(strips, report, channels))
    parts.append(_scratch_table(report))
    parts.append(_event_table(report, channels))
    parts.append(f"<footer>Made by vinylmon from a {escape(SCHEMA_ID)} report; grades follow "
                 "the audio-only rubric v1 (Goldmine grades as heard).</footer>")
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)

"""The whole side on one time axis: defect ticks per channel, repeating scratches, silence.

Lanes, top to bottom: ``L``, ``R`` (an event on both channels, ``channel`` None,
ticks in both) and ``scratches``. Each event is a vertical tick whose height
grows with its level re L and whose colour is its kind; the ticks of one kind in
one lane are a single ``PlotDataItem`` with ``connect='pairs'``, so tens of
thousands of events draw as a handful of items. Each repeating scratch is a
span from its first to its last tick with a marker per tick and its period.

:meth:`ScratchTimeline.set_session` stores the data; :meth:`ScratchTimeline.refresh`
rebuilds the items when it changed. Hovering near a tick shows its time, kind,
channel and level; clicking it emits :attr:`ScratchTimeline.eventClicked`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QLabel, QMenu, QToolTip, QVBoxLayout, QWidget

from vinylmon.grading import names
from vinylmon.grading.events import KINDS, DefectEvent, ScratchTrack
from vinylmon.grading.rubric import CLICK_FLOOR_DB, Quantities
from vinylmon.gui import style

#: Lane name -> (bottom y, height) in view coordinates.
LANES = {"L": (2.3, 1.0), "R": (1.15, 1.0), "scratches": (0.0, 1.0)}
#: peak_db (re L) mapped to the bottom and the top of a lane's tick height.
LEVEL_RANGE_DB = (-50.0, 5.0)
#: Shortest tick, as a fraction of the lane (so quiet events stay visible).
_MIN_TICK = 0.12
#: Hover and click pick the nearest tick within this many pixels.
PICK_PX = 6.0
#: At most this many scratch labels are drawn.
_MAX_LABELS = 40
_Y_MIN, _Y_MAX = -0.08, 3.38


def format_rpm(rpm: float) -> str:
    """``33⅓``, ``45``, ``78`` or the speed to one decimal."""
    if abs(rpm - 100.0 / 3.0) < 0.05:
        return "33⅓"
    return f"{rpm:.0f}" if abs(rpm - round(rpm)) < 0.05 else f"{rpm:.1f}"


def event_tooltip(event: DefectEvent) -> str:
    """The hover text of an event: ``click  3:12.481  L  -4.2 dB re L``."""
    text = (f"{event.kind}  {style.format_time(event.start_s, millis=True)}  "
            f"{style.channel_name(event.channel)}  {style.format_level_db(event.peak_db)}")
    if event.scratch_id is not None:
        text += f"  (scratch #{event.scratch_id})"
    return text


def track_tooltip(track: ScratchTrack) -> str:
    """The hover text of a repeating scratch."""
    return (f"scratch #{track.id}: every {track.period_s:.2f} s ({format_rpm(track.rpm)} rpm), "
            f"{track.count} ticks {style.format_time(track.first_s)}–"
            f"{style.format_time(track.last_s)}, {style.format_level_db(track.peak_db)}")


class TimeAxisItem(pg.AxisItem):
    """A seconds axis labelled ``m:ss``, with ticks at whole seconds, 5 s, 15 s, 1 min …"""

    _STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)

    def tickSpacing(self, minVal: float, maxVal: float, size: float):  # noqa: N803 (pyqtgraph)
        span = maxVal - minVal
        if not (span > 0 and size > 0):
            return super().tickSpacing(minVal, maxVal, size)
        max_ticks = max(2.0, size / 80.0)
        major = next((s for s in self._STEPS_S if span / s <= max_ticks), self._STEPS_S[-1])
        minor = next((s for s in reversed(self._STEPS_S) if s < major and major % s < 1e-9),
                     major / 2)
        return [(major, 0), (minor, 0)]

    def tickStrings(self, values, scale, spacing):
        millis = spacing < 1
        return [style.format_time(v, millis=millis) if millis else style.format_time(v)
                for v in values]


def click_loud(events: Sequence[DefectEvent]) -> int:
    """How many of ``events`` count towards c: clicks, pops and scratch ticks at or above
    L - 10 dB (GRADING.md)."""
    return sum(1 for e in events if e.peak_db >= CLICK_FLOOR_DB)


def legend_html(events: Sequence[DefectEvent], scratches: Sequence[ScratchTrack],
                quantities: Quantities | None, *, silent_s: float, heard_s: float,
                clicks_masked: bool = False) -> str:
    """The timeline's legend: the colour of each kind, then what the grade counts, under
    GRADING.md's names, each count beside its rate (the rate the grade's reason quotes):
    c (clicks per minute, from the click-loud events, and with ``clicks_masked`` the
    clicks the music masks in their windows), k (crackle per second, a density), s
    (repeating scratches) and n (surface noise), then silence and time heard.
    """
    sep = "&nbsp;&nbsp;&nbsp; "
    keys = []
    for kind in list(KINDS) + sorted({e.kind for e in events} - set(KINDS)):
        color = style.color_of(kind, style.KIND_COLORS)
        keys.append(f"<span style='color:{color}; font-size:14pt'>■</span>&nbsp;"
                    f"{names.KIND_NAMES.get(kind, kind).replace(' ', '&nbsp;')}")
    parts = [sep.join(keys)]
    n_loud = click_loud(events)
    s = len(scratches)
    if quantities is None:
        parts.append(f"c&nbsp;{n_loud}&nbsp;clicks&nbsp;≥&nbsp;L−10&nbsp;dB")
    else:
        q = quantities
        masked = ", plus&nbsp;masked&nbsp;ones" if clicks_masked else ""
        parts.append(f"c&nbsp;<b>{q.clicks_per_min:.1f}</b>&nbsp;clicks/min "
                     f"({n_loud}&nbsp;events&nbsp;≥&nbsp;L−10&nbsp;dB{masked})")
        parts.append(f"k&nbsp;<b>{q.crackle_per_s:.1f}</b>&nbsp;crackle/s")
        if math.isfinite(q.surface_noise_db):
            parts.append(f"n&nbsp;<b>{q.surface_noise_db:.0f}</b>&nbsp;dB&nbsp;re&nbsp;L")
    parts.append(f"s&nbsp;<b>{s}</b>&nbsp;repeating&nbsp;scratch{'es' if s != 1 else ''}")
    parts.append(f"<span style='color:{style.SILENT}; font-size:14pt'>■</span>&nbsp;"
                 f"silent&nbsp;{style.format_time(silent_s)}")
    parts.append(f"heard&nbsp;{style.format_time(heard_s)}")
    return sep.join(parts)


LEGEND_TOOLTIP = (
    "Colours: the kind of each event. Then what the grade counts (GRADING.md):\n"
    "c: clicks per minute — clicks, pops and scratch ticks at or above L−10 dB, per minute "
    "of music (net of the detector's known false alarms on clean music); where the record "
    "shows clicks, also those the music masks there, as the models count them;\n"
    "k: crackle per second — quieter ticks, estimated as a density (most are hidden under "
    "the music, so they are not all drawn);\n"
    "n: surface noise, the hiss and rumble bed, in dB relative to the music's level L;\n"
    "s: scratches that repeat once per revolution.")


def play_menu(parent: QWidget, on_play) -> QMenu:
    """The right-click menu of the timeline and the disc map: "Play from here"."""
    menu = QMenu(parent)
    action = menu.addAction("Play from here")
    action.setToolTip("Play the session's audio from this point (the stream chosen under "
                      "View > Listen)")
    action.triggered.connect(lambda _checked=False: on_play())
    return menu


class ScratchTimeline(QWidget):
    """Events, repeating scratches and silence of the whole side on one time axis.

    Parameters
    ----------
    parent : QWidget or None, keyword-only

    Attributes
    ----------
    eventClicked : Signal(object)
        Emitted with the :class:`DefectEvent` clicked.
    hover_text : str
        The tooltip last shown ("" when the cursor is near nothing).
    """

    eventClicked = Signal(object)
    playFrom = Signal(float)

    def __init__(self, *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._events: tuple[DefectEvent, ...] = ()
        self._scratches: tuple[ScratchTrack, ...] = ()
        self._silent: tuple[tuple[float, float], ...] = ()
        self.duration_s = 0.0
        self.quantities: Quantities | None = None
        self.clicks_masked = False  # c holds the clicks the music masks (set_session)
        self._dirty = True
        self._follow = True
        self._lane_index: dict[str | None, tuple[np.ndarray, np.ndarray]] = {}
        self._index_stale = True
        self.hover_text = ""
        self.frames_drawn = 0

        style.apply_dark(self)
        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        self.legend_label.setToolTip(LEGEND_TOOLTIP)
        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND,
                                         axisItems={"bottom": TimeAxisItem("bottom")})
        self.plot_widget.setMinimumSize(400, 200)
        self.plot_widget.setMouseTracking(True)
        plot = self.plot_widget.getPlotItem()
        self.plot = plot
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.layout.setContentsMargins(4, 8, 16, 4)
        style.style_plot(plot)
        style.axis_label(plot, "bottom", "time (m:ss) — wheel to zoom, double-click for all")
        vb = plot.getViewBox()
        vb.setMouseEnabled(x=True, y=False)
        vb.setYRange(_Y_MIN, _Y_MAX, padding=0)
        vb.setLimits(yMin=_Y_MIN, yMax=_Y_MAX)
        left = plot.getAxis("left")
        left.setTicks([[(y0 + h / 2, name) for name, (y0, h) in LANES.items()], []])
        left.setWidth(style.font().pointSize() * 8)
        for y0, h in LANES.values():
            band = pg.LinearRegionItem((y0, y0 + h), orientation="horizontal", movable=False,
                                       brush=style.qcolor(style.PANEL, alpha=160),
                                       pen=pg.mkPen(style.GRID))
            band.setZValue(-20)
            band.setAcceptHoverEvents(False)
            plot.addItem(band)

        self._silent_item = pg.BarGraphItem(x0=[0.0], width=[0.0], y0=_Y_MIN,
                                            height=_Y_MAX - _Y_MIN,
                                            brush=style.qcolor(style.SILENT, alpha=110),
                                            pen=pg.mkPen(None))
        self._silent_item.setZValue(-10)
        self._silent_item.setVisible(False)
        plot.addItem(self._silent_item)

        self._tick_items: dict[tuple[str, str], pg.PlotDataItem] = {}
        scratch_color = style.KIND_COLORS["scratch"]
        self._span_item = pg.PlotDataItem(connect="pairs",
                                          pen=pg.mkPen(scratch_color, width=4))
        self._span_item.setAlpha(0.6, False)
        self._marker_item = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#ffffff", width=1),
                                               brush=pg.mkBrush(scratch_color), symbol="o")
        plot.addItem(self._span_item)
        plot.addItem(self._marker_item)
        self._labels: list[pg.TextItem] = []
        self._hover_item = pg.PlotDataItem(pen=pg.mkPen("#ffffff", width=2))
        self._hover_item.setZValue(20)
        plot.addItem(self._hover_item)

        self._placeholder = pg.TextItem("no events yet", color=style.MUTED, anchor=(0.5, 0.5))
        self._placeholder.setFont(style.font(point_size=style.LARGE_PT))
        self._no_scratch = pg.TextItem("no repeating scratches", color=style.MUTED,
                                       anchor=(0.5, 0.5))
        self._no_scratch.setFont(style.font())
        for item in (self._placeholder, self._no_scratch):
            plot.addItem(item)
        vb.sigXRangeChanged.connect(self._place_placeholders)
        vb.sigRangeChangedManually.connect(self._stop_following)
        scene = self.plot_widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.plot_widget, 1)
        self.refresh()

    # ------------------------------------------------------------------ data
    def set_session(self, *, events: Sequence[DefectEvent], scratches: Sequence[ScratchTrack],
                    silent_spans: Sequence[tuple[float, float]], duration_s: float,
                    quantities: Quantities | None = None, clicks_masked: bool = False) -> None:
        """Store the side so far; drawn at the next :meth:`refresh`.

        Parameters
        ----------
        events : sequence of DefectEvent
        scratches : sequence of ScratchTrack
        silent_spans : sequence of (start_s, end_s)
            Shaded grey.
        duration_s : float
            Seconds heard so far (the axis spans at least this).
        quantities : Quantities, optional, keyword-only
            What the grade measured (c, k, n, s): the legend shows them with the
            counts behind them (:func:`legend_html`).
        clicks_masked : bool, keyword-only
            c holds the clicks the music masks near the detected ones (the legend says so).

        Raises
        ------
        ValueError
            If ``duration_s`` is negative or not finite.
        """
        if not (math.isfinite(duration_s) and duration_s >= 0):
            raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s}")
        self._events = tuple(events)
        self._scratches = tuple(scratches)
        self._silent = tuple((float(a), float(b)) for a, b in silent_spans)
        self.duration_s = float(duration_s)
        self.quantities = quantities
        self.clicks_masked = bool(clicks_masked)
        self._index_stale = True
        self._dirty = True

    def silent_spans_merged(self) -> np.ndarray:
        """The silent spans as drawn: sorted, overlapping or touching ones merged, shape (n, 2)."""
        spans = sorted((a, b) for a, b in self._silent if b > a)
        merged: list[list[float]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1e-6:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return np.array(merged, dtype=float).reshape(-1, 2)

    def events(self) -> tuple[DefectEvent, ...]:
        """The events given to :meth:`set_session`."""
        return self._events

    def event_times(self, *, lane: str | None = None) -> np.ndarray:
        """Sorted start times (s) of the events in ``lane`` (None: all events)."""
        return self._index(lane)[0].copy()

    def event_near(self, time_s: float, *, lane: str | None = None,
                   tolerance_s: float | None = None) -> DefectEvent | None:
        """The event starting nearest ``time_s`` in ``lane``, if within ``tolerance_s``.

        Parameters
        ----------
        time_s : float
        lane : {"L", "R", "scratches"} or None, keyword-only
            ``L`` and ``R`` include events on both channels; ``scratches`` holds
            the ticks of repeating scratches; None searches every event.
        tolerance_s : float or None, keyword-only
            Default: :data:`PICK_PX` pixels at the current zoom.

        Returns
        -------
        DefectEvent or None
        """
        if lane is not None and lane not in LANES:
            raise ValueError(f"lane must be one of {tuple(LANES)} or None, got {lane!r}")
        if tolerance_s is None:
            tolerance_s = self._pixel_s() * PICK_PX
        starts, order = self._index(lane)
        if starts.size == 0:
            return None
        i = int(np.searchsorted(starts, time_s))
        best = min((j for j in (i - 1, i) if 0 <= j < starts.size),
                   key=lambda j: abs(starts[j] - time_s))
        if abs(starts[best] - time_s) > tolerance_s:
            return None
        return self._events[int(order[best])]

    def track_at(self, time_s: float) -> ScratchTrack | None:
        """The repeating scratch whose span contains ``time_s`` (with a pixel's slack)."""
        slack = self._pixel_s() * PICK_PX
        for track in self._scratches:
            if track.first_s - slack <= time_s <= track.last_s + slack:
                return track
        return None

    def hover_at(self, time_s: float, *, lane: str | None) -> str:
        """What hovering at ``time_s`` in ``lane`` shows (as the mouse handler does).

        Returns
        -------
        str
            The tooltip text, "" when nothing is near; also stored in ``hover_text``.
        """
        event = self.event_near(time_s, lane=lane)
        if event is not None:
            text = event_tooltip(event)
            y0, h = LANES[lane] if lane is not None else (_Y_MIN, _Y_MAX - _Y_MIN)
            self._hover_item.setData(x=[event.start_s, event.start_s], y=[y0, y0 + h])
        else:
            track = self.track_at(time_s) if lane == "scratches" else None
            text = track_tooltip(track) if track is not None else ""
            self._hover_item.setData(x=[], y=[])
        self.hover_text = text
        return text

    def click_at(self, time_s: float, *, lane: str | None) -> DefectEvent | None:
        """Emit :attr:`eventClicked` for the event near ``time_s`` in ``lane`` (mouse handler).

        Returns
        -------
        DefectEvent or None
            The event emitted, None if nothing was near.
        """
        event = self.event_near(time_s, lane=lane)
        if event is not None:
            self.eventClicked.emit(event)
        return event

    def zoom(self, factor: float) -> None:
        """Zoom the time axis by ``factor`` (> 1 zooms in) about the view's centre, or
        about its right end while following the live side (the newest stays in view).
        No closer than 50 ms, no wider than the side."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"factor must be a positive number, got {factor}")
        vb = self.plot.getViewBox()
        (x0, x1), _ = vb.viewRange()
        end = max(self.duration_s, 1.0)
        width = min(max((x1 - x0) / factor, 0.05), end * 1.02)
        if width >= end:
            self.show_all()
            return
        self._follow = False
        if x1 >= end - 1e-6 and factor > 1:
            a, b = end - width, end
        else:
            mid = (x0 + x1) / 2
            a, b = mid - width / 2, mid + width / 2
        shift = max(0.0, -a) - max(0.0, b - end)
        vb.setXRange(a + shift, b + shift, padding=0)

    def visible_range(self) -> tuple[float, float]:
        """The seconds shown, ``(start_s, end_s)``."""
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        return float(x0), float(x1)

    def show_all(self) -> None:
        """Zoom out to the whole side and follow it as it grows."""
        self._follow = True
        self._apply_x_range()

    # --------------------------------------------------------------- drawing
    def refresh(self) -> bool:
        """Rebuild the plot items if :meth:`set_session` gave new data.

        Returns
        -------
        bool
            True if it drew.
        """
        if not self._dirty:
            return False
        self._dirty = False
        self._draw_silence()
        self._draw_ticks()
        self._draw_scratches()
        self._draw_legend()
        self._hover_item.setData(x=[], y=[])
        self._placeholder.setVisible(not self._events)
        self._no_scratch.setVisible(not self._scratches)
        self._apply_x_range()
        self._place_placeholders()
        self.frames_drawn += 1
        return True

    def _apply_x_range(self) -> None:
        end = max(self.duration_s, 10.0)
        vb = self.plot.getViewBox()
        vb.setLimits(xMin=-0.02 * end, xMax=1.02 * end, minXRange=0.05)
        if self._follow:
            vb.setXRange(0.0, end, padding=0.01)

    def _draw_silence(self) -> None:
        spans = self.silent_spans_merged()
        if spans.size:
            self._silent_item.setOpts(x0=spans[:, 0], width=spans[:, 1] - spans[:, 0])
        self._silent_item.setVisible(bool(spans.size))

    def _draw_ticks(self) -> None:
        ev = self._events
        n = len(ev)
        starts = np.fromiter((e.start_s for e in ev), float, n)
        peaks = np.fromiter((e.peak_db for e in ev), float, n)
        chans = np.fromiter((-1 if e.channel is None else e.channel for e in ev), int, n)
        kinds = np.array([e.kind for e in ev], dtype=object)
        lo, hi = LEVEL_RANGE_DB
        frac = np.clip((np.nan_to_num(peaks, nan=lo) - lo) / (hi - lo), _MIN_TICK, 1.0)
        names = list(KINDS) + sorted(set(kinds) - set(KINDS))
        for lane, chan in (("L", 0), ("R", 1)):
            y0, h = LANES[lane]
            in_lane = (chans == chan) | (chans == -1)
            for kind in names:
                key = (lane, kind)
                mask = in_lane & (kinds == kind)
                item = self._tick_items.get(key)
                if item is None:
                    if not mask.any():
                        continue
                    color = style.color_of(kind, style.KIND_COLORS)
                    item = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(color, width=1.5))
                    self.plot.addItem(item)
                    self._tick_items[key] = item
                xs = np.repeat(starts[mask], 2)
                ys = np.empty_like(xs)
                ys[0::2] = y0
                ys[1::2] = y0 + 0.9 * h * frac[mask]
                item.setData(x=xs, y=ys, connect="pairs")

    def _draw_scratches(self) -> None:
        y0, h = LANES["scratches"]
        y_mid = y0 + 0.4 * h
        tracks = self._scratches
        xs = np.array([[t.first_s, t.last_s] for t in tracks], float).reshape(-1)
        self._span_item.setData(x=xs, y=np.full(xs.size, y_mid), connect="pairs")
        ticks: list[float] = []
        by_id = {t.id: t for t in tracks}
        seen: set[int] = set()
        for e in self._events:
            if e.scratch_id is not None and e.scratch_id in by_id:
                ticks.append(e.start_s)
                seen.add(e.scratch_id)
        for t in tracks:
            if t.id not in seen:  # no member events given: place its ticks from the period
                ticks.extend(t.first_s + k * t.period_s for k in range(max(t.count, 1)))
        self._marker_item.setData(x=ticks, y=[y_mid] * len(ticks))
        for label in self._labels:
            self.plot.removeItem(label)
        self._labels = []
        for t in tracks[:_MAX_LABELS]:
            label = pg.TextItem(f"#{t.id}  {t.period_s:.2f} s · {format_rpm(t.rpm)} rpm · "
                                f"{t.count}×", color=style.FOREGROUND, anchor=(0.0, 0.0))
            label.setFont(style.font(point_size=style.BASE_PT - 1))
            label.setPos(t.first_s, y0 + 0.98 * h)
            self.plot.addItem(label)
            self._labels.append(label)

    def _draw_legend(self) -> None:
        merged = self.silent_spans_merged()
        silent_s = float(np.sum(merged[:, 1] - merged[:, 0]))
        self.legend_label.setText(legend_html(self._events, self._scratches, self.quantities,
                                              silent_s=silent_s, heard_s=self.duration_s,
                                              clicks_masked=self.clicks_masked))

    def _place_placeholders(self, *args) -> None:
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        mid = (x0 + x1) / 2
        y_l, h = LANES["L"]
        self._placeholder.setPos(mid, y_l + h / 2)
        ys, hs = LANES["scratches"]
        self._no_scratch.setPos(mid, ys + hs / 2)

    # ----------------------------------------------------------------- index
    def _index(self, lane: str | None) -> tuple[np.ndarray, np.ndarray]:
        if self._index_stale:
            self._lane_index = {}
            self._index_stale = False
        if lane not in self._lane_index:
            ev = self._events
            if lane is None:
                idx = list(range(len(ev)))
            elif lane == "scratches":
                idx = [i for i, e in enumerate(ev) if e.scratch_id is not None]
            else:
                chan = 0 if lane == "L" else 1
                idx = [i for i, e in enumerate(ev) if e.channel is None or e.channel == chan]
            order = np.asarray(idx, dtype=np.int64)
            starts = np.fromiter((ev[i].start_s for i in idx), float, len(idx))
            sort = np.argsort(starts, kind="stable")
            self._lane_index[lane] = (starts[sort], order[sort])
        return self._lane_index[lane]

    def _pixel_s(self) -> float:
        vb = self.plot.getViewBox()
        (x0, x1), _ = vb.viewRange()
        width_px = vb.width() if vb.width() > 1 else 600.0
        return (x1 - x0) / width_px

    # ----------------------------------------------------------------- mouse
    def _lane_at(self, y: float) -> str | None:
        for name, (y0, h) in LANES.items():
            if y0 <= y <= y0 + h:
                return name
        return None

    def _scene_to_view(self, scene_pos: QPointF) -> tuple[float, str | None] | None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        return p.x(), self._lane_at(p.y())

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        hit = self._scene_to_view(scene_pos)
        text = "" if hit is None or hit[1] is None else self.hover_at(hit[0], lane=hit[1])
        if hit is None or hit[1] is None:
            self.hover_text = ""
            self._hover_item.setData(x=[], y=[])
        if text:
            QToolTip.showText(QCursor.pos(), text, self.plot_widget)
        else:
            QToolTip.hideText()

    def play_from_at(self, t_s: float) -> float:
        """Emit :attr:`playFrom` for side time ``t_s`` (clamped to what was heard): the
        right-click menu's "Play from here"."""
        t = min(max(0.0, float(t_s)), max(0.0, self.duration_s))
        self.playFrom.emit(t)
        return t

    def _on_mouse_clicked(self, mouse_event) -> None:
        if mouse_event.button() == Qt.MouseButton.RightButton:
            hit = self._scene_to_view(mouse_event.scenePos())
            if hit is not None:
                mouse_event.accept()
                self.context_menu = play_menu(self, lambda: self.play_from_at(hit[0]))
                self.context_menu.popup(QCursor.pos())
            return
        if mouse_event.button() != Qt.MouseButton.LeftButton:
            return
        if mouse_event.double():
            self.show_all()
            return
        hit = self._scene_to_view(mouse_event.scenePos())
        if hit is not None and hit[1] is not None:
            self.click_at(hit[0], lane=hit[1])

    def _stop_following(self, *args) -> None:
        self._follow = False

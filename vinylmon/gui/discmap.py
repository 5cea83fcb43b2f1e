"""The side as seen from above: every event where it lies on the disc.

Angle is where in the revolution the event fell, radius how far the stylus had
travelled inward (the geometry, and the standards it rests on:
:mod:`vinylmon.grading.discmap`). Events are dots coloured by kind and sized by
level; a repeating scratch is a radial line through its ticks, labelled with
their count. A dashed circle marks the groove heard last.

The dots of one kind are a single ``ScatterPlotItem`` (thousands of events draw as
four items). :meth:`DiscMapView.set_session` stores the data; :meth:`DiscMapView.refresh`
(the main window's repaint timer) redraws only when it changed. Hovering near a
dot shows its time, kind, channel and level; clicking it emits
:attr:`DiscMapView.eventClicked` (the main window opens its close-up, as the
timeline does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QCursor, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsEllipseItem,
    QHBoxLayout,
    QLabel,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading import discmap as geo
from vinylmon.grading.events import KINDS, DefectEvent, ScratchTrack
from vinylmon.gui import style
from vinylmon.gui.timeline import event_tooltip, play_menu, track_tooltip

#: Hover and click pick the nearest dot within this many pixels.
PICK_PX = 7.0
#: At most this many scratch lines are labelled with their tick count.
MAX_LABELS = 40
#: A scratch's line is drawn at least this long (a 20-revolution scratch spans only 2 to
#: 3 mm of the radius: a few pixels).
MIN_LINE_PX = 20.0
#: Dots are drawn in this order (the last on top): faint crackle below, scratch ticks above.
DRAW_ORDER = ("crackle", "click", "pop", "scratch")
#: The disc's colours: a black record with a slightly lighter recorded area and a label.
VINYL = "#0b0c10"
GROOVES = "#181b22"
LABEL = "#2b303a"
#: The pane's size (px): square enough to read, small beside the timeline.
MIN_SIDE_PX = 250
MAX_WIDTH_PX = 340

TOOLTIP = ("The side as seen from above. Angle: where in the revolution an event fell "
           "(measured with the record's speed, fitted to the repeating scratches when there "
           "are some, so a scratch lies on one line). Radius: how far the stylus had moved "
           "inward, from the lead-in at the rim to the run-out near the label.\n"
           "Dots: events, coloured by kind, larger when louder. Red lines: repeating "
           "scratches, with their number of ticks. Dashed circle: the groove heard last.\n"
           "Hover over a dot for its time and level; click it to see it up close.")


def _circle(radius: float, *, pen: QPen, brush: QBrush | None = None) -> QGraphicsEllipseItem:
    item = QGraphicsEllipseItem(QRectF(-radius, -radius, 2 * radius, 2 * radius))
    item.setPen(pen)
    item.setBrush(brush if brush is not None else QBrush(Qt.BrushStyle.NoBrush))
    return item


def _cosmetic(color: str, width: float = 1.0, *, dashed: bool = False) -> QPen:
    pen = pg.mkPen(color, width=width, style=Qt.PenStyle.DashLine if dashed
                   else Qt.PenStyle.SolidLine)
    pen.setCosmetic(True)
    return pen


class DiscMapView(QWidget):
    """A polar map of the side: events by angle in the revolution and radius on the disc.

    Parameters
    ----------
    size_in : {12, 10, 7}, keyword-only
        The record's size (a combo box in the pane changes it).
    parent : QWidget or None, keyword-only

    Attributes
    ----------
    eventClicked : Signal(object)
        Emitted with the :class:`DefectEvent` clicked.
    map : vinylmon.grading.discmap.DiscMap or None
        What was drawn last.
    hover_text : str
        The tooltip last shown ("" when the cursor is near nothing).
    frames_drawn : int
        How many times :meth:`refresh` drew.
    """

    eventClicked = Signal(object)
    playFrom = Signal(float)
    sizeChanged = Signal(int)

    def __init__(self, *, size_in: int = geo.DEFAULT_SIZE_IN,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size_in = geo.disc_size(size_in).size_in
        self._events: tuple[DefectEvent, ...] = ()
        self._scratches: tuple[ScratchTrack, ...] = ()
        self._rpm: float | None = None
        self.duration_s = 0.0
        self._side_s: float | None = None
        self._dirty = True
        self.map: geo.DiscMap | None = None
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self.hover_text = ""
        self.frames_drawn = 0

        style.apply_dark(self)
        self.title_label = QLabel("Disc map")
        self.title_label.setFont(style.font(bold=True))
        # on the title, not the plot: the plot's own tooltips are the hovered events'
        self.title_label.setToolTip(TOOLTIP)
        self.size_combo = QComboBox()
        for size in geo.DISC_SIZES:
            self.size_combo.addItem(f'{size}"', size)
        self.size_combo.setCurrentIndex(self.size_combo.findData(self._size_in))
        self.size_combo.setToolTip("The record's size: where its recorded area starts and "
                                   "ends (IEC 60098)")
        self.size_combo.currentIndexChanged.connect(
            lambda i: self.set_size(self.size_combo.itemData(i)))
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet(f"color: {style.MUTED}")
        self.note_label.setFont(style.font(point_size=style.BASE_PT - 2))

        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setMinimumSize(MIN_SIDE_PX - 10, MIN_SIDE_PX - 10)
        self.plot_widget.setMouseTracking(True)
        plot = self.plot_widget.getPlotItem()
        self.plot = plot
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.layout.setContentsMargins(2, 2, 2, 2)
        vb = plot.getViewBox()
        vb.setAspectLocked(True)
        vb.setMouseEnabled(x=False, y=False)

        self._disc_items: list[QGraphicsEllipseItem] = []
        self._now_item = _circle(1.0, pen=_cosmetic(style.FOREGROUND, 1.0, dashed=True))
        self._now_item.setOpacity(0.55)
        self._now_item.setZValue(-1)
        vb.addItem(self._now_item)
        self._dots: dict[str, pg.ScatterPlotItem] = {}
        self._line_item = pg.PlotDataItem(connect="pairs",
                                          pen=pg.mkPen(style.KIND_COLORS["scratch"], width=4))
        self._line_item.setZValue(5)
        self._line_under = pg.PlotDataItem(connect="pairs", pen=pg.mkPen("#000000", width=7))
        self._line_under.setZValue(4.9)  # a dark edge: the line reads over the dots
        plot.addItem(self._line_under)
        plot.addItem(self._line_item)
        self._labels: list[pg.TextItem] = []
        self._hover_item = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#ffffff", width=2),
                                              brush=pg.mkBrush(None))
        self._hover_item.setZValue(20)
        plot.addItem(self._hover_item)
        self._placeholder = pg.TextItem("no events yet", color=style.MUTED, anchor=(0.5, 0.5))
        self._placeholder.setFont(style.font())
        self._placeholder.setZValue(10)
        plot.addItem(self._placeholder)
        scene = self.plot_widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title_label)
        head.addStretch(1)
        head.addWidget(self.size_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.note_label)
        self.setMinimumWidth(MIN_SIDE_PX)
        self.setMaximumWidth(MAX_WIDTH_PX)
        self._draw_disc()
        self.refresh()

    # ------------------------------------------------------------------ data
    @property
    def size_in(self) -> int:
        return self._size_in

    def set_session(self, *, events: Sequence[DefectEvent], scratches: Sequence[ScratchTrack],
                    rpm: float | None, duration_s: float, side_complete: bool = False) -> None:
        """Store the side so far; drawn at the next :meth:`refresh`.

        Parameters
        ----------
        events : sequence of DefectEvent
        scratches : sequence of ScratchTrack
        rpm : float or None
            The speed given or estimated (None: the scratches', else 33 1/3, said so).
        duration_s : float
            Seconds heard so far (the dashed circle's groove).
        side_complete : bool, keyword-only
            The side was heard to its run-out: its length spreads the radius from the
            lead-in to the run-out (otherwise: a standard groove pitch).

        Raises
        ------
        ValueError
            If ``duration_s`` is negative or not finite.
        """
        if not (math.isfinite(duration_s) and duration_s >= 0):
            raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s}")
        self._events = tuple(events)
        self._scratches = tuple(scratches)
        self._rpm = rpm
        self.duration_s = float(duration_s)
        self._side_s = float(duration_s) if side_complete and duration_s > 0 else None
        self._dirty = True

    def set_size(self, size_in: int) -> None:
        """The record's size (12, 10 or 7 inches); redrawn at once."""
        size = geo.disc_size(size_in).size_in
        if self.size_combo.currentData() != size:
            self.size_combo.setCurrentIndex(self.size_combo.findData(size))
        if size != self._size_in:
            self._size_in = size
            self.sizeChanged.emit(size)
            self._draw_disc()
            self._dirty = True
            self.refresh()

    # --------------------------------------------------------------- drawing
    def refresh(self) -> bool:
        """Redraw if :meth:`set_session` gave new data.

        Returns
        -------
        bool
            True if it drew.
        """
        if not self._dirty:
            return False
        self._dirty = False
        m = geo.disc_map(self._events, self._scratches, rpm=self._rpm, size_in=self._size_in,
                         side_s=self._side_s)
        self.map = m
        self._x, self._y = m.x_mm, m.y_mm
        self._draw_dots(m)
        self._draw_lines(m)
        now = float(geo.radius_mm([self.duration_s], period_s=m.rotation.period_s,
                                  size_in=self._size_in, side_s=m.side_s,
                                  pitch_mm=m.pitch_mm)[0])
        self._now_item.setRect(QRectF(-now, -now, 2 * now, 2 * now))
        self._now_item.setVisible(self.duration_s > 0)
        self._hover_item.setData(x=[], y=[])
        self._placeholder.setVisible(not self._events)
        rot = m.rotation
        short = f"{geo.rpm_text(rot.rpm)} rpm" + (" (assumed)" if rot.assumed else "")
        short += f" · {rot.period_s:.3f} s a turn"
        if rot.fitted_ticks:
            short += f", fitted to scratch ticks ({100 * rot.speed_error:+.1f} %)"
        self.note_label.setText(short)
        self.note_label.setToolTip(f"Angle: {rot.note()}.\nRadius: {m.radius_note()}.")
        self.frames_drawn += 1
        return True

    def _draw_disc(self) -> None:
        vb = self.plot.getViewBox()
        for item in self._disc_items:
            vb.removeItem(item)
        s = geo.disc_size(self._size_in)
        self._disc_items = [
            _circle(s.edge_mm, pen=_cosmetic(style.GRID), brush=QBrush(style.qcolor(VINYL))),
            _circle(s.outer_mm, pen=_cosmetic(style.GRID),
                    brush=QBrush(style.qcolor(GROOVES))),
            _circle(s.inner_mm, pen=_cosmetic(style.GRID), brush=QBrush(style.qcolor(VINYL))),
            _circle(s.label_mm, pen=_cosmetic(style.GRID), brush=QBrush(style.qcolor(LABEL))),
            _circle(3.6, pen=_cosmetic(style.MUTED), brush=QBrush(style.qcolor(style.BACKGROUND))),
        ]
        for z, item in enumerate(self._disc_items):
            item.setZValue(-20 + z)
            vb.addItem(item)
        pad = s.edge_mm * 1.03
        vb.setRange(xRange=(-pad, pad), yRange=(-pad, pad), padding=0)

    def _draw_dots(self, m: geo.DiscMap) -> None:
        sizes = np.round(geo.mark_size(m.peak_db) * 2.0) / 2.0  # few distinct sizes: fast
        present = list(DRAW_ORDER) + sorted(set(m.kinds.tolist()) - set(DRAW_ORDER))
        for z, kind in enumerate(present):
            mask = m.kinds == kind
            item = self._dots.get(kind)
            if item is None:
                if not mask.any():
                    continue
                color = style.color_of(kind, style.KIND_COLORS)
                faint = kind == "crackle"  # many and quiet: small, see-through, no outline
                item = pg.ScatterPlotItem(
                    pxMode=True, pen=pg.mkPen(None) if faint else pg.mkPen("#000000", width=0.7),
                    brush=pg.mkBrush(style.qcolor(color, alpha=140 if faint else 235)))
                item.setZValue(1 + z / 10)
                self.plot.addItem(item)
                self._dots[kind] = item
            item.setData(x=m.x_mm[mask], y=m.y_mm[mask], size=sizes[mask])

    def _draw_lines(self, m: geo.DiscMap) -> None:
        xs, ys = [], []
        for label in self._labels:
            self.plot.removeItem(label)
        self._labels = []
        for line in m.lines:
            x, y = geo.xy_mm(line.angle_deg, np.array(self._line_extent(line)))
            xs.extend(x.tolist())
            ys.extend(y.tolist())
        self._line_item.setData(x=xs, y=ys, connect="pairs")
        self._line_under.setData(x=xs, y=ys, connect="pairs")
        for line in sorted(m.lines, key=lambda ln: -ln.count)[:MAX_LABELS]:
            out = min(self._line_extent(line)[0] + 10.0 * self._mm_per_px(),
                      m.size.edge_mm - 3.0)
            x, y = geo.xy_mm(line.angle_deg, out)
            label = pg.TextItem(f"×{line.count}", color=style.FOREGROUND, anchor=(0.5, 0.5),
                                fill=pg.mkBrush(style.qcolor(style.BACKGROUND, alpha=170)))
            label.setFont(style.font(point_size=style.BASE_PT - 2, bold=True))
            label.setPos(float(x), float(y))
            label.setZValue(15)
            self.plot.addItem(label)
            self._labels.append(label)

    def _line_extent(self, line: geo.ScratchLine) -> tuple[float, float]:
        """The radii (outer, inner; mm) a scratch's line is drawn over: its ticks', and
        at least :data:`MIN_LINE_PX` long."""
        mid = (line.r_first_mm + line.r_last_mm) / 2
        half = max((line.r_first_mm - line.r_last_mm) / 2 + 1.0,
                   MIN_LINE_PX / 2 * self._mm_per_px())
        return mid + half, mid - half

    # ------------------------------------------------------------ picking
    def _mm_per_px(self) -> float:
        vb = self.plot.getViewBox()
        (x0, x1), _ = vb.viewRange()
        width = vb.width() if vb.width() > 1 else 300.0
        return (x1 - x0) / width

    def _index_near(self, x_mm: float, y_mm: float, tolerance_mm: float | None) -> int | None:
        self.refresh()
        if self._x.size == 0:
            return None
        if tolerance_mm is None:
            tolerance_mm = PICK_PX * self._mm_per_px()
        d2 = (self._x - x_mm) ** 2 + (self._y - y_mm) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= tolerance_mm ** 2 else None

    def event_near(self, x_mm: float, y_mm: float, *,
                   tolerance_mm: float | None = None) -> DefectEvent | None:
        """The event drawn nearest ``(x_mm, y_mm)``, if within ``tolerance_mm`` (default
        :data:`PICK_PX` pixels at the current size)."""
        i = self._index_near(x_mm, y_mm, tolerance_mm)
        return None if i is None else self._events[i]

    def track_near(self, x_mm: float, y_mm: float, *,
                   tolerance_mm: float | None = None) -> ScratchTrack | None:
        """The repeating scratch whose line passes within ``tolerance_mm`` of the point."""
        self.refresh()
        if self.map is None or not self.map.lines:
            return None
        if tolerance_mm is None:
            tolerance_mm = PICK_PX * self._mm_per_px()
        r = math.hypot(x_mm, y_mm)
        angle = math.degrees(math.atan2(-x_mm, y_mm)) % 360.0
        by_id = {t.id: t for t in self._scratches}
        for line in self.map.lines:
            outer, inner = self._line_extent(line)
            if not (inner - tolerance_mm <= r <= outer + tolerance_mm):
                continue
            off = abs((angle - line.angle_deg + 180.0) % 360.0 - 180.0)
            if r * math.radians(off) <= tolerance_mm and line.id in by_id:
                return by_id[line.id]
        return None

    def position_of(self, event: DefectEvent) -> tuple[float, float]:
        """``(x_mm, y_mm)`` where ``event`` is drawn."""
        self.refresh()
        i = self._events.index(event)
        return float(self._x[i]), float(self._y[i])

    def hover_at(self, x_mm: float, y_mm: float) -> str:
        """The hover text at a point of the map (mm), highlighting the event there."""
        i = self._index_near(x_mm, y_mm, None)
        if i is not None:
            event, m = self._events[i], self.map
            text = (f"{event_tooltip(event)}\n{m.angle_deg[i]:.0f}° into the turn, "
                    f"{m.radius_mm[i]:.0f} mm from the centre")
            self._hover_item.setData(x=[self._x[i]], y=[self._y[i]])
        else:
            track = self.track_near(x_mm, y_mm)
            text = track_tooltip(track) if track is not None else ""
            self._hover_item.setData(x=[], y=[])
        self.hover_text = text
        return text

    def click_at(self, x_mm: float, y_mm: float) -> DefectEvent | None:
        """Emit :attr:`eventClicked` for the event near the point (mouse handler)."""
        event = self.event_near(x_mm, y_mm)
        if event is not None:
            self.eventClicked.emit(event)
        return event

    # ----------------------------------------------------------------- mouse
    def _scene_to_view(self, scene_pos: QPointF) -> tuple[float, float] | None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        return p.x(), p.y()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        hit = self._scene_to_view(scene_pos)
        text = "" if hit is None else self.hover_at(*hit)
        if hit is None:
            self.hover_text = ""
            self._hover_item.setData(x=[], y=[])
        if text:
            QToolTip.showText(QCursor.pos(), text, self.plot_widget)
        else:
            QToolTip.hideText()

    def play_from_at(self, x_mm: float, y_mm: float) -> float | None:
        """Emit :attr:`playFrom` with the time of the groove nearest the point (the
        right-click menu's "Play from here"); returns it."""
        m = getattr(self, "map", None)
        if m is None:
            return None
        t = geo.time_at(m, x_mm, y_mm, duration_s=self.duration_s)
        if t is not None:
            self.playFrom.emit(t)
        return t

    def _on_mouse_clicked(self, mouse_event) -> None:
        hit = self._scene_to_view(mouse_event.scenePos())
        if mouse_event.button() == Qt.MouseButton.RightButton and hit is not None:
            mouse_event.accept()
            self.context_menu = play_menu(self, lambda: self.play_from_at(*hit))
            self.context_menu.popup(QCursor.pos())
            return
        if mouse_event.button() != Qt.MouseButton.LeftButton:
            return
        if hit is not None:
            self.click_at(*hit)


assert set(DRAW_ORDER) == set(KINDS)

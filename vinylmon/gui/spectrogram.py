"""A live scrolling spectrogram: the last ``visible_s`` seconds, newest on the right.

Columns arrive through :meth:`ScrollingSpectrogram.append` (cheap: a copy into a
preallocated ring) and are drawn by :meth:`ScrollingSpectrogram.refresh`, which the
main window calls from a timer. The ring holds every column twice (at ``i`` and
``i + n``), so the visible image, oldest to newest, is always the contiguous view
``ring[w : w + n]``: no per-frame copy or allocation on our side.

The user zooms like on the event timeline: the mouse wheel zooms time (fewer or
more of the latest seconds; "now" stays at the right edge, so the picture keeps
scrolling), Shift+wheel or Ctrl+wheel zooms frequency around the cursor (the log
axis), a double-click shows everything again. :meth:`~ScrollingSpectrogram.zoom_time`,
:meth:`~ScrollingSpectrogram.zoom_frequency` and :meth:`~ScrollingSpectrogram.reset_zoom`
do the same for keys. Zooming only moves the view: the image is the same ring, redrawn
by the same timer.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget

from vinylmon.gui import style

#: Frequency ticks: round values, 1-2-5 per decade; finer steps (1-2-3-5, 1 to 9,
#: 1 to 9.5 by halves) when fewer than :data:`MIN_FREQ_TICKS` are in view (zoomed in).
_DECADES_HZ = (1, 10, 100, 1000, 10000, 100000)
_TICK_STEPS = ((1, 2, 5), (1, 2, 3, 5), tuple(range(1, 10)),
               tuple(k / 2 for k in range(2, 20)))
MIN_FREQ_TICKS = 3
#: Time ticks: the first step giving at most 10 ticks over the span in view, and no
#: more than one per :data:`_TICK_ROOM_PX` pixels.
_TIME_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)

#: The narrowest views: seconds of time (or two columns), octaves of frequency.
MIN_TIME_SPAN_S = 0.5
MIN_FREQ_OCTAVES = 1.0
#: Zoom factor per notch (120 eighths of a degree) of the mouse wheel.
WHEEL_ZOOM = 1.25
ZOOM_HINT = "seconds \u2014 wheel: zoom time, Shift+wheel: zoom frequency, double-click: all"
#: The hint where the long one does not fit (the tooltip has it all).
SHORT_HINT = "seconds \u2014 wheel: zoom"
#: Pixels per time tick label; pixels a tick label may reach past the axis' ends.
_TICK_ROOM_PX = 60
_LABEL_OVERHANG_PX = 30


def hz_label(hz: float) -> str:
    """A frequency as the axis shows it: ``50 Hz``, ``1 kHz``, ``12 kHz``."""
    return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz:g} Hz"


def frequency_ticks(lo_hz: float, hi_hz: float) -> list[float]:
    """Round frequencies to label between ``lo_hz`` and ``hi_hz`` (inclusive), increasing.

    1, 2 and 5 times a power of ten; when fewer than :data:`MIN_FREQ_TICKS` of
    those fall in the range (a narrow, zoomed-in range), finer round steps.

    Examples
    --------
    >>> frequency_ticks(30, 16000)
    [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]
    >>> frequency_ticks(700, 1400)
    [700.0, 800.0, 900.0, 1000.0]
    """
    for mults in _TICK_STEPS:
        ticks = [float(d * m) for d in _DECADES_HZ for m in mults
                 if lo_hz <= d * m <= hi_hz]
        if len(ticks) >= MIN_FREQ_TICKS:
            return ticks
    return ticks


class ScrollingSpectrogram(QWidget):
    """A scrolling spectrogram of log-spaced bands, with a dBFS colour bar.

    Parameters
    ----------
    freqs_hz : ndarray, shape (bands,)
        Centre frequency of each band, increasing (log-spaced); rows are drawn
        evenly and the axis is labelled by interpolating these.
    column_hop_s : float, keyword-only
        Seconds between consecutive columns.
    visible_s : float, keyword-only
        Seconds of history kept and shown (x axis ``-visible_s .. 0``); zooming in
        shows fewer of the latest ones (:attr:`time_span_s`).
    floor_db, ceiling_db : float, keyword-only
        dBFS mapped to the bottom and top of the colour map.
    parent : QWidget or None, keyword-only

    Attributes
    ----------
    frames_drawn : int
        Incremented each time :meth:`refresh` actually redrew.
    columns_total : int
        Columns appended since construction or :meth:`clear`.
    """

    def __init__(self, *, freqs_hz: np.ndarray, column_hop_s: float, visible_s: float = 20.0,
                 floor_db: float = -100.0, ceiling_db: float = 0.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        freqs = np.asarray(freqs_hz, dtype=np.float64)
        if freqs.ndim != 1 or freqs.size < 2:
            raise ValueError(f"freqs_hz must be 1-D with at least 2 bands, got shape {freqs.shape}")
        if not np.all(np.isfinite(freqs)) or np.any(freqs <= 0) or np.any(np.diff(freqs) <= 0):
            raise ValueError("freqs_hz must be finite, positive and strictly increasing")
        if not (math.isfinite(column_hop_s) and column_hop_s > 0):
            raise ValueError(f"column_hop_s must be a positive number, got {column_hop_s}")
        if not (math.isfinite(floor_db) and math.isfinite(ceiling_db) and floor_db < ceiling_db):
            raise ValueError(f"need finite floor_db < ceiling_db, got {floor_db}, {ceiling_db}")
        self.freqs_hz = freqs
        self.column_hop_s = float(column_hop_s)
        self.floor_db = float(floor_db)
        self.ceiling_db = float(ceiling_db)
        self.frames_drawn = 0
        self.columns_total = 0
        self._dirty = True
        self._ring = np.empty((0, freqs.size), dtype=np.float32)
        self._n = 0
        self._write = 0
        self._log_f = np.log(freqs)
        self._view_s: float | None = None  # None: the whole history
        self._y_view = (0.0, float(freqs.size))  # band rows in view (log frequency)

        style.apply_dark(self)
        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setMinimumSize(320, 180)
        plot = self.plot_widget.getPlotItem()
        self.plot = plot
        plot.setMenuEnabled(False)
        # Room for the colour bar's top and the x axis' "0" at the right edge.
        plot.layout.setContentsMargins(4, 12, 12, 4)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        style.style_plot(plot)
        # "now" sits at the right end: let its label reach past the axis' end.
        plot.getAxis("bottom").setStyle(hideOverlappingLabels=_LABEL_OVERHANG_PX)
        style.axis_label(plot, "bottom", ZOOM_HINT)
        self._hint = ZOOM_HINT
        metrics = QFontMetrics(style.font())
        self._hint_px = metrics.horizontalAdvance(ZOOM_HINT)
        self._font_px = metrics.height()
        self.image_item = pg.ImageItem(axisOrder="col-major")
        plot.addItem(self.image_item)
        cmap = pg.colormap.get("inferno")
        self.color_bar = pg.ColorBarItem(values=(self.floor_db, self.ceiling_db), colorMap=cmap,
                                         label="dBFS", interactive=False, width=16)
        self.color_bar.setImageItem(self.image_item, insert_in=plot)
        for name in ("right", "left"):
            ax = self.color_bar.getAxis(name) if hasattr(self.color_bar, "getAxis") else None
            if ax is not None:
                ax.setTextPen(pg.mkPen(style.FOREGROUND))
                ax.setStyle(tickFont=style.font())
        self._placeholder = pg.TextItem("waiting for audio…", color=style.MUTED, anchor=(0.5, 0.5))
        self._placeholder.setFont(style.font(point_size=style.LARGE_PT))
        plot.addItem(self._placeholder)

        left = plot.getAxis("left")
        left.setWidth(QFontMetrics(style.font()).horizontalAdvance("20 kHz") + 14)
        self.plot_widget.setToolTip("Mouse wheel: zoom in or out in time (the newest sound "
                                    "stays at the right). Shift+wheel or Ctrl+wheel: zoom "
                                    "in or out in frequency. Double-click: show everything.")
        self.plot_widget.viewport().installEventFilter(self)
        plot.getViewBox().sigResized.connect(self._update_ticks)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.set_visible_s(visible_s)

    # ------------------------------------------------------------------ data
    @property
    def visible_columns(self) -> int:
        """Number of columns the ring (and the image) holds."""
        return self._n

    @property
    def visible_s(self) -> float:
        """Seconds of history kept (and shown when not zoomed in)."""
        return self._n * self.column_hop_s

    def append(self, columns_db: np.ndarray) -> None:
        """Add spectrogram columns, newest last; drawn at the next :meth:`refresh`.

        Parameters
        ----------
        columns_db : ndarray, shape (n, bands) or (bands,)
            dBFS per band. NaN and values outside the colour range are clipped to it.

        Raises
        ------
        ValueError
            If the number of bands does not match ``freqs_hz``.
        """
        cols = np.asarray(columns_db, dtype=np.float32)
        bands = self.freqs_hz.size
        if cols.ndim == 1:
            cols = cols[None, :]
        if cols.ndim != 2 or cols.shape[1] != bands:
            raise ValueError(f"columns_db must have shape (n, {bands}), got {cols.shape}")
        m = cols.shape[0]
        if m == 0:
            return
        n = self._n
        self.columns_total += m
        if m > n:
            cols = cols[-n:]
            m = n
        w = self._write
        first = min(m, n - w)
        for lo, src in ((w, cols[:first]), (0, cols[first:])):
            k = src.shape[0]
            if k == 0:
                continue
            for off in (lo, lo + n):
                dst = self._ring[off:off + k]
                np.clip(src, self.floor_db, self.ceiling_db, out=dst)
                # np.clip passes NaN through; show it as the floor.
                np.copyto(dst, self.floor_db, where=np.isnan(dst))
        self._write = (w + m) % n
        self._dirty = True

    def image_db(self) -> np.ndarray:
        """The visible image, shape (visible_columns, bands), oldest column first (a view)."""
        return self._ring[self._write:self._write + self._n]

    def set_visible_s(self, visible_s: float) -> None:
        """Show ``visible_s`` seconds of history, keeping the newest columns."""
        if not (math.isfinite(visible_s) and visible_s > 0):
            raise ValueError(f"visible_s must be a positive number, got {visible_s}")
        n = max(2, round(visible_s / self.column_hop_s))
        if n == self._n:
            return
        old = self.image_db() if self._n else np.empty((0, self.freqs_hz.size), np.float32)
        self._ring = np.full((2 * n, self.freqs_hz.size), self.floor_db, dtype=np.float32)
        self._n = n
        self._write = 0
        keep = old[-n:]
        if keep.shape[0]:
            # Keep the newest columns at the right: pad on the left with the floor.
            pad = n - keep.shape[0]
            self._ring[pad:n] = keep
            self._ring[n + pad:2 * n] = keep
        x0 = -n * self.column_hop_s
        # setRect scales by the image's size, so the image of the new size goes in first.
        self.image_item.setImage(self.image_db(), autoLevels=False,
                                 levels=(self.floor_db, self.ceiling_db))
        self.image_item.setRect(QRectF(x0, 0.0, n * self.column_hop_s, float(self.freqs_hz.size)))
        if self._view_s is not None and self._view_s >= self.visible_s:
            self._view_s = None
        self._apply_view()
        self._dirty = True

    # ------------------------------------------------------------------ zoom
    @property
    def time_span_s(self) -> float:
        """Seconds on screen: the latest ones, "now" at the right edge."""
        return self.visible_s if self._view_s is None else self._view_s

    @property
    def min_time_span_s(self) -> float:
        """The narrowest time view: :data:`MIN_TIME_SPAN_S`, two columns, at most the history."""
        return min(self.visible_s, max(MIN_TIME_SPAN_S, 2 * self.column_hop_s))

    @property
    def frequency_range_hz(self) -> tuple[float, float]:
        """Lowest and highest frequency on screen (the edges of the rows in view)."""
        y0, y1 = self._y_view
        return self._y_to_hz(y0), self._y_to_hz(y1)

    @property
    def full_frequency_range_hz(self) -> tuple[float, float]:
        """Lowest and highest frequency of the data (the outer edges of the bands)."""
        return self._y_to_hz(0.0), self._y_to_hz(float(self.freqs_hz.size))

    @property
    def zoomed(self) -> bool:
        """Whether the view is narrower than the data, in time or in frequency."""
        return self._view_s is not None or self._y_view != (0.0, float(self.freqs_hz.size))

    def zoom_time(self, factor: float) -> float:
        """Show ``factor`` times fewer seconds (``factor`` < 1: more), "now" at the right.

        Clamped between :attr:`min_time_span_s` and the whole history (:attr:`visible_s`).

        Parameters
        ----------
        factor : float
            Positive; 2 halves the seconds on screen.

        Returns
        -------
        float
            The seconds now on screen (:attr:`time_span_s`).
        """
        factor = self._check_factor(factor)
        span = min(max(self.time_span_s / factor, self.min_time_span_s), self.visible_s)
        self._view_s = None if span >= self.visible_s else span
        self._apply_view()
        return self.time_span_s

    def zoom_frequency(self, factor: float, *, center_hz: float | None = None
                       ) -> tuple[float, float]:
        """Show a ``factor`` times narrower frequency range (log scale; < 1: wider).

        Clamped between :data:`MIN_FREQ_OCTAVES` (or two bands) and the data's range.

        Parameters
        ----------
        factor : float
            Positive; 2 halves the octaves on screen.
        center_hz : float or None, keyword-only
            The frequency that stays in place (the cursor's); default the middle of
            the view.

        Returns
        -------
        tuple of float
            The frequency range now on screen (:attr:`frequency_range_hz`).
        """
        factor = self._check_factor(factor)
        bands = float(self.freqs_hz.size)
        y0, y1 = self._y_view
        lo_hz, hi_hz = self.full_frequency_range_hz
        min_span = min(bands, max(2.0, bands * MIN_FREQ_OCTAVES / math.log2(hi_hz / lo_hz)))
        span = min(max((y1 - y0) / factor, min_span), bands)
        if center_hz is None or not (math.isfinite(center_hz) and center_hz > 0):
            anchor, frac = (y0 + y1) / 2, 0.5
        else:
            anchor = min(max(self._hz_to_y(center_hz), y0), y1)
            frac = (anchor - y0) / (y1 - y0)
        lo = min(max(anchor - frac * span, 0.0), bands - span)
        self._y_view = (lo, lo + span)
        self._apply_view()
        return self.frequency_range_hz

    def reset_zoom(self) -> None:
        """Show everything again: the whole history and every band."""
        self._view_s = None
        self._y_view = (0.0, float(self.freqs_hz.size))
        self._apply_view()

    @staticmethod
    def _check_factor(factor: float) -> float:
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
            raise ValueError(f"zoom factor must be a positive number, got {factor!r}")
        return float(factor)

    def _y_to_hz(self, y: float) -> float:
        """Frequency at height ``y`` (rows; row ``i`` spans ``i .. i + 1``, its centre is
        band ``i``), log-linear between band centres and beyond the ends."""
        x, lf, n = y - 0.5, self._log_f, self._log_f.size
        i = min(max(int(math.floor(x)), 0), n - 2)
        return math.exp(lf[i] + (x - i) * (lf[i + 1] - lf[i]))

    def _hz_to_y(self, hz: float) -> float:
        """Inverse of :meth:`_y_to_hz`."""
        v, lf = math.log(hz), self._log_f
        i = min(max(int(np.searchsorted(lf, v)) - 1, 0), lf.size - 2)
        return i + (v - lf[i]) / (lf[i + 1] - lf[i]) + 0.5

    def _apply_view(self) -> None:
        """Set the view ranges and the ticks for them (no image work)."""
        span = self.time_span_s
        y0, y1 = self._y_view
        # A hair past 0 so the axis keeps its "now" tick at the right edge.
        self.plot.setXRange(-span, 1e-3 * span, padding=0)
        self.plot.setYRange(y0, y1, padding=0)
        self._update_ticks()
        self._placeholder.setPos(-span / 2, (y0 + y1) / 2)

    def _update_ticks(self, *args) -> None:
        """Ticks for the view, as many as the plot's size has room for (on resize too)."""
        vb = self.plot.getViewBox()
        width, height = vb.width(), vb.height()
        span = self.time_span_s
        room = min(10, max(2, int(width // _TICK_ROOM_PX))) if width > 0 else 10
        step = next((s for s in _TIME_STEPS_S if span / s <= room + 1e-9), _TIME_STEPS_S[-1])
        count = int(math.floor(span / step + 1e-9))
        major = [(-round(k * step, 6), f"{-round(k * step, 6):g}" if k else "now")
                 for k in range(count + 1)]
        self.plot.getAxis("bottom").setTicks([major, []])
        lo_hz, hi_hz = self.frequency_range_hz
        ticks = frequency_ticks(lo_hz, hi_hz)
        if height > 0:
            fits = max(2, int(height // (1.6 * self._font_px)))
            ticks = ticks[::math.ceil(len(ticks) / fits)] if len(ticks) > fits else ticks
        self.plot.getAxis("left").setTicks(
            [[(self._hz_to_y(hz), hz_label(hz)) for hz in ticks], []])
        hint = ZOOM_HINT if width <= 0 or self._hint_px <= width else SHORT_HINT
        if hint != self._hint:
            self._hint = hint
            style.axis_label(self.plot, "bottom", hint)
            self.plot.getAxis("bottom").resizeEvent()  # centres the new label

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        """The plot's mouse: the wheel zooms, a double-click shows everything."""
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            delta = event.angleDelta().y() or event.angleDelta().x()  # Shift may turn it
            if not delta:
                delta = event.pixelDelta().y() or event.pixelDelta().x()
            if delta:
                factor = WHEEL_ZOOM ** (delta / 120.0)
                mods = event.modifiers()
                if mods & (Qt.KeyboardModifier.ShiftModifier
                           | Qt.KeyboardModifier.ControlModifier):
                    self.zoom_frequency(factor, center_hz=self._hz_at(event.position()))
                else:
                    self.zoom_time(factor)
            event.accept()
            return True
        if kind == QEvent.Type.MouseButtonDblClick:
            self.reset_zoom()
            event.accept()
            return True
        return super().eventFilter(watched, event)

    def _hz_at(self, pos) -> float | None:
        """The frequency under viewport position ``pos``; None outside the image."""
        vb = self.plot.getViewBox()
        scene = self.plot_widget.mapToScene(pos.toPoint())
        if not vb.sceneBoundingRect().contains(scene):
            return None
        y = vb.mapSceneToView(scene).y()
        return self._y_to_hz(y)

    def clear(self) -> None:
        """Forget all columns (the image shows the floor and the placeholder again)."""
        self._ring.fill(self.floor_db)
        self._write = 0
        self.columns_total = 0
        self._dirty = True

    # --------------------------------------------------------------- drawing
    def refresh(self) -> bool:
        """Redraw if columns arrived since the last call.

        Returns
        -------
        bool
            True if it drew (and ``frames_drawn`` went up).
        """
        if not self._dirty:
            return False
        self._dirty = False
        self._placeholder.setVisible(self.columns_total == 0)
        self.image_item.setImage(self.image_db(), autoLevels=False,
                                 levels=(self.floor_db, self.ceiling_db))
        self.frames_drawn += 1
        return True

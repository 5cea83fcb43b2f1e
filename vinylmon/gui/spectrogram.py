"""A live scrolling spectrogram: the last ``visible_s`` seconds, newest on the right.

Columns arrive through :meth:`ScrollingSpectrogram.append` (cheap: a copy into a
preallocated ring) and are drawn by :meth:`ScrollingSpectrogram.refresh`, which the
main window calls from a timer. The ring holds every column twice (at ``i`` and
``i + n``), so the visible image, oldest to newest, is always the contiguous view
``ring[w : w + n]``: no per-frame copy or allocation on our side.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from vinylmon.gui import style

#: Candidate frequency ticks (Hz); those inside the bands' range are shown.
_TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


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
        Seconds of history shown (x axis ``-visible_s .. 0``).
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
        plot.getAxis("bottom").setStyle(hideOverlappingLabels=False)
        style.axis_label(plot, "bottom", "seconds")
        style.axis_label(plot, "left", "Hz")
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
        bands = freqs.size
        log_f = np.log(freqs)
        ticks = [(float(np.interp(math.log(hz), log_f, np.arange(bands))) + 0.5, _hz_label(hz))
                 for hz in _TICKS_HZ if freqs[0] <= hz <= freqs[-1]]
        left.setTicks([ticks, []])
        left.setWidth(48)
        plot.setYRange(0, bands, padding=0)

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
        """Seconds of history shown."""
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
        # A hair past 0 so the axis keeps its "now" tick at the right edge.
        self.plot.setXRange(x0, 1e-3 * n * self.column_hop_s, padding=0)
        span_s = n * self.column_hop_s
        step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300) if span_s / s <= 10), 600)
        major = [(-k * step, f"{-k * step:g}" if k else "now")
                 for k in range(int(span_s // step) + 1)]
        self.plot.getAxis("bottom").setTicks([major, []])
        self._placeholder.setPos(x0 / 2, self.freqs_hz.size / 2)
        self._dirty = True

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

"""A close look at one event: the waveform of each channel and a short-time spectrogram.

The excerpt is small (a fraction of a second to a few seconds), so the
spectrogram is computed here in numpy when the dialog opens.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from numpy.lib.stride_tricks import sliding_window_view
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading.events import DefectEvent
from vinylmon.gui import style

#: Short-time spectrogram: FFT length and hop, samples.
N_FFT = 256
HOP = 32


def stft_db(signal: np.ndarray, *, n_fft: int = N_FFT, hop: int = HOP
            ) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrogram of ``signal`` in dBFS (a full-scale sine reads 0 dB).

    Frames are centred on samples ``0, hop, 2 hop, ...`` (the signal is zero-padded
    by ``n_fft // 2`` on each side) and Hann-windowed.

    Parameters
    ----------
    signal : ndarray, shape (n,)
    n_fft, hop : int, keyword-only

    Returns
    -------
    spec_db : ndarray, shape (frames, n_fft // 2 + 1), float32
    centres : ndarray, shape (frames,)
        Sample index of each frame's centre.
    """
    x = np.asarray(signal, dtype=np.float64)
    half = n_fft // 2
    padded = np.pad(x, (half, half))
    frames = sliding_window_view(padded, n_fft)[::hop]
    window = np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames * window, axis=1)) * (2.0 / window.sum())
    spec_db = (20.0 * np.log10(np.maximum(mag, 1e-10))).astype(np.float32)
    centres = np.arange(frames.shape[0]) * hop
    return spec_db, centres


class EventZoomDialog(QDialog):
    """Waveforms around ``event`` (ms from its start, its span highlighted) and a spectrogram.

    Parameters
    ----------
    event : DefectEvent
    samples : ndarray, shape (channels, n)
        The excerpt, float, full scale 1.0; must contain the event's start.
    sample_rate : int, keyword-only
    start_s : float, keyword-only
        Side time of ``samples[:, 0]``.
    play : callable or None, keyword-only
        ``play(cleaned: bool) -> str | None`` plays +-1 s around the event through the
        sound output, as recorded or with its clicks repaired, and says why not when
        it cannot; None: no Play buttons.
    parent : QWidget or None, keyword-only

    Attributes
    ----------
    spectrogram_db : ndarray, shape (frames, bins)
        dBFS of the event's channel (the mean of both for ``channel`` None).
    spectrogram_times_ms, freqs_hz : ndarray
        Frame centres (ms from the event's start) and bin frequencies.
    waveform_plots : list of pyqtgraph.PlotItem
        One per channel.

    Raises
    ------
    ValueError
        If ``samples`` is not a finite 2-D array, ``sample_rate`` or ``start_s``
        is invalid, or the event lies outside the excerpt or on a missing channel.
    """

    def __init__(self, event: DefectEvent, samples: np.ndarray, *, sample_rate: int,
                 start_s: float, play=None, parent: QWidget | None = None) -> None:
        x = self._validate(event, samples, sample_rate=sample_rate, start_s=start_s)
        super().__init__(parent)
        self.defect_event = event
        self.sample_rate = int(sample_rate)
        self.start_s = float(start_s)
        channels, n = x.shape
        self.setWindowTitle(f"vinylmon — {event.kind} at "
                            f"{style.format_time(event.start_s, millis=True)}")
        style.apply_dark(self)
        self.resize(900, 680)

        title = (f"{event.kind} at {style.format_time(event.start_s, millis=True)}  ·  "
                 f"{style.channel_name(event.channel)}  ·  {style.format_level_db(event.peak_db)}"
                 f"  ·  {1000 * (event.end_s - event.start_s):.1f} ms  ·  "
                 f"confidence {round(100 * event.confidence)} %")
        if event.scratch_id is not None:
            title += f"  ·  scratch #{event.scratch_id}"
        self.title_label = QLabel(title)
        self.title_label.setFont(style.font(point_size=style.LARGE_PT, bold=True))
        self.title_label.setWordWrap(True)

        color = style.color_of(event.kind, style.KIND_COLORS)
        t_ms = (self.start_s + np.arange(n) / self.sample_rate - event.start_s) * 1000.0
        span_ms = 1000.0 * (event.end_s - event.start_s)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(style.BACKGROUND)
        self.graphics.ci.setContentsMargins(4, 8, 16, 4)
        self.waveform_plots: list[pg.PlotItem] = []
        names = ("L", "R") if channels == 2 else tuple(f"ch{c}" for c in range(channels))
        if channels == 1:
            names = ("M",)
        for c in range(channels):
            plot = self.graphics.addPlot(row=c, col=0)
            style.style_plot(plot)
            plot.setMenuEnabled(False)
            style.axis_label(plot, "left", names[c])
            plot.getAxis("left").setWidth(64)
            plot.getAxis("left").enableAutoSIPrefix(False)
            on_event = event.channel is None or event.channel == c
            region = pg.LinearRegionItem((0.0, max(span_ms, 1000.0 / self.sample_rate)),
                                         movable=False,
                                         brush=style.qcolor(color, alpha=70 if on_event else 25),
                                         pen=pg.mkPen(color, width=1))
            region.setZValue(-5)
            plot.addItem(region)
            plot.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen(style.GRID)))
            curve = pg.PlotDataItem(t_ms, x[c], pen=pg.mkPen(style.FOREGROUND, width=1))
            plot.addItem(curve)
            curve.setDownsampling(auto=True, method="peak")
            if on_event:  # the damaged samples in the kind's colour
                inside = (t_ms >= 0.0) & (t_ms <= span_ms)
                plot.addItem(pg.PlotDataItem(t_ms[inside], x[c][inside],
                                             pen=pg.mkPen(color, width=2)))
            peak = float(np.max(np.abs(x[c]))) or 1.0
            plot.setYRange(-peak, peak, padding=0.08)
            plot.setXRange(float(t_ms[0]), float(t_ms[-1]), padding=0)
            if self.waveform_plots:
                plot.setXLink(self.waveform_plots[0])
            self.waveform_plots.append(plot)
            plot.getAxis("bottom").setStyle(showValues=False)

        mono = x.mean(axis=0) if event.channel is None else x[event.channel]
        spec, centres = stft_db(mono)
        self.spectrogram_db = spec
        self.spectrogram_times_ms = t_ms[0] + centres * 1000.0 / self.sample_rate
        self.freqs_hz = np.fft.rfftfreq(N_FFT, 1.0 / self.sample_rate)
        splot = self.graphics.addPlot(row=channels, col=0)
        self.spectrogram_plot = splot
        style.style_plot(splot)
        splot.setMenuEnabled(False)
        style.axis_label(splot, "left", "kHz")
        style.axis_label(splot, "bottom", "ms from the event's start")
        splot.getAxis("left").setWidth(64)
        image = pg.ImageItem(axisOrder="row-major")
        # Transposed so rows are frequency bins (y) and columns are frames (x).
        image.setImage(np.ascontiguousarray(spec.T), autoLevels=False)
        hop_ms = HOP * 1000.0 / self.sample_rate
        bin_khz = self.sample_rate / N_FFT / 1000.0
        image.setRect(QRectF(self.spectrogram_times_ms[0] - hop_ms / 2, -bin_khz / 2,
                             hop_ms * spec.shape[0], bin_khz * spec.shape[1]))
        splot.addItem(image)
        top_db = math.ceil(float(spec.max()) / 10.0) * 10.0
        bar = pg.ColorBarItem(values=(top_db - 90.0, top_db), colorMap=pg.colormap.get("inferno"),
                              label="dBFS", interactive=False, width=14)
        bar.setImageItem(image)
        bar.getAxis("right").setTextPen(pg.mkPen(style.FOREGROUND))
        # In a column of its own, so every plot of column 0 has the same width (linked x).
        self.graphics.addItem(bar, row=channels, col=1)
        splot.addItem(pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen(color, width=1,
                                                                  style=Qt.PenStyle.DashLine)))
        splot.addItem(pg.InfiniteLine(span_ms, angle=90, pen=pg.mkPen(color, width=1,
                                                                      style=Qt.PenStyle.DashLine)))
        splot.setYRange(0, self.sample_rate / 2000.0, padding=0)
        splot.setXLink(self.waveform_plots[0])
        self.spectrogram_image = image
        for c in range(channels):
            self.graphics.ci.layout.setRowStretchFactor(c, 2)
        self.graphics.ci.layout.setRowStretchFactor(channels, 3)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.play_note = QLabel("")
        self.play_buttons: dict[str, QPushButton] = {}
        if play is not None:
            for key, text, tip, cleaned in (
                    ("original", "Play ±1 s", "Hear one second either side of the event, "
                                             "as recorded", False),
                    ("cleaned", "Play cleaned", "The same two seconds with the clicks "
                                                "repaired", True)):
                b = buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
                b.setToolTip(tip)
                b.clicked.connect(lambda _c=False, c=cleaned: self._play(play, c))
                self.play_buttons[key] = b
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.play_note)
        layout.addWidget(buttons)

    def _play(self, play, cleaned: bool) -> None:
        why = play(cleaned)
        self.play_note.setText("" if why is None else f"Cannot play: {why}")

    @staticmethod
    def _validate(event: DefectEvent, samples: np.ndarray, *, sample_rate: int,
                  start_s: float) -> np.ndarray:
        try:
            x = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"samples must be a numeric array, got {type(samples).__name__}"
                             ) from err
        if x.ndim != 2:
            raise ValueError(f"samples must be 2-D (channels, n), got shape {x.shape}")
        channels, n = x.shape
        if not 1 <= channels <= 8:
            raise ValueError(f"samples must have 1 to 8 channels (rows), got {channels}; "
                             "pass (channels, n), not (n, channels)")
        if n < 2:
            raise ValueError(f"samples must hold at least 2 samples per channel, got {n}")
        if not np.all(np.isfinite(x)):
            raise ValueError("samples must be finite (found NaN or inf)")
        if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}")
        if not math.isfinite(start_s):
            raise ValueError(f"start_s must be finite, got {start_s}")
        if not (math.isfinite(event.start_s) and math.isfinite(event.end_s)
                and event.end_s >= event.start_s):
            raise ValueError(f"event needs finite start_s <= end_s, got "
                             f"{event.start_s}, {event.end_s}")
        end_s = start_s + n / sample_rate
        if not start_s <= event.start_s < end_s:
            raise ValueError(f"the event at {event.start_s:.3f} s is outside the excerpt "
                             f"[{start_s:.3f}, {end_s:.3f}) s")
        if event.channel is not None and not 0 <= event.channel < channels:
            raise ValueError(f"the event is on channel {event.channel} but samples has "
                             f"{channels} channel(s)")
        return x

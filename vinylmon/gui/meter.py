"""Input level meter: horizontal dBFS bars per channel, peak hold, CLIP and overflow lamps.

:meth:`LevelMeter.set_levels` only stores the newest levels; :meth:`LevelMeter.refresh`
(from the main window's timer) advances the peak hold and the CLIP lamp's timer
and repaints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from vinylmon.gui import style

#: Scale ticks, dBFS.
_SCALE_DBFS = (-60, -48, -36, -24, -12, -6, 0)
_LAMP_OFF = (f"background: {style.BACKGROUND}; color: {style.SILENT};"
             f" border: 1px solid {style.GRID};")
_LAMP_CLIP = "background: #e53935; color: white; border: 1px solid #ff8a80;"
_LAMP_OVERFLOW = "background: #e08a1e; color: black; border: 1px solid #ffcc80;"
_LAMP_CSS = "border-radius: 4px; padding: 2px 8px; font-weight: bold;"


def _finite_or(value: float, default: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else default


class _Bars(QWidget):
    """The painted part: one bar per channel and the dBFS scale under them."""

    def __init__(self, meter: LevelMeter) -> None:
        super().__init__(meter)
        self._meter = meter
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFont(style.font(point_size=style.BASE_PT - 1))

    def _bar_h(self) -> int:
        return 18

    def sizeHint(self) -> QSize:
        m = self._meter
        fm = self.fontMetrics()
        return QSize(260, m.channels * (self._bar_h() + 4) + fm.height() + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        m = self._meter
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        fm = self.fontMetrics()
        name_w = fm.horizontalAdvance("L") + 8
        num_w = max(fm.horizontalAdvance("-60.0") + 8,
                    fm.horizontalAdvance("0 dBFS") + 6)  # the scale's "0" sits on x1
        x0, x1 = name_w, self.width() - num_w
        width = max(1, x1 - x0)
        lo = m.floor_dbfs

        def xpos(dbfs: float) -> float:
            frac = (min(max(dbfs, lo), 0.0) - lo) / -lo
            return x0 + frac * width

        zones = ((lo, style.YELLOW_DBFS, style.METER_GREEN),
                 (style.YELLOW_DBFS, style.RED_DBFS, style.METER_YELLOW),
                 (style.RED_DBFS, 0.0, style.METER_RED))
        bar_h = self._bar_h()
        for ch in range(m.channels):
            y = 2 + ch * (bar_h + 4)
            p.setPen(style.qcolor(style.FOREGROUND))
            p.drawText(QRectF(0, y, name_w - 4, bar_h),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       m.channel_names[ch])
            p.fillRect(QRectF(x0, y, width, bar_h), style.qcolor(style.BACKGROUND))
            peak, rms = m._peak[ch], m._rms[ch]
            for z0, z1, color in zones:
                # Dim zone colour up to the peak, full colour up to the RMS.
                for top, alpha in ((peak, 110), (rms, 255)):
                    a, b = xpos(z0), xpos(min(z1, top))
                    if b > a:
                        p.fillRect(QRectF(a, y + 2, b - a, bar_h - 4),
                                   style.qcolor(color, alpha=alpha))
            hold = m._hold[ch]
            if hold > lo:
                xh = xpos(hold)
                p.setPen(QPen(style.qcolor("#ffffff"), 2))
                p.drawLine(int(xh), y, int(xh), y + bar_h)
            p.setPen(style.qcolor(style.FOREGROUND))
            text = f"{peak:.1f}" if peak > lo else "-inf"
            p.drawText(QRectF(x1 + 4, y, num_w - 4, bar_h),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        y = 2 + m.channels * (bar_h + 4)
        p.setPen(style.qcolor(style.MUTED))
        unit_w = fm.horizontalAdvance("dBFS")
        p.drawText(QRectF(x1 + num_w - unit_w - 2, y, unit_w + 2, fm.height()),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "dBFS")
        free_right = x1 + num_w - unit_w - 6  # labels right to left, skipping any that collide
        for db in sorted(_SCALE_DBFS, reverse=True):
            if db < lo:
                continue
            x = xpos(db)
            p.drawLine(int(x), y - 3, int(x), y)
            label = str(db)
            tw = fm.horizontalAdvance(label)
            if x + tw / 2 > free_right:
                continue
            p.drawText(QRectF(x - tw / 2 - 2, y, tw + 4, fm.height()),
                       Qt.AlignmentFlag.AlignCenter, label)
            free_right = x - tw / 2 - fm.horizontalAdvance(" ")
        p.end()


class LevelMeter(QWidget):
    """Per-channel input level in dBFS with peak hold, a CLIP lamp and an overflow count.

    Each bar shows the RMS level (full colour) and the peak level (dimmed) over
    green, yellow and red zones; a white line holds the highest recent peak.

    Parameters
    ----------
    channels : int, keyword-only
        1 or 2 (named ``M`` or ``L``, ``R``); :meth:`set_levels` with the other
        count switches to it.
    floor_dbfs : float, keyword-only
        Bottom of the scale (top is 0 dBFS).
    hold_s : float, keyword-only
        How long the peak-hold line stays before it falls (at ``fall_db_per_s``).
    fall_db_per_s : float, keyword-only
    clip_hold_s : float, keyword-only
        How long the CLIP lamp stays lit after the last clipped block.
    clock : callable, keyword-only
        Seconds, monotonic (tests pass a fake clock).
    parent : QWidget or None, keyword-only
    """

    def __init__(self, *, channels: int = 2, floor_dbfs: float = -60.0, hold_s: float = 1.5,
                 fall_db_per_s: float = 20.0, clip_hold_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if not (math.isfinite(floor_dbfs) and floor_dbfs < 0):
            raise ValueError(f"floor_dbfs must be negative, got {floor_dbfs}")
        self.channels = channels
        self.channel_names = ("M",) if channels == 1 else ("L", "R")
        self.floor_dbfs = float(floor_dbfs)
        self.hold_s = float(hold_s)
        self.fall_db_per_s = float(fall_db_per_s)
        self.clip_hold_s = float(clip_hold_s)
        self._clock = clock
        self._dirty = False
        self._pending: tuple[tuple[float, ...], tuple[float, ...], bool, int] | None = None
        self._peak = [self.floor_dbfs] * channels
        self._rms = [self.floor_dbfs] * channels
        self._hold = [self.floor_dbfs] * channels
        self._hold_t = [0.0] * channels
        self._clip_until = -math.inf
        self._overflows = 0
        self.clip_lit = False

        style.apply_dark(self)
        self._bars = _Bars(self)
        self.clip_label = QLabel("CLIP")
        self.clip_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.clip_label.setToolTip("lit when the input reached full scale (stays lit 2 s)")
        self.overflow_label = QLabel("overflow 0")
        self.overflow_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overflow_label.setToolTip("audio blocks lost because the input buffer overflowed")
        for lamp in (self.clip_label, self.overflow_label):
            lamp.setFont(style.font(point_size=style.BASE_PT, bold=True))
        lamps = QVBoxLayout()
        lamps.setSpacing(4)
        lamps.addWidget(self.clip_label)
        lamps.addWidget(self.overflow_label)
        lamps.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._bars, 1)
        layout.addLayout(lamps)
        self._style_lamps()

    # ------------------------------------------------------------------ data
    def set_levels(self, *, peak_dbfs: Sequence[float], rms_dbfs: Sequence[float],
                   clipped: bool, overflows: int) -> None:
        """Store the newest levels; shown at the next :meth:`refresh`.

        Parameters
        ----------
        peak_dbfs, rms_dbfs : sequence of float
            One value per channel, dBFS (-inf or NaN for silence).
        clipped : bool
            The input reached full scale since the last call.
        overflows : int
            Input overflows so far (shown when > 0).

        Raises
        ------
        ValueError
            If the sequences do not have one value per channel.
        """
        if len(peak_dbfs) != len(rms_dbfs) or len(peak_dbfs) not in (1, 2):
            raise ValueError(f"need 1 or 2 peak and as many rms values, got "
                             f"{len(peak_dbfs)} and {len(rms_dbfs)}")
        if len(peak_dbfs) != self.channels:
            self._set_channels(len(peak_dbfs))
        lo = self.floor_dbfs
        peak = tuple(_finite_or(v, lo) for v in peak_dbfs)
        rms = tuple(_finite_or(v, lo) for v in rms_dbfs)
        clip = bool(clipped)
        if self._pending is not None:
            clip = clip or self._pending[2]  # a clip between two refreshes is not lost
        self._pending = (peak, rms, clip, max(0, int(overflows)))
        self._dirty = True

    def _set_channels(self, channels: int) -> None:
        self.channels = channels
        self.channel_names = ("M",) if channels == 1 else ("L", "R")
        self._pending = None
        self.reset()
        self._bars.updateGeometry()

    def reset(self) -> None:
        """Put out the CLIP lamp, clear the peak hold and the overflow count."""
        lo = self.floor_dbfs
        self._pending = None
        self._peak = [lo] * self.channels
        self._rms = [lo] * self.channels
        self._hold = [lo] * self.channels
        self._hold_t = [0.0] * self.channels
        self._clip_until = -math.inf
        self._overflows = 0
        self.clip_lit = False
        self._style_lamps()
        self._bars.update()
        self._dirty = False

    # --------------------------------------------------------------- drawing
    def refresh(self) -> bool:
        """Apply the stored levels, advance peak hold and the CLIP timer, repaint if changed.

        Returns
        -------
        bool
            True if anything changed (and a repaint was scheduled).
        """
        holding = any(h > self.floor_dbfs for h in self._hold)
        if not (self._dirty or holding or self.clip_lit):
            return False
        now = self._clock()
        changed = False
        if self._pending is not None:
            peak, rms, clipped, overflows = self._pending
            self._pending = None
            self._peak, self._rms = list(peak), list(rms)
            if clipped:
                self._clip_until = now + self.clip_hold_s
            self._overflows = overflows
            changed = True
        self._dirty = False
        for ch in range(self.channels):
            if self._peak[ch] >= self._hold[ch]:
                if self._peak[ch] != self._hold[ch]:
                    changed = True
                self._hold[ch], self._hold_t[ch] = self._peak[ch], now
            elif now - self._hold_t[ch] > self.hold_s:
                falling_s = now - self._hold_t[ch] - self.hold_s
                fallen = self._hold[ch] - self.fall_db_per_s * falling_s
                self._hold[ch] = max(fallen, self._peak[ch], self.floor_dbfs)
                self._hold_t[ch] = now - self.hold_s  # fall from here on
                changed = True
        lit = now < self._clip_until
        if lit != self.clip_lit or changed:
            self.clip_lit = lit
            self._style_lamps()
            changed = True
        if changed:
            self._bars.update()
        return changed

    def _style_lamps(self) -> None:
        self.clip_label.setStyleSheet((_LAMP_CLIP if self.clip_lit else _LAMP_OFF) + _LAMP_CSS)
        self.overflow_label.setText(f"overflow {self._overflows}")
        self.overflow_label.setStyleSheet(
            (_LAMP_OVERFLOW if self._overflows > 0 else _LAMP_OFF) + _LAMP_CSS)

    # ---------------------------------------------------------------- state
    @property
    def peak_hold_dbfs(self) -> tuple[float, ...]:
        """The peak-hold line of each channel, dBFS (``floor_dbfs`` when none)."""
        return tuple(self._hold)

    @property
    def levels_dbfs(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The (peak, rms) levels drawn, dBFS per channel, clipped to the scale's floor."""
        return tuple(self._peak), tuple(self._rms)

    @property
    def overflows(self) -> int:
        """The overflow count shown."""
        return self._overflows

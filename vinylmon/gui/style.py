"""Shared look of the monitor: a dark theme, colours per defect kind, class and grade, fonts.

Everything here is plain data or a small helper, so every widget (and the main
window) draws a kind, a class or a grade in the same colour. Colours are hex
strings, usable in Qt style sheets, ``QColor`` and pyqtgraph alike.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QWidget

from vinylmon.grading import names

#: The theme: a dark background (pyqtgraph's own default is black).
BACKGROUND = "#15171c"
PANEL = "#1f232a"
FOREGROUND = "#e8e8e8"
MUTED = "#8b919b"
GRID = "#3a3f48"
SILENT = "#5b6068"
#: Placeholder text ("Artist"): dimmer than text, yet clearly readable on BACKGROUND.
PLACEHOLDER = "#b3b9c4"
HIGHLIGHT = "#3d6fb6"

#: Kinds, classes and grades take the one palette of :mod:`vinylmon.grading.names`
#: (the HTML report uses it too).
KIND_COLORS = names.KIND_COLORS
CLASS_COLORS = names.CLASS_COLORS
GRADE_COLORS = names.GRADE_COLORS
DEFAULT_COLOR = names.DEFAULT_COLOR

#: Point sizes: body text (labels, axes) and headline text.
BASE_PT = 11
LARGE_PT = 14
#: Level meter zones, dBFS: green below YELLOW_DBFS, yellow below RED_DBFS, red above.
YELLOW_DBFS = -12.0
RED_DBFS = -3.0
METER_GREEN = "#3cb34a"
METER_YELLOW = "#e6c229"
METER_RED = "#e53935"


def font(*, point_size: float = BASE_PT, bold: bool = False) -> QFont:
    """The monitor's UI font at ``point_size``.

    Parameters
    ----------
    point_size : float, keyword-only
    bold : bool, keyword-only

    Returns
    -------
    QFont
    """
    f = QFont()
    f.setPointSizeF(float(point_size))
    f.setBold(bold)
    return f


def color_of(name: str, table: dict[str, str]) -> str:
    """``table[name]``, or :data:`DEFAULT_COLOR` for a name the table lacks."""
    return table.get(name, DEFAULT_COLOR)


def qcolor(hex_color: str, *, alpha: int = 255) -> QColor:
    """A ``QColor`` of ``hex_color`` with ``alpha`` (0..255)."""
    c = QColor(hex_color)
    c.setAlpha(int(alpha))
    return c


def text_color_on(hex_color: str) -> str:
    """Black or white, whichever reads better on a background of ``hex_color``."""
    return names.text_color_on(hex_color)


def apply_dark(widget: QWidget) -> None:
    """Give ``widget`` (and the children that inherit its palette) the dark theme."""
    pal = widget.palette()
    for role, value in ((QPalette.ColorRole.Window, PANEL),
                        (QPalette.ColorRole.Base, BACKGROUND),
                        (QPalette.ColorRole.WindowText, FOREGROUND),
                        (QPalette.ColorRole.Text, FOREGROUND),
                        (QPalette.ColorRole.AlternateBase, PANEL),
                        (QPalette.ColorRole.Button, PANEL),
                        (QPalette.ColorRole.ButtonText, FOREGROUND),
                        (QPalette.ColorRole.Highlight, HIGHLIGHT),
                        (QPalette.ColorRole.HighlightedText, "#ffffff"),
                        (QPalette.ColorRole.PlaceholderText, PLACEHOLDER),
                        (QPalette.ColorRole.ToolTipBase, PANEL),
                        (QPalette.ColorRole.ToolTipText, FOREGROUND)):
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):  # disabled: dimmed, not black
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(MUTED))
    widget.setPalette(pal)
    widget.setAutoFillBackground(True)
    widget.setFont(font())


def style_plot(plot: pg.PlotItem, *, point_size: float = BASE_PT) -> None:
    """Readable axes on the dark theme: light tick labels at ``point_size``, dim axis lines."""
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(MUTED))
        axis.setTextPen(pg.mkPen(FOREGROUND))
        axis.setStyle(tickFont=font(point_size=point_size), tickTextOffset=4)


def axis_label(plot: pg.PlotItem, side: str, text: str) -> None:
    """Label the ``side`` axis of ``plot`` with ``text`` in the theme's colours."""
    plot.setLabel(side, text, **{"color": MUTED, "font-size": f"{BASE_PT}pt"})


def format_time(seconds: float, *, millis: bool = False) -> str:
    """``seconds`` as ``m:ss`` (or ``m:ss.mmm`` with ``millis``); minutes do not wrap at 60.

    Parameters
    ----------
    seconds : float
        May be negative (``-0:05``); a non-finite value gives ``--:--``.
    millis : bool, keyword-only
        Show milliseconds.

    Returns
    -------
    str

    Examples
    --------
    >>> format_time(192.4812, millis=True)
    '3:12.481'
    >>> format_time(59.6)
    '1:00'
    """
    if not math.isfinite(seconds):
        return "--:--.---" if millis else "--:--"
    sign = "-" if seconds < 0 else ""
    if millis:
        total_ms = round(abs(seconds) * 1000.0)
        minutes, ms = divmod(total_ms, 60_000)
        return f"{sign}{minutes}:{ms // 1000:02d}.{ms % 1000:03d}"
    total_s = round(abs(seconds))
    minutes, secs = divmod(total_s, 60)
    return f"{sign}{minutes}:{secs:02d}"


def format_level_db(peak_db: float) -> str:
    """A level re L as shown to the user: ``-4.2 dB re L``."""
    if not math.isfinite(peak_db):
        return "-inf dB re L" if peak_db < 0 else "n/a"
    return f"{peak_db:+.1f} dB re L"


def channel_name(channel: int | None) -> str:
    """``L``, ``R`` or ``L+R`` for channel 0, 1 or None."""
    return {0: "L", 1: "R", None: "L+R"}.get(channel, f"ch{channel}")

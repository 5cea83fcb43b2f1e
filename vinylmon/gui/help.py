"""The Help menu's pages: the grading rubric, what "dB re L" means, what each lane and
colour of the monitor means, the keyboard shortcuts, and the version.

The pages are made from the rubric's own limits and the one palette
(:mod:`vinylmon.grading.names`), so they cannot disagree with the grade.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from vinylmon import __version__
from vinylmon.grading import names
from vinylmon.grading.rubric import (
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    VG_SCRATCH_PEAK_DB,
)
from vinylmon.gui import style

#: (keys, what they do), as the menus bind them.
SHORTCUTS = (
    ("Space", "start / stop listening"),
    ("Ctrl+S", "save the session (report and audio) into a folder"),
    ("Ctrl+O", "open a saved session"),
    ("Ctrl+E", "export the HTML report"),
    ("Ctrl+Shift+E", "export the events as CSV"),
    ("+ / −", "zoom the timeline and the spectrogram in / out in time"),
    ("0", "show the whole side again"),
    ("F1", "this help"),
    ("Esc", "close a pop-up"),
)


def _num(x: float) -> str:
    return f"{x:g}"


def rubric_html() -> str:
    """GRADING.md's rubric as a table, from :mod:`vinylmon.grading.rubric`'s limits."""
    head = "".join(f"<th>{escape(h)}</th>" for h in (
        "grade", "c: clicks per minute", "k: crackle per second", "n: surface noise (dB re L)",
        "s: repeating scratches", "x: skips"))
    rows = []
    for i, g in enumerate(GRADES):
        color = names.GRADE_COLORS[g]
        cell = (f"<td style='background:{color}; color:{names.text_color_on(color)};"
                f" font-weight:bold'>&nbsp;{escape(g)}&nbsp;</td>")
        if i < len(CLICK_LIMITS):
            scratch = ("none" if i < 2 else f"at most one, peak &lt; L{_num(VG_SCRATCH_PEAK_DB)} dB"
                       if i == 2 else "any")
            cells = [f"&lt; {_num(CLICK_LIMITS[i])}", f"&lt; {_num(CRACKLE_LIMITS[i])}",
                     f"≤ {_num(NOISE_LIMITS[i])}", scratch, "none"]
        else:
            cells = ["anything worse, or any skip / repeat", "", "", "", ""]
        rows.append("<tr>" + cell + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<table cellspacing='0' cellpadding='4' border='1'><tr>{head}</tr>"
            + "".join(rows) + "</table><p>The worst criterion decides the grade; the reason "
            "under the grade names it.</p>")


def help_html() -> str:
    """The whole help page."""
    kinds = "".join(
        f"<li><span style='color:{names.KIND_COLORS[k]}'>■</span> <b>{escape(names.KIND_NAMES[k])}"
        f"</b></li>" for k in names.KIND_COLORS)
    keys = "".join(f"<tr><td><b>{escape(k)}</b></td><td>{escape(v)}</td></tr>"
                   for k, v in SHORTCUTS)
    return f"""
<h2>vinylmon {escape(__version__)}</h2>
<p>vinylmon listens to a record while it plays and grades what it hears, with the
audio-only rubric of GRADING.md (Goldmine grades as heard: the sleeve and the vinyl's
look are not graded).</p>
<h3>The grading rubric</h3>
{rubric_html()}
<h3>What "dB re L" means</h3>
<p><b>L</b> is the program level: how loud the music itself is (its RMS over the
non-silent audio). Every level vinylmon shows is relative to it: a click at
<b>−4 dB re L</b> is 4 dB quieter than the music; surface noise at <b>−55 dB re L</b>
is 55 dB under it. So the grade does not depend on how loud the record was recorded
or how far the microphone is.</p>
<h3>The monitor</h3>
<ul>
<li><b>Spectrogram</b> (top left): the sound as it arrives, low notes at the bottom,
louder is brighter. Mouse wheel zooms.</li>
<li><b>Timeline</b> (bottom left): the whole side. Lanes <b>L</b> and <b>R</b> hold a tick
per event in that channel (taller is louder; an event in both channels is in both
lanes); the <b>scratches</b> lane holds each scratch that repeats once per revolution,
with its period. Grey: silence (not graded). Hover a tick for its time and level;
click it to see and hear it up close.</li>
<li><b>Disc map</b> (beside the timeline): the record seen from above. Each event sits
where it is on the vinyl: its angle is where in the revolution it falls, its distance from
the centre how far the stylus had travelled inward. A scratch that repeats every
revolution is a short radial line with its tick count. Click a mark to hear it.</li>
<li><b>Grade</b> (right): the side's grade so far, how likely it is, and the criterion
that limited it. It is marked provisional until about a minute of music is heard.</li>
<li><b>Grade of the side so far</b>: the probability of each grade.</li>
<li><b>This window's likelihoods</b>: what the detector hears in the latest 5 seconds
(they add up to 100 %; they are not counts).</li>
<li><b>Level meter</b>: the input level in dBFS; red means the input clips.</li>
</ul>
<h3>Colours of the events</h3>
<ul>{kinds}</ul>
<p>c counts clicks, pops and scratch ticks at or above L−10 dB; k counts the quieter
crackle, estimated as a density because most of it hides under the music.</p>
<h3>Keyboard</h3>
<table cellpadding='3'>{keys}</table>
"""


class HelpDialog(QDialog):
    """The help page in a dark, scrollable, non-modal dialog (Esc closes it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("vinylmon help")
        style.apply_dark(self)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(help_html())
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 720)

    def text(self) -> str:
        """The page as plain text (tests read it)."""
        return self.browser.toPlainText()

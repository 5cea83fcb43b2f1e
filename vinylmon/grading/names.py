"""One set of names and one palette for everything GRADING.md defines.

The monitor (``gui/``), the HTML report (``reports/``) and the command line show
criteria, event kinds, detector classes and grades with these words and these
colours, defined here once. Colours are hex strings (Qt style sheets, ``QColor``,
pyqtgraph, CSS and SVG all read them).

Plain data, no imports beyond the rubric's names.
"""

from __future__ import annotations

from vinylmon.grading.rubric import CRITERIA, GRADES

#: GRADING.md's words for each criterion of ``summary.limited_by``.
CRITERION_NAMES = {
    "clicks_per_min": "clicks per minute",
    "crackle_per_s": "crackle per second",
    "surface_noise_db": "surface noise",
    "scratches": "repeating scratches",
    "skips": "skips / repeats",
}
#: GRADING.md's symbol and unit of each criterion.
CRITERION_SYMBOLS = {"clicks_per_min": "c", "crackle_per_s": "k", "surface_noise_db": "n",
                     "scratches": "s", "skips": "x"}
CRITERION_UNITS = {"clicks_per_min": "clicks/min", "crackle_per_s": "crackle/s",
                   "surface_noise_db": "dB re L", "scratches": "", "skips": ""}

#: Event kinds (:data:`vinylmon.grading.events.KINDS`): the word, and what counts them.
KIND_NAMES = {"click": "click", "pop": "pop", "crackle": "crackle", "scratch": "scratch tick"}

#: Event kinds.
KIND_COLORS = {
    "click": "#ff9f1c",    # orange
    "pop": "#ff5ec4",      # magenta
    "crackle": "#ffd23f",  # yellow
    "scratch": "#ff4d5e",  # red
}
#: A skip or repeat (the stylus jumped).
SKIP_COLOR = "#b07cff"     # violet
#: Classes of the defect detector (clean, click, crackle, scratch, noise).
CLASS_COLORS = {
    "clean": "#4caf50",    # green
    "click": KIND_COLORS["click"],
    "crackle": KIND_COLORS["crackle"],
    "scratch": KIND_COLORS["scratch"],
    "noise": "#7f9cc0",    # grey-blue
}
#: Grades, NM green to F red.
GRADE_COLORS = {
    "NM": "#2e9d4a",
    "VG+": "#74b33c",
    "VG": "#b5b82c",
    "G+": "#e0a526",
    "G": "#e8692a",
    "F": "#d0333a",
}
#: Fallback for names without a colour of their own.
DEFAULT_COLOR = "#9aa7b8"

#: What a 78 rpm record's grade means: said by the report, the monitor and the CLI.
SHELLAC_NOTE = ("78 rpm: shellac is noisier by nature than vinyl; this grade uses the LP "
                "rubric of GRADING.md, so read the limiting reason beside it.")

assert set(CRITERION_NAMES) == set(CRITERIA) == set(CRITERION_UNITS)
assert set(GRADE_COLORS) == set(GRADES)


def criterion_name(criterion: str | None) -> str:
    """GRADING.md's words for a ``limited_by`` value ("" for None, the name itself when
    unknown)."""
    if criterion is None:
        return ""
    return CRITERION_NAMES.get(criterion, criterion)


def text_color_on(hex_color: str) -> str:
    """Black or white, whichever reads better on a background of ``hex_color``."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return "#111111" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def is_shellac(rpm: float | None) -> bool:
    """Whether ``rpm`` is 78 (a shellac record)."""
    return rpm is not None and abs(float(rpm) - 78.0) < 1.0


#: What the sound output can play (the monitor's View > Listen, the stream declicker):
#: the sound as recorded, with its clicks repaired, or the clicks alone.
LISTEN_STREAMS = ("original", "cleaned", "removed")

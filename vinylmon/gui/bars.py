"""Probability displays: labelled confidence bars and the grade badge.

Both update in their setters (a handful of labels: cheap), so ``refresh()`` is a
no-op kept for a uniform widget interface.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from vinylmon.grading.rubric import GRADES
from vinylmon.gui import style


class _Bar(QWidget):
    """One horizontal bar, 0..1, painted in ``color`` (grey when ``greyed``)."""

    def __init__(self, color: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.color = color
        self.value = 0.0
        self.greyed = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(160, 20)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 20)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        r = QRectF(self.rect())
        p.fillRect(r, style.qcolor(style.BACKGROUND))
        if self.value > 0:
            color = style.SILENT if self.greyed else self.color
            p.fillRect(QRectF(r.x(), r.y() + 2, r.width() * self.value, r.height() - 4),
                       style.qcolor(color))
        p.end()


class ConfidenceBars(QWidget):
    """Labelled horizontal bars (0..100 %), one per name, in the name's colour.

    Parameters
    ----------
    names : sequence of str
        One bar per name, top to bottom (e.g. the detector's classes).
    colors : mapping or sequence of str, keyword-only
        Colour per name (a mapping name -> colour or one colour per name);
        default :data:`vinylmon.gui.style.CLASS_COLORS`, then a neutral colour.
    title : str, keyword-only
        Heading above the bars ("" for none).
    tooltip : str, keyword-only
        What the bars are; each row's tooltip is ``row_tooltip.format(name=...)``.
    row_tooltip : str, keyword-only
    parent : QWidget or None, keyword-only
    """

    def __init__(self, names: Sequence[str], *,
                 colors: Mapping[str, str] | Sequence[str] | None = None, title: str = "",
                 tooltip: str = "", row_tooltip: str = "{name}",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names = tuple(str(n) for n in names)
        if not self.names:
            raise ValueError("ConfidenceBars needs at least one name")
        if colors is None:
            colors = style.CLASS_COLORS
        if isinstance(colors, Mapping):
            self.colors = tuple(colors.get(n, style.DEFAULT_COLOR) for n in self.names)
        else:
            self.colors = tuple(colors)
            if len(self.colors) != len(self.names):
                raise ValueError(f"need one colour per name ({len(self.names)}), "
                                 f"got {len(self.colors)}")
        self._values: tuple[float, ...] | None = None

        style.apply_dark(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        self.title_label = QLabel(title)
        self.title_label.setFont(style.font(point_size=style.BASE_PT, bold=True))
        self.title_label.setVisible(bool(title))
        self.title_label.setWordWrap(True)
        self.title_label.setToolTip(tooltip)
        self.setToolTip(tooltip)
        layout.addWidget(self.title_label)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        self._name_labels: list[QLabel] = []
        self._bars: list[_Bar] = []
        self._pct_labels: list[QLabel] = []
        pct_w = self.fontMetrics().horizontalAdvance("100 %") + 6
        for row, (name, color) in enumerate(zip(self.names, self.colors, strict=True)):
            name_label = QLabel(name)
            name_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bar = _Bar(color, self)
            pct = QLabel("—")
            pct.setMinimumWidth(pct_w)
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tip = row_tooltip.format(name=name)
            for w in (name_label, bar, pct):
                w.setToolTip(tip)
            grid.addWidget(name_label, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(pct, row, 2)
            self._name_labels.append(name_label)
            self._bars.append(bar)
            self._pct_labels.append(pct)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.note_label = QLabel("")
        self.note_label.setWordWrap(True)
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note_label.setStyleSheet(f"color: {style.MUTED}; font-style: italic;")
        layout.addWidget(self.note_label)
        self.set_values(None, note="waiting for audio…")

    def set_values(self, values: Sequence[float] | None, *, note: str = "") -> None:
        """Show ``values`` (fractions 0..1, one per name), or greyed bars and ``note``.

        Parameters
        ----------
        values : sequence of float or None
            None greys the bars (keeping the last values, e.g. for a silent window)
            and shows ``note`` (``"silent"`` when empty).
        note : str, keyword-only
            A line under the bars ("" for none when values are given).

        Raises
        ------
        ValueError
            If the count does not match the names or a value is not finite.
        """
        if values is None:
            self._values = None
            self.note_label.setText(note or "silent")
            self.note_label.setVisible(True)
            for bar, pct, name_label in zip(self._bars, self._pct_labels, self._name_labels,
                                            strict=True):
                bar.greyed = True
                bar.update()
                pct.setText("—")
                pct.setStyleSheet(f"color: {style.MUTED};")
                name_label.setStyleSheet(f"color: {style.MUTED};")
            return
        vals = [float(v) for v in values]
        if len(vals) != len(self.names):
            raise ValueError(f"need {len(self.names)} values, got {len(vals)}")
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"values must be finite, got {vals}")
        vals = [min(max(v, 0.0), 1.0) for v in vals]
        self._values = tuple(vals)
        best = max(range(len(vals)), key=vals.__getitem__)
        for i, (bar, pct, name_label) in enumerate(zip(self._bars, self._pct_labels,
                                                        self._name_labels, strict=True)):
            bar.value, bar.greyed = vals[i], False
            bar.update()
            pct.setText(f"{round(100 * vals[i])} %")
            weight = "bold" if i == best else "normal"
            pct.setStyleSheet(f"color: {style.FOREGROUND}; font-weight: {weight};")
            name_label.setStyleSheet(f"color: {style.FOREGROUND}; font-weight: {weight};")
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))

    def values(self) -> tuple[float, ...] | None:
        """The values shown (clipped to 0..1), or None while greyed."""
        return self._values

    def percent_texts(self) -> tuple[str, ...]:
        """The text beside each bar ("78 %", or "—" while greyed)."""
        return tuple(lbl.text() for lbl in self._pct_labels)

    @property
    def greyed(self) -> bool:
        """True while no values are shown (silent or waiting)."""
        return self._values is None

    @property
    def note(self) -> str:
        """The note under the bars."""
        return self.note_label.text()

    def refresh(self) -> bool:
        """Nothing to do: the setter updates the labels. Returns False."""
        return False


class GradeBadge(QWidget):
    """The side's grade in a coloured box, its confidence, and the limiting reason.

    Parameters
    ----------
    parent : QWidget or None, keyword-only
    """

    def __init__(self, *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style.apply_dark(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        heading = QLabel("grade")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        heading.setStyleSheet(f"color: {style.MUTED};")
        self.grade_label = QLabel()
        self.grade_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grade_label.setFont(style.font(point_size=40, bold=True))
        fm = self.grade_label.fontMetrics()
        self.grade_label.setMinimumSize(fm.horizontalAdvance("VG+") + 48, fm.height() + 20)
        self.confidence_label = QLabel()
        self.confidence_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label.setFont(style.font(point_size=style.LARGE_PT, bold=True))
        self.reason_label = QLabel()
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.reason_label.setWordWrap(True)
        self.reason_label.setMinimumWidth(160)
        self.provisional_label = QLabel()
        self.provisional_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.provisional_label.setStyleSheet(f"color: {style.MUTED}; font-style: italic;")
        self.provisional_label.setToolTip(
            "Until about a minute of music is heard, a few events more or less can change "
            "the grade: it is provisional.")
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.note_label.setStyleSheet(f"color: {style.FOREGROUND}; border: 1px solid "
                                      f"{style.GRID}; padding: 4px;")
        self.grade_label.setToolTip("The side's grade so far (GRADING.md's audio rubric)")
        self.confidence_label.setToolTip("How likely this grade is, given what was heard and "
                                         "how exactly vinylmon measures")
        layout.addWidget(heading)
        layout.addWidget(self.grade_label)
        layout.addWidget(self.confidence_label)
        layout.addWidget(self.provisional_label)
        layout.addWidget(self.reason_label, 1)
        layout.addWidget(self.note_label)
        self._grade: str | None = None
        self.set_grade(None, confidence=None, reason="")

    def set_grade(self, grade: str | None, *, confidence: float | None, reason: str,
                  provisional_heard_s: float | None = None, note: str = "") -> None:
        """Show ``grade`` (one of GRADES) or, for None, "—" and ``reason`` (e.g. "not
        listening").

        Parameters
        ----------
        grade : str or None
        confidence : float or None, keyword-only
            Probability of ``grade``, 0..1 (shown as "78 %"); None hides it.
        reason : str, keyword-only
            What limited the grade, e.g. "VG: 11.2 clicks/min; VG+ allows < 4".
        provisional_heard_s : float or None, keyword-only
            Seconds of music heard, when the grade is still provisional (shown as
            "provisional: 0:26 heard"); None: settled.
        note : str, keyword-only
            A note shown under the reason (e.g. the 78 rpm shellac note); "" hides it.

        Raises
        ------
        ValueError
            If ``grade`` is not one of GRADES or ``confidence`` is not in 0..1.
        """
        if grade is not None and grade not in GRADES:
            raise ValueError(f"grade must be one of {GRADES} or None, got {grade!r}")
        if confidence is not None and not (math.isfinite(confidence) and 0 <= confidence <= 1):
            raise ValueError(f"confidence must be in 0..1 or None, got {confidence}")
        self._grade = grade
        if grade is None:
            bg, fg = style.BACKGROUND, style.MUTED
            border = style.GRID
            self.grade_label.setText("—")
            self.confidence_label.setText("")
            self.reason_label.setText(reason)
        else:
            bg = style.GRADE_COLORS[grade]
            fg, border = style.text_color_on(bg), bg
            self.grade_label.setText(grade)
            self.confidence_label.setText(
                "" if confidence is None else f"{round(100 * confidence)} %")
            self.reason_label.setText(reason)
        self.confidence_label.setVisible(bool(self.confidence_label.text()))
        self.provisional_label.setText(
            "" if grade is None or provisional_heard_s is None
            else f"provisional: {style.format_time(provisional_heard_s)} heard")
        self.provisional_label.setVisible(bool(self.provisional_label.text()))
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))
        self.grade_label.setStyleSheet(
            f"background: {bg}; color: {fg}; border: 2px solid {border}; border-radius: 14px;"
            " padding: 4px 16px;")
        self.reason_label.setToolTip("The criterion that limited the grade, and what the "
                                     "next better grade allows")
        self.setToolTip(self.reason_label.text())

    @property
    def grade(self) -> str | None:
        """The grade shown (None while listening)."""
        return self._grade

    def grade_text(self) -> str:
        """The text in the badge ("VG+" or "—")."""
        return self.grade_label.text()

    def confidence_text(self) -> str:
        """The confidence line ("78 %" or "")."""
        return self.confidence_label.text()

    def provisional_text(self) -> str:
        """The provisional line ("provisional: 0:26 heard" or "")."""
        return self.provisional_label.text()

    def note_text(self) -> str:
        """The note under the reason ("" when none)."""
        return self.note_label.text()

    def reason_text(self) -> str:
        """The reason line."""
        return self.reason_label.text()

    def refresh(self) -> bool:
        """Nothing to do: the setter updates the labels. Returns False."""
        return False

"""The settings dialog's "Microphone" page: adapt the models to a new microphone.

Steps, top to bottom: pick the input and check its level; record a calibration
take (1-3 minutes of a record whose grade you know; or use a recording of one);
fine-tune (progress, time left, cancel); see the before/after figures; the new
profile is saved for that input and selected. Below, the saved profiles: switch
one off, rename or remove it.

Everything slow (recording, fine-tuning) runs on a worker thread of the backend
(``vinylmon.cli.monitor.AppBackend``); this page only shows progress from signals. A
cancelled or failed run leaves no profile behind (the backend saves a profile
only when it is complete).
"""

from __future__ import annotations

import logging
import math
import threading
import time

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading.rubric import GRADES
from vinylmon.gui import style
from vinylmon.gui.settings import (
    apply_dialog_theme,
    no_input_message,
    refresh_controls,
)

log = logging.getLogger(__name__)

TAKE_RANGE_S = (60, 180)
#: What step 3 says until there is a sample.
NO_TAKE_STATUS = "Fine-tuning can start once there is a sample (step 2)."
#: Taller than this (pixels), the page scrolls.
MAX_PAGE_HEIGHT = 620

#: The before/after table, in plain words: columns and rows, and what each means.
RESULT_COLUMNS = ["Clicks found\n(F1) before", "Clicks found\n(F1) after",
                  "Sound type\nright before", "Sound type\nright after"]
RESULT_COLUMN_TIPS = [
    "Clicks found correctly before fine-tuning, as an F1 score: 1.000 finds every click "
    "and nothing else; lower misses clicks or hears clicks that are not there.",
    "Clicks found correctly after fine-tuning (F1): higher than before is better.",
    "Share of stretches whose kind of sound (clean, clicks, crackle, scratch, noise) was "
    "named right, before fine-tuning.",
    "The same after fine-tuning: higher is better.",
]
RESULT_ROWS = ["This microphone", "Test records"]
RESULT_ROW_TIPS = [
    "Scored on a part of your sample that was kept aside (not learnt from).",
    "Scored on the recordings vinylmon was made with: should stay about the same, "
    "showing the tuning did not unlearn other sounds.",
]
RESULTS_TOOLTIP = ("How well vinylmon hears clicks and kinds of sound before and after "
                   "fine-tuning (1.000 is perfect). \u2013 means not measured yet.")


class _Relay(QObject):
    """Worker-thread callbacks as signals (delivered on the GUI thread)."""

    progress = Signal(float, str)
    done = Signal(str, object)
    failed = Signal(str, object)


class _VerticalScroll(QScrollArea):
    """Scrolls its page up and down only: as wide as the page needs, at most
    :data:`MAX_PAGE_HEIGHT` tall when the page is taller."""

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        page = self.widget().minimumSizeHint()
        return QSize(page.width() + self._bar(), min(page.height(), 240))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt)
        page = self.widget().sizeHint()
        return QSize(page.width() + self._bar(), min(page.height(), MAX_PAGE_HEIGHT))


class MicrophonePage(QWidget):
    """Record a calibration take, fine-tune, save and select a profile.

    Parameters
    ----------
    backend : vinylmon.cli.monitor.AppBackend
        ``input_names``, ``record_take``, ``take_from_file``, ``run_finetune``,
        ``profile_infos``, ``use_profile``, ``rename_profile``, ``remove_profile``,
        ``set_profile_enabled``.
    device_name : str or None, keyword-only
        The input chosen in the main window.
    finetune_options : dict, keyword-only
        Passed to ``run_finetune`` (e.g. ``config``; tests shorten the run).

    Signals
    -------
    profileSaved(str)
        A new profile was saved and selected.
    inputsChanged(list)
        Refresh listed the inputs again (their names); the settings dialog's
        General page follows.
    """

    profileSaved = Signal(str)
    inputsChanged = Signal(list)

    def __init__(self, backend, *, device_name: str | None = None,
                 finetune_options: dict | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.finetune_options = dict(finetune_options or {})
        self.take = None  # (2, n) float32 at 44.1 kHz
        self.take_source = ""
        self.result = None
        self.error = ""
        self._cancel: threading.Event | None = None
        self._busy = ""
        self._t0 = 0.0
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._has_inputs = False

        apply_dialog_theme(self)  # also when shown outside the settings dialog
        content = QWidget(self)  # a child from the start: sizes below use the theme's font
        layout = QVBoxLayout(content)
        # 1. input and level
        box1 = QGroupBox("1. Choose the microphone or line-in and check its level")
        self.device_combo = QComboBox()
        self.device_combo.setPlaceholderText("none found")
        self.device_combo.setToolTip("The microphone or line-in that hears the turntable; the "
                                     "profile made here is used automatically for it.")
        self.refresh_button, self.no_input_label = refresh_controls(self.refresh_inputs)
        self._device_name = device_name
        self.level_button = QPushButton("Check level")
        self.level_button.setToolTip("Listens for 2 seconds: play a loud passage of a record "
                                     "and see whether the input is too quiet or too loud.")
        self.level_button.clicked.connect(self.check_level)
        self.level_label = QLabel("Play a record and press Check level: its loudest moments "
                                  "should reach -20 to -3 dBFS (dB below the loudest sound "
                                  "the input can take).")
        self.level_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Input"))
        row.addWidget(self.device_combo, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.level_button)
        v1 = QVBoxLayout(box1)
        v1.addLayout(row)
        v1.addWidget(self.no_input_label)
        v1.addWidget(self.level_label)
        layout.addWidget(box1)

        # 2. the take
        box2 = QGroupBox("2. Record a sample: play 1 to 3 minutes of a record whose grade "
                         "you know")
        f2 = QFormLayout(box2)
        self.grade_combo = QComboBox()
        for g in GRADES:
            self.grade_combo.addItem(g)
        self.grade_combo.setToolTip("The grade of the record you play (NM near mint, VG+ very "
                                    "good plus, ... F fair); a new record is NM.")
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(*TAKE_RANGE_S)
        self.seconds_spin.setSingleStep(30)
        self.seconds_spin.setValue(120)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setToolTip("How long to record: longer samples teach vinylmon more "
                                     "but take longer to record and to learn from.")
        self.record_button = QPushButton("Record sample")
        self.record_button.setToolTip("Start the record, then press this: vinylmon records "
                                      "from the input chosen above for the time set here.")
        self.record_button.clicked.connect(self.record_take)
        self.file_button = QPushButton("Use a recording…")
        self.file_button.setToolTip("Instead of recording now: a recording (needle-drop) of "
                                    "the record made through this microphone.")
        self.file_button.clicked.connect(self._ask_take_file)
        self.take_label = QLabel("No sample yet.")
        self.take_label.setWordWrap(True)
        row2 = QHBoxLayout()
        row2.addWidget(self.seconds_spin)
        row2.addWidget(self.record_button)
        row2.addWidget(self.file_button)
        row2.addStretch(1)
        f2.addRow("Its grade", self.grade_combo)
        f2.addRow("Record for", row2)
        f2.addRow("", self.take_label)
        layout.addWidget(box2)

        # 3. fine-tune
        box3 = QGroupBox("3. Tune vinylmon to this microphone (fine-tuning)")
        f3 = QFormLayout(box3)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("profile name, e.g. laptop mic")
        self.name_edit.setToolTip("A name for the tuned models (the profile), to find them "
                                  "again in the list below.")
        self.finetune_button = QPushButton("Fine-tune")
        self.finetune_button.setToolTip("Adjust the listening models to this microphone with "
                                        "the sample; takes a few minutes. The result is saved "
                                        "as a profile and used from now on for this input.")
        self.finetune_button.clicked.connect(self.start_finetune)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop recording or fine-tuning; nothing is saved.")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setToolTip("How far the recording or fine-tuning has got.")
        self.status_label = QLabel(NO_TAKE_STATUS)
        self.status_label.setWordWrap(True)
        row3 = QHBoxLayout()
        row3.addWidget(self.name_edit, 1)
        row3.addWidget(self.finetune_button)
        row3.addWidget(self.cancel_button)
        f3.addRow("Profile name", row3)
        f3.addRow("", self.progress)
        f3.addRow("", self.status_label)
        self.results = QTableWidget(2, 4)
        self.results.setToolTip(RESULTS_TOOLTIP)
        self.results.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.results.setVerticalHeaderLabels(RESULT_ROWS)
        for i, tip in enumerate(RESULT_COLUMN_TIPS):
            self.results.horizontalHeaderItem(i).setToolTip(tip)
        for i, tip in enumerate(RESULT_ROW_TIPS):
            self.results.verticalHeaderItem(i).setToolTip(tip)
        self.results.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        f3.addRow(self.results)
        layout.addWidget(box3)
        # Sized once in the page (and its font): every figure and heading shows.
        section = self.results.fontMetrics().horizontalAdvance("right before") + 16
        self.results.horizontalHeader().setMinimumSectionSize(section)
        self.results.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.results.resizeRowsToContents()
        header_h = self.results.horizontalHeader().sizeHint().height()
        rows_h = sum(self.results.rowHeight(r) for r in range(self.results.rowCount()))
        frame = 2 * self.results.frameWidth() + 2
        self.results.setFixedHeight(header_h + rows_h + frame)
        self.results.setMinimumWidth(self.results.verticalHeader().sizeHint().width()
                                     + 4 * section + frame)

        # profiles
        box4 = QGroupBox("4. Saved profiles: a ticked one is used whenever its input is chosen")
        v4 = QVBoxLayout(box4)
        self.profile_list = QListWidget()
        self.profile_list.setToolTip("Profiles made on this page. Untick one to stop using it "
                                     "(the standard models are used instead).")
        self.profile_list.setMinimumHeight(60)
        # The style draws a tick box's edge darker than the window: invisible on the dark
        # theme, so an unticked profile would show no box. Drawn here in the theme's
        # colours (a style sheet replaces the palette: the list's colours go in it too).
        pal = self.palette()
        self.profile_list.setStyleSheet(
            f"QListWidget {{ background-color: {style.BACKGROUND}; color: {style.FOREGROUND}; "
            f"border: 1px solid {style.GRID}; "
            f"selection-background-color: {pal.color(QPalette.ColorRole.Highlight).name()}; "
            f"selection-color: {pal.color(QPalette.ColorRole.HighlightedText).name()}; }}"
            f"QListWidget::indicator {{ width: 12px; height: 12px; border-radius: 2px; "
            f"border: 1px solid {style.MUTED}; background: {style.BACKGROUND}; }}"
            f"QListWidget::indicator:checked {{ background: {style.DEFAULT_COLOR}; "
            f"border-color: {style.FOREGROUND}; }}")
        self.profile_list.setFont(style.font())
        self.profile_list.itemChanged.connect(self._on_profile_toggled)
        row4 = QHBoxLayout()
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Give the selected profile another name.")
        self.rename_button.clicked.connect(self._ask_rename)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected profile; its input goes back to "
                                      "the standard models.")
        self.remove_button.clicked.connect(self.remove_selected)
        row4.addStretch(1)
        row4.addWidget(self.rename_button)
        row4.addWidget(self.remove_button)
        v4.addWidget(self.profile_list)
        v4.addLayout(row4)
        layout.addWidget(box4, 1)

        # Scrolls rather than clips when the screen is short.
        scroll = _VerticalScroll()
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.set_input_names(backend.input_names())
        self.refresh_profiles()
        self._update_buttons()

    # ---- inputs --------------------------------------------------------------------

    def set_input_names(self, names) -> None:
        """List ``names`` as the inputs, keeping the chosen one (or the main window's).

        With none, the page says why and what to do, and Check level and Record are
        off (a recording can still be used).
        """
        current = self.device_combo.currentText() or self._device_name
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for n in names:
            self.device_combo.addItem(n)
        if current:
            if self.device_combo.findText(current) < 0:
                self.device_combo.addItem(current)
            self.device_combo.setCurrentText(current)
        elif self.device_combo.count():
            self.device_combo.setCurrentIndex(0)  # the system's default comes first
        self.device_combo.blockSignals(False)
        self._has_inputs = bool(list(names))
        self.no_input_label.setText("" if self._has_inputs else no_input_message())
        self.no_input_label.setVisible(not self._has_inputs)
        self._update_buttons()

    def refresh_inputs(self) -> list[str]:
        """Ask the backend for the inputs again (the Refresh button); return them."""
        names = list(self.backend.input_names())
        self.set_input_names(names)
        self.inputsChanged.emit(names)
        return names

    # ---- state ---------------------------------------------------------------------

    @property
    def busy(self) -> str:
        """``"record"``, ``"level"``, ``"finetune"`` or ``""``."""
        return self._busy

    def _update_buttons(self) -> None:
        idle = not self._busy
        can_record = idle and bool(self.device_combo.currentText())
        self.level_button.setEnabled(can_record)
        self.record_button.setEnabled(can_record)
        self.file_button.setEnabled(idle)
        self.refresh_button.setEnabled(idle)
        self.finetune_button.setEnabled(idle and self.take is not None)
        self.cancel_button.setEnabled(bool(self._busy) and self._busy != "level")

    def _run(self, kind: str, func) -> None:
        """Run ``func(progress, cancel)`` on a worker thread."""
        self._busy = kind
        self._cancel = threading.Event()
        self._t0 = time.monotonic()
        self.error = ""
        cancel = self._cancel
        relay = self._relay

        def work() -> None:
            try:
                result = func(lambda f, msg="": relay.progress.emit(float(f), str(msg)), cancel)
            except Exception as exc:  # shown on the page; the traceback goes to the log
                log.info("%s failed", kind, exc_info=exc)
                relay.failed.emit(kind, exc)
            else:
                relay.done.emit(kind, result)

        threading.Thread(target=work, name=f"vinylmon-{kind}", daemon=True).start()
        self._update_buttons()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * min(1.0, max(0.0, fraction))))
        elapsed = time.monotonic() - self._t0
        eta = ""
        if 0.02 < fraction < 1.0:
            left = elapsed * (1 - fraction) / fraction
            eta = f" — about {int(left // 60)}:{int(left % 60):02d} left"
        self.status_label.setText((message or self._busy) + eta)

    def _on_done(self, kind: str, result) -> None:
        self._busy = ""
        if kind == "level":
            peak, rms = result
            self.level_label.setText(f"Peak {peak:.1f} dBFS, RMS {rms:.1f} dBFS: " + (
                "too quiet: raise the input gain" if peak < -30 else
                "clipping: lower the input gain" if peak > -1 else "good"))
        elif kind == "record":
            self._set_take(result, f"recorded from {self.device_combo.currentText()}")
        elif kind == "finetune":
            info, res = result
            self.result = res
            self._show_result(res)
            self.progress.setValue(1000)
            self.status_label.setText(f"Saved profile '{info.name}' for "
                                      f"{info.device_name or 'any input'}; it is now in use.")
            self.refresh_profiles()
            self.profileSaved.emit(info.name)
        self._update_buttons()

    def _on_failed(self, kind: str, exc) -> None:
        self._busy = ""
        cancelled = type(exc).__name__ == "Cancelled"
        self.error = "" if cancelled else str(exc)
        self.progress.setValue(0)
        self.status_label.setText("Cancelled: nothing was saved." if cancelled else
                                  f"Failed: {exc}")
        if kind == "level":
            self.level_label.setText(f"Cannot check the level: {exc}")
        self._update_buttons()

    # ---- actions -------------------------------------------------------------------

    def check_level(self) -> None:
        name = self.device_combo.currentText() or None

        def work(progress, cancel):
            x = self.backend.record_take(name, seconds=2.0, progress=progress, cancel=cancel)
            import numpy as np

            peak = 20 * math.log10(max(float(np.abs(x).max()), 1e-9))
            rms = 10 * math.log10(max(float(np.mean(x.astype(np.float64) ** 2)), 1e-18))
            return peak, rms

        self._run("level", work)

    def record_take(self) -> None:
        name = self.device_combo.currentText() or None
        seconds = float(self.seconds_spin.value())
        self._run("record", lambda progress, cancel: self.backend.record_take(
            name, seconds=seconds, progress=progress, cancel=cancel))

    def set_take_file(self, path) -> bool:
        """Use a recording (through this microphone) as the take."""
        try:
            take = self.backend.take_from_file(path)
        except Exception as exc:
            self.error = str(exc)
            self.take_label.setText(f"Cannot use this recording: {exc}")
            return False
        self._set_take(take, f"from {path}")
        return True

    def _ask_take_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A recording of the record through this "
                                                    "microphone", "",
                                              "Audio (*.flac *.wav *.ogg *.aiff *.mp3)")
        if path:
            self.set_take_file(path)

    def _set_take(self, take, source: str) -> None:
        self.take = take
        self.take_source = source
        seconds = take.shape[1] / 44100
        self.take_label.setText(f"Sample: {seconds:.0f} s {source}.")
        if self.status_label.text() == NO_TAKE_STATUS:
            self.status_label.setText("Ready: name the profile and press Fine-tune.")
        if not self.name_edit.text():
            dev = self.device_combo.currentText()
            self.name_edit.setText(f"{dev or 'microphone'}".strip()[:40])
        self._update_buttons()

    def start_finetune(self) -> None:
        if self.take is None:
            return
        name = self.name_edit.text().strip() or "microphone"
        grade = self.grade_combo.currentText()
        device = self.device_combo.currentText() or None
        take = self.take
        options = self.finetune_options

        def work(progress, cancel):
            info, res = self.backend.run_finetune(take, grade=grade, name=name,
                                                  device_name=device, progress=progress,
                                                  cancel=cancel, **options)
            self.backend.use_profile(info.name)
            return info, res

        self._run("finetune", work)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status_label.setText("Cancelling…")

    def _show_result(self, res) -> None:
        for r, key in enumerate(("take", "base")):
            before, after = res.before.get(key, {}), res.after.get(key, {})
            for c, (d, metric) in enumerate(((before, "event_f1"), (after, "event_f1"),
                                             (before, "class_accuracy"),
                                             (after, "class_accuracy"))):
                v = d.get(metric)
                item = QTableWidgetItem("–" if v is None else f"{v:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.results.setItem(r, c, item)

    # ---- profiles ------------------------------------------------------------------

    def refresh_profiles(self) -> None:
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        for p in self.backend.profile_infos():
            item = QListWidgetItem(f"{p.name}  —  {p.device_name or 'any input'}")
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if p.enabled else Qt.CheckState.Unchecked)
            self.profile_list.addItem(item)
        self.profile_list.blockSignals(False)

    def profile_names(self) -> list[str]:
        return [self.profile_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.profile_list.count())]

    def _selected_name(self) -> str | None:
        item = self.profile_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _on_profile_toggled(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        self.backend.set_profile_enabled(name, item.checkState() == Qt.CheckState.Checked)

    def rename_selected(self, new_name: str) -> bool:
        old = self._selected_name()
        if not old:
            return False
        try:
            self.backend.rename_profile(old, new_name)
        except Exception as exc:
            self.error = str(exc)
            self.status_label.setText(f"Cannot rename: {exc}")
            return False
        self.refresh_profiles()
        return True

    def _ask_rename(self) -> None:
        old = self._selected_name()
        if old:
            ask = QInputDialog(self)
            apply_dialog_theme(ask)
            ask.setWindowTitle("Rename profile")
            ask.setLabelText("New name")
            ask.setTextValue(old)
            if ask.exec() == QInputDialog.DialogCode.Accepted and ask.textValue().strip():
                self.rename_selected(ask.textValue().strip())

    def remove_selected(self) -> bool:
        name = self._selected_name()
        if not name:
            return False
        try:
            self.backend.remove_profile(name)
        except Exception as exc:
            self.error = str(exc)
            self.status_label.setText(f"Cannot remove: {exc}")
            return False
        self.refresh_profiles()
        return True

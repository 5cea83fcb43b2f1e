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

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading.rubric import GRADES

log = logging.getLogger(__name__)

TAKE_RANGE_S = (60, 180)


class _Relay(QObject):
    """Worker-thread callbacks as signals (delivered on the GUI thread)."""

    progress = Signal(float, str)
    done = Signal(str, object)
    failed = Signal(str, object)


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
    """

    profileSaved = Signal(str)

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

        layout = QVBoxLayout(self)
        # 1. input and level
        box1 = QGroupBox("1. Microphone")
        f1 = QFormLayout(box1)
        self.device_combo = QComboBox()
        for n in backend.input_names():
            self.device_combo.addItem(n)
        if device_name:
            if self.device_combo.findText(device_name) < 0:
                self.device_combo.addItem(device_name)
            self.device_combo.setCurrentText(device_name)
        self.level_button = QPushButton("Check level")
        self.level_button.clicked.connect(self.check_level)
        self.level_label = QLabel("Play a record and check that the level peaks between "
                                  "-20 and -3 dBFS.")
        self.level_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.device_combo, 1)
        row.addWidget(self.level_button)
        f1.addRow("Input", row)
        f1.addRow("", self.level_label)
        layout.addWidget(box1)

        # 2. the take
        box2 = QGroupBox("2. Calibration take: play a record whose grade you know")
        f2 = QFormLayout(box2)
        self.grade_combo = QComboBox()
        for g in GRADES:
            self.grade_combo.addItem(g)
        self.grade_combo.setToolTip("The record's grade; a new record is NM")
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(*TAKE_RANGE_S)
        self.seconds_spin.setSingleStep(30)
        self.seconds_spin.setValue(120)
        self.seconds_spin.setSuffix(" s")
        self.record_button = QPushButton("Record take")
        self.record_button.clicked.connect(self.record_take)
        self.file_button = QPushButton("Use a recording…")
        self.file_button.setToolTip("A needle-drop of the record made through this microphone")
        self.file_button.clicked.connect(self._ask_take_file)
        self.take_label = QLabel("No take yet.")
        row2 = QHBoxLayout()
        row2.addWidget(self.seconds_spin)
        row2.addWidget(self.record_button)
        row2.addWidget(self.file_button)
        f2.addRow("Known grade", self.grade_combo)
        f2.addRow("Length", row2)
        f2.addRow("", self.take_label)
        layout.addWidget(box2)

        # 3. fine-tune
        box3 = QGroupBox("3. Fine-tune the models for this microphone")
        f3 = QFormLayout(box3)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("profile name, e.g. laptop mic")
        self.finetune_button = QPushButton("Fine-tune")
        self.finetune_button.clicked.connect(self.start_finetune)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        row3 = QHBoxLayout()
        row3.addWidget(self.name_edit, 1)
        row3.addWidget(self.finetune_button)
        row3.addWidget(self.cancel_button)
        f3.addRow("Profile", row3)
        f3.addRow("", self.progress)
        f3.addRow("", self.status_label)
        self.results = QTableWidget(2, 4)
        self.results.setHorizontalHeaderLabels(["event F1 before", "after",
                                                "class accuracy before", "after"])
        self.results.setVerticalHeaderLabels(["this microphone (held-out take)",
                                              "base validation data"])
        self.results.setMinimumHeight(90)
        f3.addRow(self.results)
        layout.addWidget(box3)

        # profiles
        box4 = QGroupBox("Saved profiles (used automatically for their input)")
        v4 = QVBoxLayout(box4)
        self.profile_list = QListWidget()
        self.profile_list.itemChanged.connect(self._on_profile_toggled)
        row4 = QHBoxLayout()
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._ask_rename)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        row4.addStretch(1)
        row4.addWidget(self.rename_button)
        row4.addWidget(self.remove_button)
        v4.addWidget(self.profile_list)
        v4.addLayout(row4)
        layout.addWidget(box4, 1)
        self.refresh_profiles()
        self._update_buttons()

    # ---- state ---------------------------------------------------------------------

    @property
    def busy(self) -> str:
        """``"record"``, ``"level"``, ``"finetune"`` or ``""``."""
        return self._busy

    def _update_buttons(self) -> None:
        idle = not self._busy
        for b in (self.level_button, self.record_button, self.file_button):
            b.setEnabled(idle)
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
        self.take_label.setText(f"Take: {seconds:.0f} s {source}.")
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
            new, ok = QInputDialog.getText(self, "Rename profile", "New name", text=old)
            if ok and new.strip():
                self.rename_selected(new.strip())

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

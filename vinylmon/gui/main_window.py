"""The monitor's main window: what a collector watches while a record plays.

Layout: a toolbar (input, speed, start/stop, record details, elapsed time), the
live spectrogram and, below it, the session's scratch timeline beside its disc map
(:mod:`vinylmon.gui.discmap`) on the left, the grade badge,
grade and defect confidence bars and the level meter on the right, and a status
bar (input, CUDA/CPU, inference time per window, dropped windows, overflows).

Threads: the monitor's results arrive as signals from :class:`MonitorBridge` and
only store data; a 30-fps timer takes the live scope's new columns and levels
and repaints. Nothing here waits on the models, the device or the disk: saving
and exporting run as background tasks.

The window is handed a *backend* (built in :mod:`vinylmon.cli.monitor`) that owns the
monitor and knows the inputs; this package never imports torch or sounddevice.

On start-up, when a killed vinylmon left a session unfinished (its journal:
:mod:`vinylmon.live.journal`), the window asks once whether to restore it:
Restore shows its timeline, bars and grade, ready to Resume or Save; Discard
forgets it for good.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading import names
from vinylmon.grading.discmap import whole_side
from vinylmon.grading.events import WINDOW_CLASSES, DefectEvent, ScratchTrack
from vinylmon.grading.rubric import GRADES, RPMS, Quantities
from vinylmon.gui import style
from vinylmon.gui.bars import ConfidenceBars, GradeBadge
from vinylmon.gui.bridge import MonitorBridge
from vinylmon.gui.discmap import DiscMapView
from vinylmon.gui.help import HelpDialog
from vinylmon.gui.meter import LevelMeter
from vinylmon.gui.microphone import MicrophonePage
from vinylmon.gui.settings import (
    LISTEN_LABELS,
    LISTEN_STREAMS,
    Settings,
    SettingsDialog,
    load_settings,
    save_settings,
)
from vinylmon.gui.spectrogram import ScrollingSpectrogram
from vinylmon.gui.timeline import ScratchTimeline
from vinylmon.gui.zoom import EventZoomDialog

log = logging.getLogger(__name__)

#: Defect classes of the detector's window head (the order of ``defect_probs``).
DEMO_INPUT = "Demo recording"
FRAME_INTERVAL_MS = 33  # ~30 frames per second
ZOOM_MARGIN_S = 0.05
#: The grade is provisional until this much music (non-silent audio) was analysed.
PROVISIONAL_S = 60.0
#: Zoom steps of the + and - keys.
ZOOM_STEP = 1.5


def quantities_from_report(report: dict) -> Quantities | None:
    """The measured quantities of a saved report's summary (None when it lacks them)."""
    m = report.get("summary", {}).get("measured")
    try:
        return Quantities(clicks_per_min=float(m["clicks_per_min"]),
                          crackle_per_s=float(m["crackle_per_s"]),
                          surface_noise_db=float(m["surface_noise_db"]),
                          scratches=int(m["scratches"]), skips=int(m["skips"]),
                          scratch_peak_db=float("-inf"), analysed_s=float(m["analysed_s"]))
    except (TypeError, KeyError, ValueError):
        return None


def events_from_report(report: dict) -> tuple[list[DefectEvent], list[ScratchTrack]]:
    """A saved report's events and scratches as the engine's records."""
    events = [DefectEvent(e["kind"], float(e["start_s"]), float(e["end_s"]), e["channel"],
                          float(e["peak_db"]), float(e["confidence"]), e.get("scratch_id"))
              for e in report.get("events", [])]
    scratches = [ScratchTrack(int(s["id"]), float(s["period_s"]), float(s["first_s"]),
                              float(s["last_s"]), int(s["count"]), float(s["confidence"]),
                              float(s.get("rpm") or 0.0), float(s.get("peak_db") or 0.0))
                 for s in report.get("scratches", [])]
    return events, scratches


class MainWindow(QMainWindow):
    """vinylmon's monitor window.

    Parameters
    ----------
    backend : vinylmon.cli.monitor.AppBackend
        Owns the monitor; lists inputs; makes live and file sources.
    settings : Settings, optional, keyword-only
        Default: loaded from QSettings.
    qsettings : QSettings, optional, keyword-only
        Where settings persist (tests pass their own).
    offer_restore : bool, keyword-only
        Ask, once the window is up, whether to restore the session a killed
        vinylmon left unfinished (``pending_restore``), when there is one.
    """

    #: Emitted after each repaint tick with the seconds it took on the GUI thread.
    ticked = Signal(float)

    def __init__(self, backend, *, settings: Settings | None = None, qsettings=None,
                 offer_restore: bool = True) -> None:
        super().__init__()
        self.backend = backend
        self.monitor = backend.monitor
        self._qsettings = qsettings
        self.settings = settings or load_settings(qsettings)
        self.bridge = MonitorBridge(self.monitor, self)
        self.bridge.windowAnalysed.connect(self._on_window)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.finished.connect(self._on_finished)
        self.bridge.taskDone.connect(self._on_task_done)
        self.bridge.taskFailed.connect(self._on_task_failed)
        self._resume_after_error = False
        #: listening: from a successful start until the monitor says it finished or failed
        #: (its threads may still be exiting then; the buttons follow this, not them)
        self._listening = False
        #: options for fine-tuning runs started from the settings (tests shorten them)
        self.finetune_options: dict = {}
        self._loaded_audio: Path | None = None  # a reopened session's audio
        self._output_for: str | None = None  # the settings' output the monitor has open
        self._open_dialogs: dict[str, QMessageBox] = {}
        self.error_messages: list[str] = []  # every problem shown, for tests and logs
        self._dirty_session = False
        self._latest = None  # (AnalysedWindow, SessionState)
        self._session_view: tuple = ([], [], [], 0.0)
        # measured: frame rate and the GUI thread's CPU share
        self._tick_count = 0
        self._tick_cpu_s = 0.0
        self._handler_cpu_s = 0.0
        self._tick_wall0 = time.monotonic()
        self._last_tick: float | None = None
        self._max_gap_s = 0.0
        self.setWindowTitle("vinylmon")
        style.apply_dark(self)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._update_controls()
        # the output opens now, not at the first sound: ALSA's PulseAudio plugin loses
        # up to a second of what is played as a stream starts (measured)
        if self.settings.output_device != "none":
            QTimer.singleShot(0, lambda: self.ensure_output(quiet=True))
        #: the unfinished session offered for restoring (a JournalInfo), until answered
        self.pending_restore = None
        self.restore_prompt: QMessageBox | None = None
        if offer_restore:
            try:
                self.pending_restore = backend.unfinished_session()
            except Exception as exc:  # a journal problem must not stop the window opening
                log.warning("cannot look for an unfinished session: %s", exc, exc_info=exc)
            if self.pending_restore is not None:
                QTimer.singleShot(0, self.offer_unfinished_session)

    # ---- building ------------------------------------------------------------------

    def _build(self) -> None:
        bar = QToolBar("Session", self)
        bar.setMovable(False)
        self.addToolBar(bar)
        self.input_combo = QComboBox()
        self.input_combo.setMinimumWidth(220)
        self.input_combo.setToolTip("Input: a microphone or line-in, or the demo recording")
        self.rpm_combo = QComboBox()
        for label, rpm in (("Auto rpm", None), ("33 1/3", RPMS[0]), ("45", RPMS[1]),
                           ("78", RPMS[2])):
            self.rpm_combo.addItem(label, rpm)
        self.start_button = QPushButton("Start")
        self.start_button.setMinimumWidth(80)
        self.start_button.clicked.connect(self.toggle)
        self.start_button.setToolTip("Start or stop listening (Space)")
        self.rpm_combo.setToolTip("The record's speed: scratches and skips repeat once per "
                                  "revolution. Auto estimates it from repeating scratches.")
        self.artist_edit = QLineEdit()
        self.artist_edit.setPlaceholderText("Artist")
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("Title")
        self.side_edit = QLineEdit()
        self.side_edit.setPlaceholderText("Side")
        self.side_edit.setMaximumWidth(60)
        for edit, what in ((self.artist_edit, "artist"), (self.title_edit, "title"),
                           (self.side_edit, "side (A, B, …)")):
            edit.setToolTip(f"The record's {what}: goes into the saved report")
        self.elapsed_label = QLabel("0:00")
        self.elapsed_label.setFont(style.font(point_size=style.LARGE_PT + 4, bold=True))
        self.elapsed_label.setMinimumWidth(90)
        self.elapsed_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.elapsed_label.setToolTip("Time heard in this session")
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setToolTip("Input, speed, spectrogram, models and microphone "
                                        "fine-tuning")
        self.settings_button.clicked.connect(self.open_settings)
        for w in (QLabel(" Input "), self.input_combo, QLabel(" Speed "), self.rpm_combo,
                  self.start_button, QLabel("  "), self.artist_edit, self.title_edit,
                  self.side_edit, self.elapsed_label, self.settings_button):
            bar.addWidget(w)
        for edit in (self.artist_edit, self.title_edit, self.side_edit):  # into the journal
            edit.editingFinished.connect(lambda: self.monitor.set_details(self.details))
        self.refresh_inputs()

        menu = self.menuBar().addMenu("&Session")
        self.actions: dict[str, QAction] = {}
        for key, text, slot, shortcut in (
                ("start", "&Start / stop listening", self.toggle, "Space"),
                ("new", "&New session", self.ask_new_session, QKeySequence.StandardKey.New),
                ("open", "&Open session…", self._ask_open_session, "Ctrl+O"),
                ("save", "&Save session…", self._ask_save_session, "Ctrl+S"),
                ("export", "Export &HTML report…", self._ask_export_html, "Ctrl+E"),
                ("csv", "Export events as &CSV…", self._ask_export_csv, "Ctrl+Shift+E"),
                ("play", "&Play a recording…", self._ask_play_file, "Ctrl+P"),
                (None, None, None, None),
                ("quit", "&Quit", self.close, "Ctrl+Q")):
            if key is None:
                menu.addSeparator()
                continue
            self.actions[key] = self._action(menu, text, slot, shortcut)
        view = self.menuBar().addMenu("&View")
        self.actions["zoom_in"] = self._action(view, "Zoom &in", lambda: self.zoom(ZOOM_STEP),
                                               ["+", "="])
        self.actions["zoom_out"] = self._action(view, "Zoom &out",
                                                lambda: self.zoom(1.0 / ZOOM_STEP), ["-"])
        self.actions["zoom_all"] = self._action(view, "Show the &whole side", self.zoom_all,
                                                ["0"])
        view.addSeparator()
        listen = view.addMenu("&Listen")
        listen.setToolTipsVisible(True)
        self.listen_group = QActionGroup(self)
        self.listen_actions: dict[str, QAction] = {}
        for stream in LISTEN_STREAMS:
            a = QAction(LISTEN_LABELS[stream], self, checkable=True)
            a.setChecked(stream == self.settings.listen)
            a.triggered.connect(lambda _c=False, st=stream: self.set_listen(st))
            self.listen_group.addAction(a)
            listen.addAction(a)
            self.listen_actions[stream] = a
        listen.addSeparator()
        self.actions["passthrough"] = a = QAction("Play the live &input (headphones)", self,
                                                  checkable=True)
        a.setChecked(self.settings.passthrough)
        a.setToolTip("Hear the turntable through vinylmon, as chosen above, about 0.3 s late. "
                     "Use headphones: a microphone beside speakers hears itself.")
        a.toggled.connect(self.set_passthrough)
        listen.addAction(a)
        self.actions["stop_sound"] = self._action(listen, "&Stop playing", self.stop_playing,
                                                  "Ctrl+Shift+P")
        help_menu = self.menuBar().addMenu("&Help")
        self.actions["help"] = self._action(help_menu, "vinylmon &help", self.show_help,
                                            QKeySequence.StandardKey.HelpContents)
        self.actions["help"].setShortcuts([QKeySequence("F1")])
        self.actions["about"] = self._action(help_menu, "&About vinylmon", self.show_help, None)

        left = QSplitter(Qt.Orientation.Vertical)
        self.spectrogram = ScrollingSpectrogram(
            freqs_hz=self.backend.scope_freqs_hz, column_hop_s=self.backend.scope_hop_s,
            visible_s=self.settings.spectrogram_visible_s)
        self.timeline = ScratchTimeline()
        self.timeline.eventClicked.connect(self.show_event)
        self.timeline.playFrom.connect(self.play_from)
        self.discmap = DiscMapView()
        self.discmap.eventClicked.connect(self.show_event)
        self.discmap.playFrom.connect(self.play_from)
        self.discmap.set_size(self.settings.disc_size_in)
        self.discmap.sizeChanged.connect(lambda size: self._store(disc_size_in=size))
        bottom = QSplitter(Qt.Orientation.Horizontal)  # timeline | disc map
        bottom.addWidget(self.timeline)
        bottom.addWidget(self.discmap)
        bottom.setStretchFactor(0, 1)
        bottom.setStretchFactor(1, 0)
        bottom.setSizes([800, 300])
        left.addWidget(self.spectrogram)
        left.addWidget(bottom)
        left.setSizes([400, 320])

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        self.badge = GradeBadge()
        self.grade_bars = ConfidenceBars(
            GRADES, colors=style.GRADE_COLORS, title="Grade of the side so far",
            tooltip="How likely each grade is, from everything heard so far",
            row_tooltip="The probability that the side grades {name}")
        self.defect_bars = ConfidenceBars(
            WINDOW_CLASSES, colors=style.CLASS_COLORS,
            title="This window's likelihoods (latest 5 s, adding to 100 %)",
            tooltip="What the detector hears in the latest window, as likelihoods that add "
                    "up to 100 %. They are not counts: the timeline's legend has those.",
            row_tooltip="How likely the latest window is mostly '{name}'")
        self.meter = LevelMeter()
        rl.addWidget(self.badge)
        rl.addWidget(self.grade_bars)
        rl.addWidget(self.defect_bars)
        rl.addSpacing(12)
        rl.addWidget(self.meter)
        rl.addStretch(1)
        right.setMinimumWidth(300)
        right.setMaximumWidth(380)

        central = QWidget()
        cl = QHBoxLayout(central)
        cl.setContentsMargins(6, 6, 6, 6)
        cl.addWidget(left, 1)
        cl.addWidget(right)
        self.setCentralWidget(central)

        sb = self.statusBar()
        self.status_input = QLabel()
        self.status_compute = QLabel()
        self.status_inference = QLabel()
        self.status_dropped = QLabel()
        self.status_overflow = QLabel()
        self.status_output = QLabel()
        for w in (self.status_input, self.status_compute, self.status_inference,
                  self.status_dropped, self.status_overflow, self.status_output):
            w.setStyleSheet(f"padding: 0 10px; border-left: 1px solid {style.GRID};")
            sb.addPermanentWidget(w)
        tips = {self.status_input: "The input listened to",
                self.status_compute: "The models in use (base or a microphone profile) and "
                                     "where they run",
                self.status_inference: "How long the models took for the latest 5-s window",
                self.status_dropped: "Windows the models could not keep up with (not graded)",
                self.status_overflow: "Times the sound card delivered audio faster than it was "
                                      "read (a gap in the recording)",
                self.status_output: "Where sound plays, what is played, and how often the "
                                    "output ran dry (underruns: a gap in what you hear, not "
                                    "in the recording)"}
        for w, tip in tips.items():
            w.setToolTip(tip)
        self._output_tip = tips[self.status_output]
        self.defect_bars.set_values(None, note="not listening")
        self.grade_bars.set_values(None, note="no grade yet")
        self.badge.set_grade(None, confidence=None, reason="not listening")
        self.help_dialog: HelpDialog | None = None
        self.unsaved_prompt: QMessageBox | None = None
        self._after_save = None
        self._after_restore_prompt = None
        self._closing = False
        self.resize(1400, 860)

    def _action(self, menu, text: str, slot, shortcut) -> QAction:
        """A menu action whose shortcut shows in the menu and works anywhere in the
        window (a text field keeps its own keys: Space types a space there)."""
        action = QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts([QKeySequence(k) for k in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        menu.addAction(action)
        self.addAction(action)
        return action

    def refresh_inputs(self) -> None:
        """List the inputs (and the demo); keep the chosen one when it is still there."""
        current = self.input_combo.currentText()
        names = self.backend.input_names()
        self.input_combo.blockSignals(True)
        self.input_combo.clear()
        for n in names:
            self.input_combo.addItem(n)
        self.input_combo.addItem(DEMO_INPUT)
        wanted = current or self.settings.input_device or (names[0] if names else DEMO_INPUT)
        i = self.input_combo.findText(wanted)
        self.input_combo.setCurrentIndex(i if i >= 0 else 0)
        self.input_combo.blockSignals(False)
        rpm = self.settings.rpm
        j = self.rpm_combo.findData(rpm) if rpm is not None else 0
        self.rpm_combo.setCurrentIndex(max(0, j))

    # ---- running -------------------------------------------------------------------

    @property
    def details(self) -> dict:
        return {k: v for k, v in (("artist", self.artist_edit.text().strip()),
                                  ("title", self.title_edit.text().strip()),
                                  ("side", self.side_edit.text().strip())) if v}

    def toggle(self) -> None:
        if self._listening:
            self.stop()
        else:
            self.start()

    def start(self, *, input_name: str | None = None, speed: float | None = 1.0) -> bool:
        """Start listening to the chosen input (or ``input_name``). Returns False on error."""
        name = input_name or self.input_combo.currentText()
        try:
            if name == DEMO_INPUT:
                source = self.backend.file_source(self.backend.demo_path, speed=speed,
                                                  name="demo recording")
            else:
                source = self.backend.live_source(name, sample_rate=self.settings.sample_rate)
            if not (self._resume_after_error and self.monitor.session is not None):
                self.select_models(name)
        except Exception as exc:
            self.show_error("Cannot open the input", exc)
            return False
        return self.start_source(source)

    def select_models(self, input_name: str | None) -> str:
        """Use the profile of ``input_name`` (an enabled one made for it), else the profile
        chosen in the settings, else the base models. Returns the profile in use."""
        name = None
        if input_name and input_name != DEMO_INPUT:
            name = self.backend.profile_for_device(input_name)
        if name is None and self.settings.model_profile != "base":
            name = self.settings.model_profile
        warning = self.backend.use_profile(name)
        if warning:
            self.show_error("Using the base models", RuntimeError(warning))
        return self.backend.active_profile

    def start_source(self, source) -> bool:
        """Listen to ``source``: the session goes on after an error (Resume), else a new
        one starts; an unsaved session is not dropped without asking (Save / Discard /
        Cancel: False until answered)."""
        resume = self._resume_after_error and self.monitor.session is not None
        if not resume and self.monitor.unsaved:
            self.confirm_unsaved(lambda: self.start_source(source),
                                 doing="starting a new session")
            return False
        if self.monitor.running:  # still finishing its last window after a stop
            self.monitor.stop(timeout_s=2.0)
        if not resume:
            self._clear_view()
        self._loaded_audio = None
        try:
            self.monitor.start(source, rpm=self.rpm_combo.currentData(),
                               window_s=self.settings.window_s,
                               silence_threshold_db=self.settings.silence_threshold_db,
                               resume=resume, details=self.details)
        except Exception as exc:
            self.show_error("Cannot start listening", exc)
            return False
        self._resume_after_error = False
        self._listening = True
        if getattr(source, "speed", None) == 1.0 or self.settings.passthrough:
            self.ensure_output(quiet=True)
        self.statusBar().showMessage(("Resumed: " if resume else "Listening to ") + source.name,
                                     5000)
        self._update_controls()
        return True

    def stop(self) -> None:
        """Ask the monitor to stop; it finishes its window on its own thread and says
        so with ``finished`` (the GUI thread does not wait for it)."""
        self.monitor.stop(timeout_s=0.0)
        self.start_button.setText("Stopping…")
        self.start_button.setEnabled(False)

    def ask_new_session(self) -> None:
        """New session, asking first when the current one holds unsaved audio."""
        self.confirm_unsaved(self.new_session, doing="starting a new session")

    def new_session(self) -> None:
        """Forget the current session (its journal too: it is not offered again)."""
        try:
            self.monitor.discard()
        except Exception as exc:
            self.show_error("Cannot discard the session", exc)
        self._loaded_audio = None
        self._resume_after_error = False
        self._clear_view()
        self._update_controls()

    def _clear_view(self) -> None:
        self._latest = None
        self._session_view = ([], [], [], 0.0)
        self.spectrogram.clear()
        self.timeline.set_session(events=[], scratches=[], silent_spans=[], duration_s=0.0)
        self.discmap.set_session(events=[], scratches=[], rpm=None, duration_s=0.0)
        self.defect_bars.set_values(None, note="waiting for the first window")
        self.grade_bars.set_values(None, note="no grade yet")
        self.badge.set_grade(None, confidence=None, reason="waiting for music…")
        self.meter.reset()

    def _update_controls(self, *, running: bool | None = None) -> None:
        """The buttons as the monitor stands (``running``: known by the caller, e.g. False
        when the monitor said it finished while its thread is still exiting)."""
        if running is not None:
            self._listening = running
        running = self._listening
        self.start_button.setEnabled(True)
        self.start_button.setText("Stop" if running else ("Resume" if self._resume_after_error
                                                          else "Start"))
        self.input_combo.setEnabled(not running)
        self.rpm_combo.setEnabled(not running)
        if not running and self.badge.grade is None:
            self.badge.set_grade(None, confidence=None, reason="not listening")

    # ---- results (GUI thread, from signals) ----------------------------------------

    def _on_window(self, analysed, state) -> None:
        c0 = time.thread_time()
        self._latest = (analysed, state)
        silent = list(state.silent_spans)
        self._session_view = (state.events, state.scratches, silent, state.heard_s)
        g = state.grade
        self.timeline.set_session(events=state.events, scratches=state.scratches,
                                  silent_spans=silent,
                                  duration_s=max(state.heard_s, analysed.end_s),
                                  quantities=g.quantities if g is not None else None,
                                  clicks_masked=state.clicks_learned)
        self.discmap.set_session(events=state.events, scratches=state.scratches, rpm=state.rpm,
                                 duration_s=max(state.heard_s, analysed.end_s))
        if analysed.silent:
            self.defect_bars.set_values(None, note="silent window: not analysed")
        else:
            self.defect_bars.set_values(analysed.defect_probs)
        if g is not None:
            self.grade_bars.set_values(g.grade_probs)
            self._show_grade(g.grade, g.confidence, g.reasons, g.quantities, state.rpm)
        self._dirty_session = True
        self._handler_cpu_s += time.thread_time() - c0

    def _show_grade(self, grade: str, confidence: float, reasons, quantities: Quantities | None,
                    rpm: float | None) -> None:
        """The badge: the grade, its probability, the limiting reason, "provisional" while
        under :data:`PROVISIONAL_S` of music was analysed, and the 78 rpm note."""
        analysed = quantities.analysed_s if quantities is not None else 0.0
        self.badge.set_grade(grade, confidence=confidence,
                             reason=reasons[0] if reasons else "",
                             provisional_heard_s=analysed if analysed < PROVISIONAL_S else None,
                             note=names.SHELLAC_NOTE if names.is_shellac(rpm) else "")

    def _on_failed(self, exc) -> None:
        self._resume_after_error = True
        self._update_controls(running=False)  # the monitor stopped on this error
        self.show_error("Listening stopped",
                        exc, hint="The session is kept: press Resume to go on when the input "
                                  "is back, or choose another input.")

    def _on_finished(self) -> None:
        self._update_controls(running=False)
        state, windows = self.monitor.snapshot()
        if state is not None and whole_side([w.silent for w in windows]):
            # a side heard from its lead-in to its run-out: its length places the radius
            self.discmap.set_session(events=state.events, scratches=state.scratches,
                                     rpm=state.rpm, duration_s=state.heard_s,
                                     side_complete=True)
        if not self._resume_after_error:
            self.statusBar().showMessage("Stopped; the session is kept until you start again.",
                                         8000)

    # ---- repaint timer -----------------------------------------------------------

    def _tick(self) -> None:
        c0 = time.thread_time()
        now = time.monotonic()
        if self._last_tick is not None:  # the longest the GUI thread went without a tick
            self._max_gap_s = max(self._max_gap_s, now - self._last_tick)
        self._last_tick = now
        scope = self.monitor.scope
        if scope is not None:
            frame = scope.take()
            if len(frame.columns_db):
                self.spectrogram.append(frame.columns_db)
            if math.isfinite(frame.end_s) and frame.rms_dbfs and \
                    math.isfinite(frame.rms_dbfs[0]):
                self.meter.set_levels(peak_dbfs=frame.peak_dbfs, rms_dbfs=frame.rms_dbfs,
                                      clipped=frame.clipped_samples > 0,
                                      overflows=self.monitor.stats().overflows)
        self.spectrogram.refresh()
        self.meter.refresh()
        self.timeline.refresh()
        self.discmap.refresh()
        self._tick_count += 1
        if self._tick_count % 8 == 0:
            self._update_status()
        dt = time.thread_time() - c0
        self._tick_cpu_s += dt
        self.ticked.emit(dt)

    def _update_status(self) -> None:
        st = self.monitor.stats()
        self.elapsed_label.setText(style.format_time(st.elapsed_s))
        self.status_input.setText(f"Input: {st.input_name}" + ("" if st.running else
                                                               " (stopped)"))
        self.status_compute.setText(f"Models: {self.backend.active_profile or 'base'} on "
                                    f"{st.compute_device.upper()}")
        self.status_inference.setText(
            "Inference: " + (f"{1000 * st.last_inference_s:.0f} ms/window"
                             if st.last_inference_s is not None else "–"))
        self.status_dropped.setText(f"Dropped windows: {st.dropped_windows}")
        self.status_overflow.setText(f"Overflows: {st.overflows}")
        if st.output_name is None:
            why = self.monitor.output_error
            self.status_output.setText("Sound: off" if self.settings.output_device == "none"
                                       else "Sound: unavailable" if why else "Sound: –")
            self.status_output.setToolTip(f"No sound: {why}" if why else
                                          self._output_tip)
        else:
            self.status_output.setText(f"Sound: {st.output_name} ({self.settings.listen}) · "
                                       f"underruns: {st.output_underruns}")
            self.status_output.setToolTip(self._output_tip)
        stopping = not self.start_button.isEnabled()
        if stopping and not st.running:  # stopped without a finished signal (never left)
            self._update_controls(running=False)

    def frame_stats(self) -> dict:
        """Measured since the window opened (or the last reset): repaint ticks per
        second, spectrogram frames drawn per second, the GUI thread's CPU share (of
        one core) in the paint timer alone and with the engine's signal handlers, and
        the longest gap between two ticks (how long the GUI thread was ever busy)."""
        wall = max(1e-9, time.monotonic() - self._tick_wall0)
        return {"ticks_per_s": self._tick_count / wall,
                "frames_per_s": self.spectrogram.frames_drawn / wall,
                "tick_cpu_share": self._tick_cpu_s / wall,
                "gui_cpu_share": (self._tick_cpu_s + self._handler_cpu_s) / wall,
                "max_tick_gap_s": self._max_gap_s,
                "wall_s": wall}

    def reset_frame_stats(self) -> None:
        self._tick_count = 0
        self._tick_cpu_s = 0.0
        self._handler_cpu_s = 0.0
        self._last_tick = None
        self._max_gap_s = 0.0
        self.spectrogram.frames_drawn = 0
        self._tick_wall0 = time.monotonic()

    # ---- events, sessions ----------------------------------------------------------

    def show_event(self, event: DefectEvent) -> EventZoomDialog | None:
        """Open the zoomed waveform and spectrogram around ``event``."""
        a = max(0.0, event.start_s - ZOOM_MARGIN_S)
        b = event.end_s + ZOOM_MARGIN_S
        try:
            if self._loaded_audio is not None:
                samples, sr = self.backend.read_excerpt(self._loaded_audio, a, b)
            else:
                samples = self.monitor.excerpt(a, b)
                sr = self.monitor.recording.sample_rate if self.monitor.recording else 44100
            if samples.shape[-1] == 0:
                raise ValueError("the audio around this event is not available")
            dialog = EventZoomDialog(event, np.asarray(samples), sample_rate=sr, start_s=a,
                                     play=lambda cleaned: self.play_event(event, cleaned),
                                     parent=self)
        except Exception as exc:
            self.show_error("Cannot show this event", exc)
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.zoom_dialog = dialog
        return dialog

    # ---- sound out ------------------------------------------------------------------

    def ensure_output(self, *, quiet: bool = False) -> str | None:
        """Open the sound output the settings choose, unless it is open; None, or why
        there is no sound (also in the status bar). Sound is never needed to grade."""
        device = self.settings.output_device
        if device == "none":
            self.monitor.close_output()
            self._output_for = None
            return "sound is off (Settings: Play sound through)"
        if self.monitor.output is not None and self._output_for == device:
            return None
        why = self.monitor.open_output(None if device == "default" else device)
        self._output_for = None if why is not None else device
        self.monitor.set_listen(self.settings.listen)
        self.monitor.passthrough = self.settings.passthrough
        if why is not None:
            self.statusBar().showMessage(f"No sound: {why}", 10000)
            if not quiet:
                self.error_messages.append(f"No sound: {why}")
        return why

    def set_listen(self, stream: str) -> None:
        """Play ``stream`` (original, cleaned or removed) from now on; kept in the settings."""
        self.monitor.set_listen(stream)
        self.listen_actions[stream].setChecked(True)
        self._store(listen=stream)

    def set_passthrough(self, on: bool) -> None:
        """Play the live input too (headphones); kept in the settings."""
        self.monitor.passthrough = bool(on)
        self._store(passthrough=bool(on))
        if on and self._listening:
            self.ensure_output()

    def _store(self, **changes) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)
        save_settings(self.settings, self._qsettings)

    def play_event(self, event: DefectEvent, cleaned: bool) -> str | None:
        """Play +-1 s around ``event``, as recorded or cleaned; None, or why not."""
        why = self.ensure_output()
        if why is not None:
            return why
        a, b = max(0.0, event.start_s - 1.0), event.end_s + 1.0
        if self._loaded_audio is not None:
            samples, _ = self.backend.read_excerpt(self._loaded_audio, a, b)
            return self.monitor.play_samples(samples, cleaned=cleaned)
        return self.monitor.play_excerpt(a, b, cleaned=cleaned)

    def play_from(self, t_s: float) -> str | None:
        """Play the session from ``t_s`` (the right-click "Play from here")."""
        why = self.ensure_output()
        if why is None:
            if self._loaded_audio is not None:
                samples, _ = self.backend.read_excerpt(self._loaded_audio, t_s, t_s + 60.0)
                why = self.monitor.play_samples(samples, stream=self.settings.listen)
            else:
                why = self.monitor.play_from(t_s)
        if why is None:
            self.statusBar().showMessage(f"Playing from {style.format_time(t_s)} "
                                         "(Ctrl+Shift+P stops)", 5000)
        else:
            self.statusBar().showMessage(f"Cannot play: {why}", 8000)
        return why

    def stop_playing(self) -> None:
        self.monitor.stop_playback()

    def save_session(self, folder) -> None:
        """Save report + audio in the background (``taskDone('save', folder)``)."""
        details = self.details
        self.bridge.run_task("save", lambda: self.monitor.save_session(folder, details=details))

    def export_html(self, path) -> None:
        details = self.details
        self.bridge.run_task("export", lambda: self.monitor.export_html(path, details=details))

    def open_session(self, folder) -> bool:
        """Show a saved session (its report and, when present, its audio for zooming)."""
        if self.monitor.unsaved:
            self.confirm_unsaved(lambda: self.open_session(folder), doing="opening another")
            return False
        if self.monitor.running:
            self.monitor.stop(timeout_s=2.0)
        try:
            report, audio = self.backend.open_session(folder)
        except Exception as exc:
            self.show_error("Cannot open the session", exc)
            return False
        self._clear_view()
        events, scratches = events_from_report(report)
        silent = [(w["start_s"], w["end_s"]) for w in report.get("windows", []) if w["silent"]]
        s = report["summary"]
        q = quantities_from_report(report)
        self.timeline.set_session(events=events, scratches=scratches, silent_spans=silent,
                                  duration_s=float(report["duration_s"]), quantities=q,
                                  clicks_masked=s.get("clicks_include_masked") is True)
        self.discmap.set_session(events=events, scratches=scratches, rpm=report.get("rpm"),
                                 duration_s=float(report["duration_s"]),
                                 side_complete=report.get("side_complete") is True)
        self.grade_bars.set_values([s["grade_probs"][g] for g in GRADES])
        self._show_grade(s["grade"], s["grade_probs"][s["grade"]], s["reasons"], q,
                         report.get("rpm"))
        self.defect_bars.set_values(None, note="saved session (not listening)")
        rec = report.get("record", {})
        self.artist_edit.setText(rec.get("artist", ""))
        self.title_edit.setText(rec.get("title", ""))
        self.side_edit.setText(rec.get("side", ""))
        self.elapsed_label.setText(style.format_time(float(report["duration_s"])))
        self._loaded_audio = audio
        self._session_view = (events, scratches, silent, float(report["duration_s"]))
        self.statusBar().showMessage(f"Opened {folder}", 8000)
        return True

    # ---- a session left unfinished (restore from its journal) ----------------------

    def offer_unfinished_session(self) -> QMessageBox | None:
        """Ask (once, without blocking) whether to restore ``pending_restore``."""
        info = self.pending_restore
        if info is None or self.restore_prompt is not None:
            return self.restore_prompt
        when = info.modified.astimezone().strftime("%Y-%m-%d %H:%M")
        events = f"{info.events} event" + ("" if info.events == 1 else "s")
        box = QMessageBox(QMessageBox.Icon.Question, "Restore the unfinished session?",
                          f"vinylmon was closed while listening to {info.input_name} "
                          f"({style.format_time(info.duration_s)}, {events}) at {when}. "
                          "Restore that session?", QMessageBox.StandardButton.NoButton, self)
        self.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(self.restore_button)
        box.setInformativeText("Discard forgets it for good.")
        box.buttonClicked.connect(self._restore_answered)
        self.restore_prompt = box
        box.open()
        return box

    def _restore_answered(self, button) -> None:
        if button is self.restore_button:
            self.restore_unfinished()
        else:
            self.discard_unfinished()
        then, self._after_restore_prompt = self._after_restore_prompt, None
        if then is not None:  # the command line's request (--file, --demo) goes on now
            then()

    def after_restore_prompt(self, then) -> None:
        """Run ``then`` (e.g. play the file the command line names) now, or once the
        restore prompt is answered, whichever button is pressed."""
        if self.pending_restore is None and (self.restore_prompt is None or
                                             not self.restore_prompt.isVisible()):
            then()
        else:
            self._after_restore_prompt = then

    def restore_unfinished(self) -> bool:
        """Restore the offered session: its timeline, bars and grade; Resume goes on."""
        info, self.pending_restore = self.pending_restore, None
        if info is None:
            return False
        if self.monitor.running:
            self.monitor.stop(timeout_s=2.0)
        try:
            self.backend.restore_session(info.folder)
        except Exception as exc:
            self.show_error("Cannot restore the session", exc,
                            hint="Its journal is kept where it is: " + str(info.folder))
            return False
        self._clear_view()
        self._loaded_audio = None
        if self.monitor.scope is not None:  # the last minute heard, not its levels
            self.spectrogram.append(self.monitor.scope.take().columns_db)
        state, windows = self.monitor.snapshot()
        silent = list(state.silent_spans)
        duration = max([state.heard_s, *(w.end_s for w in windows)])
        self._session_view = (state.events, state.scratches, silent, duration)
        g = state.grade
        self.timeline.set_session(events=state.events, scratches=state.scratches,
                                  silent_spans=silent, duration_s=duration,
                                  quantities=g.quantities if g is not None else None,
                                  clicks_masked=state.clicks_learned)
        self.discmap.set_session(events=state.events, scratches=state.scratches, rpm=state.rpm,
                                 duration_s=duration)
        if g is not None:
            self.grade_bars.set_values(g.grade_probs)
            self._show_grade(g.grade, g.confidence, g.reasons, g.quantities, state.rpm)
        last = next((w for w in reversed(windows) if not w.silent), None)
        if last is not None:
            self.defect_bars.set_values(last.defect_probs)
        else:
            self.defect_bars.set_values(None, note="restored session (not listening)")
        rec = self.monitor.details or {}
        self.artist_edit.setText(rec.get("artist", ""))
        self.title_edit.setText(rec.get("title", ""))
        self.side_edit.setText(rec.get("side", ""))
        self.elapsed_label.setText(style.format_time(self.monitor.stats().elapsed_s))
        self._latest = (windows[-1], state) if windows else None
        self._dirty_session = True
        self._resume_after_error = True  # Start goes on with this session: "Resume"
        self._update_controls()
        self._update_status()
        self.statusBar().showMessage(f"Restored the session of {info.input_name}: press "
                                     "Resume to go on, or save it.", 10000)
        return True

    def discard_unfinished(self) -> None:
        """Forget the offered session for good (it is not offered again)."""
        info, self.pending_restore = self.pending_restore, None
        if info is None:
            return
        try:
            self.backend.discard_session(info.folder)
        except Exception as exc:
            self.show_error("Cannot discard the session", exc)

    def _ask_save_folder(self) -> str:
        """A new or existing folder to save the session into ("" when cancelled): named
        like a file, so that a folder that does not exist yet can be typed."""
        name = "-".join(v for v in (self.details.get("artist"), self.details.get("title"),
                                    self.details.get("side")) if v) or \
            time.strftime("vinylmon-session-%Y%m%d-%H%M")
        folder, _ = QFileDialog.getSaveFileName(
            self, "Save the session (report and audio) as a folder", name, "Folder (*)",
            options=QFileDialog.Option.DontConfirmOverwrite)
        return folder

    def _ask_save_session(self) -> None:
        folder = self._ask_save_folder()
        if folder:
            self.save_session(folder)

    def export_csv(self, path) -> None:
        """Write the session's events as CSV in the background (``taskDone('csv')``)."""
        details = self.details
        self.bridge.run_task("csv", lambda: self.monitor.export_csv(path, details=details))

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the events as CSV", "events.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_open_session(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a saved session (its folder)")
        if folder:
            self.open_session(folder)

    def _ask_export_html(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the HTML report", "report.html",
                                              "HTML (*.html)")
        if path:
            self.export_html(path)

    def _ask_play_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play a recording through the monitor", "",
                                              "Audio (*.flac *.wav *.ogg *.aiff *.mp3)")
        if path:
            try:
                source = self.backend.file_source(path, speed=1.0)
            except Exception as exc:
                self.show_error("Cannot play this recording", exc)
                return
            self.start_source(source)

    def _on_task_done(self, name: str, result) -> None:
        self.statusBar().showMessage({"save": "Session saved to ", "export": "Report written to ",
                                      "csv": "Events written to "}
                                     .get(name, f"{name}: ") + str(result), 8000)
        if name == "save":
            self._dirty_session = False
            then, self._after_save = self._after_save, None
            if then is not None:
                then()

    def _on_task_failed(self, name: str, exc) -> None:
        if name == "save":
            self._after_save = None  # nothing is dropped when the save failed
        self.show_error({"save": "Cannot save the session",
                         "export": "Cannot export the report",
                         "csv": "Cannot export the events"}.get(name, name), exc)

    # ---- unsaved work ----------------------------------------------------------------

    def confirm_unsaved(self, then, *, doing: str) -> QMessageBox | None:
        """Run ``then`` now when the session holds no unsaved audio; else ask Save /
        Discard / Cancel (without blocking): Save saves into a chosen folder, then runs
        ``then``; Discard forgets the session (it is not offered again), then runs it;
        Cancel does nothing."""
        if not self.monitor.unsaved:
            then()
            return None
        if self.unsaved_prompt is not None and self.unsaved_prompt.isVisible():
            return self.unsaved_prompt
        heard = style.format_time(self.monitor.stats().elapsed_s)
        box = QMessageBox(QMessageBox.Icon.Question, "Save the session?",
                          f"This session ({heard} heard) is not saved. Save it before "
                          f"{doing}?", QMessageBox.StandardButton.NoButton, self)
        save = box.addButton("Save…", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(save)
        box.setEscapeButton(cancel)
        box.setInformativeText("Discard forgets its audio and events for good.")

        def answered(button) -> None:
            if button is save:
                folder = self._ask_save_folder()
                if folder:
                    self._after_save = then
                    self.save_session(folder)
            elif button is discard:
                self.new_session()
                then()

        box.buttonClicked.connect(answered)
        self.unsaved_prompt = box
        self.unsaved_buttons = {"save": save, "discard": discard, "cancel": cancel}
        box.open()
        return box

    # ---- view ------------------------------------------------------------------------

    def zoom(self, factor: float) -> None:
        """Zoom the timeline and the spectrogram in time (``factor`` > 1 zooms in)."""
        self.timeline.zoom(factor)
        self.spectrogram.zoom_time(factor)

    def zoom_all(self) -> None:
        """The whole side on the timeline, the spectrogram's full view."""
        self.timeline.show_all()
        self.spectrogram.reset_zoom()

    def show_help(self) -> HelpDialog:
        """The help page (the rubric, dB re L, the lanes and colours, the keys, the
        version); non-modal, Esc closes it."""
        if self.help_dialog is None or not self.help_dialog.isVisible():
            self.help_dialog = HelpDialog(self)
            self.help_dialog.destroyed.connect(lambda *_: setattr(self, "help_dialog", None))
            self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog

    # ---- settings, errors ----------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, input_devices=self.backend.input_names(),
                                list_inputs=self.backend.input_names,
                                output_devices=self.backend.output_names(),
                                profiles=self.backend.profiles(),
                                cuda_available=self.backend.cuda_available, parent=self)
        current = self.input_combo.currentText()
        self.microphone_page = MicrophonePage(
            self.backend, device_name=None if current == DEMO_INPUT else current,
            finetune_options=self.finetune_options)
        self.microphone_page.profileSaved.connect(
            lambda name: self._profile_saved(dialog, name))
        dialog.add_page(self.microphone_page, "Microphone")
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def _profile_saved(self, dialog: SettingsDialog, name: str) -> None:
        """A fine-tuned profile was saved and is in use: the settings say so too."""
        if dialog.profile_combo.findData(name) < 0:
            dialog.profile_combo.addItem(name, name)
        dialog.profile_combo.setCurrentIndex(dialog.profile_combo.findData(name))
        self._store(model_profile=name)
        self._update_status()

    def apply_settings(self, settings: Settings) -> None:
        if settings.output_device != self.settings.output_device:
            self.monitor.close_output()  # the new one opens when sound is next needed
            self._output_for = None
        self.settings = settings
        if not save_settings(settings, self._qsettings):
            self.show_error("Cannot save the settings", OSError("the settings store is not "
                                                                "writable"))
        self.spectrogram.set_visible_s(settings.spectrogram_visible_s)
        if not self.monitor.running:
            self.select_models(self.input_combo.currentText())
            self.refresh_inputs()
            if settings.input_device:
                i = self.input_combo.findText(settings.input_device)
                if i >= 0:
                    self.input_combo.setCurrentIndex(i)

    def show_error(self, title: str, exc: BaseException, *, hint: str = "") -> QMessageBox:
        """One non-blocking dialog per problem; the traceback goes to the log."""
        text = str(exc) or type(exc).__name__
        log.error("%s: %s", title, text, exc_info=exc if exc.__traceback__ else None)
        self.error_messages.append(f"{title}: {text}")
        key = f"{title}: {text}"
        if key in self._open_dialogs:
            return self._open_dialogs[key]
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        if hint:
            box.setInformativeText(hint)
        box.finished.connect(lambda _=0, k=key: self._open_dialogs.pop(k, None))
        self._open_dialogs[key] = box
        box.open()
        return box

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self._closing and self.monitor.unsaved:  # a deliberate quit asks first
            event.ignore()
            self.confirm_unsaved(self._close_now, doing="quitting")
            return
        self._timer.stop()
        if self.monitor.running:
            self.monitor.stop(timeout_s=2.0)
        try:  # an unsaved session's journal stays, to be offered next time
            self.monitor.close()
        except Exception as exc:
            log.warning("closing the session journal: %s", exc, exc_info=exc)
        super().closeEvent(event)

    def _close_now(self) -> None:
        self._closing = True
        self.close()

"""The window against real input faults: a PulseAudio null sink recorded through
PortAudio's ALSA ``pulse`` device (the rig of tests/pulse_rig.py), the real engine, offscreen.

- The input vanishes mid-session (the sink is unloaded) and comes back: one error
  dialog, the timeline kept, Resume goes on with the same session.
- The input overflows (the reader stalls for longer than the capture buffers): the
  status bar and the level meter count it, and listening goes on.
"""


import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from vinylmon.audio.types import ANALYSIS_RATE
from vinylmon.cli.monitor import AppBackend
from vinylmon.gui.main_window import MainWindow
from vinylmon.gui.settings import Settings
from vinylmon.live.monitor import LiveSource

pytestmark = pytest.mark.pulse
SR = ANALYSIS_RATE


@pytest.fixture
def window(qtbot, cpu_engine, tmp_path):
    backend = AppBackend(engine=cpu_engine, journal_dir=tmp_path / "journal",
                         profiles_root=tmp_path / "profiles")
    qs = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(backend, qsettings=qs, settings=Settings(window_s=1.0, hop_s=1.0))
    qtbot.addWidget(w)
    yield w
    w.monitor.stop()


def test_a_vanished_input_shows_one_dialog_keeps_the_timeline_and_resumes(qtbot, pulse,
                                                                         window, clicky_wav):
    w = window
    assert w.start(input_name="pulse")
    qtbot.waitUntil(lambda: w.monitor.stats().elapsed_s > 0.3, timeout=10_000)
    pulse.play_and_wait(clicky_wav)
    played = w.monitor.recording.duration_s
    qtbot.waitUntil(lambda: bool(w.monitor.windows) and w.monitor.windows[-1].end_s >= played,
                    timeout=15_000)
    qtbot.waitUntil(lambda: len(w.timeline.event_times()) == len(w.monitor.state.events),
                    timeout=5_000)
    kept = list(w.timeline.event_times())
    windows_before = list(w.monitor.windows)
    assert len(kept) >= 1  # the loudest clicks (the verifier accepts some of 4 here)

    # the input is unplugged
    pulse.unplug_sink()
    qtbot.waitUntil(lambda: len(w.error_messages) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not w.monitor.running and w.start_button.text() == "Resume",
                    timeout=10_000)
    qtbot.wait(500)  # nothing more comes of it
    assert len(w.error_messages) == 1, w.error_messages
    msg = w.error_messages[0]
    assert msg.startswith("Listening stopped: ") and "'pulse'" in msg and "unplugged" in msg
    dialogs = [d for d in w.findChildren(QMessageBox) if d.isVisible()]
    assert len(dialogs) == 1 and len(w._open_dialogs) == 1
    assert "'pulse'" in dialogs[0].text() and "Resume" in dialogs[0].informativeText()
    # the session is still on screen
    assert list(w.timeline.event_times()) == kept
    assert w.monitor.windows == windows_before
    lost_at = w.monitor.recording.duration_s

    # it comes back; the user closes the dialog and presses Resume
    pulse.replug_sink()
    dialogs[0].button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not w._open_dialogs, timeout=2_000)
    w.start_button.click()
    qtbot.waitUntil(lambda: w.monitor.running and w.start_button.text() == "Stop",
                    timeout=5_000)
    qtbot.waitUntil(lambda: w.monitor.recording.duration_s > lost_at + 0.3, timeout=10_000)
    pulse.play_and_wait(clicky_wav)
    played = w.monitor.recording.duration_s
    qtbot.waitUntil(lambda: w.monitor.windows[-1].end_s >= played, timeout=15_000)
    w.stop()
    qtbot.waitUntil(lambda: not w.monitor.running, timeout=10_000)
    qtbot.waitUntil(lambda: len(w.timeline.event_times()) == len(w.monitor.state.events),
                    timeout=5_000)
    assert len(w.error_messages) == 1, w.error_messages[1:]
    new = w.monitor.windows[len(windows_before):]
    assert w.monitor.windows[:len(windows_before)] == windows_before
    assert new and new[0].start_s == pytest.approx(lost_at, abs=1.5 / SR)
    shown = np.round(w.timeline.event_times(), 4)
    assert set(np.round(kept, 4)) <= set(shown)  # the old events are still there
    assert any(t > lost_at for t in shown)  # and the new ones follow them


def test_the_status_bar_counts_input_overflows_and_listening_goes_on(qtbot, pulse, window,
                                                                     monkeypatch,
                                                                     journal_stall):
    """The journal stalls for 1 s (a slow disk): the capture's 0.25-s buffer overflows."""
    w = window
    backend = w.backend
    monkeypatch.setattr(backend, "live_source", lambda name, sample_rate=None: LiveSource(
        name, sample_rate=sample_rate, buffer_s=0.25))
    resumed = journal_stall
    assert w.start(input_name="pulse")
    qtbot.waitUntil(resumed.is_set, timeout=10_000)
    qtbot.wait(300)  # the reader has caught up: no more losses
    n = w.monitor.stats().overflows
    assert n > 0
    qtbot.waitUntil(lambda: w.status_overflow.text() == f"Overflows: {n}", timeout=3_000)
    qtbot.waitUntil(lambda: w.meter.overflows == n, timeout=3_000)
    assert "overflow" in w.meter.overflow_label.text() and str(n) in w.meter.overflow_label.text()
    # listening goes on: more audio, more windows, no error
    after_s, after_windows = w.monitor.recording.duration_s, len(w.monitor.windows)
    qtbot.waitUntil(lambda: w.monitor.recording.duration_s > after_s + 1.5
                    and len(w.monitor.windows) > after_windows, timeout=10_000)
    assert w.monitor.running and w.error_messages == []
    assert w.monitor.stats().overflows == n  # no new losses once the reader keeps up
    w.stop()
    qtbot.waitUntil(lambda: not w.monitor.running, timeout=10_000)

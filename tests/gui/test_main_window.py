"""The monitor window (offscreen): builds, plays the demo, shows the engine's results,
keeps settings across restarts, survives a vanished device with the session kept."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock
from vinylmon.cli.monitor import DEMO_PATH
from vinylmon.errors import DeviceLostError
from vinylmon.gui.main_window import DEMO_INPUT
from vinylmon.gui.settings import Settings

SR = ANALYSIS_RATE


def _run_to_end(qtbot, window, source):
    with qtbot.waitSignal(window.bridge.finished, timeout=60_000):
        assert window.start_source(source)


def test_window_builds_with_its_parts(make_window):
    w = make_window()
    assert w.input_combo.findText(DEMO_INPUT) >= 0
    assert [w.rpm_combo.itemText(i) for i in range(4)] == ["Auto rpm", "33 1/3", "45", "78"]
    assert w.start_button.text() == "Start"
    assert w.grade_bars.values() is None and w.defect_bars.values() is None


def test_demo_starts_scrolls_and_stops(qtbot, make_window):
    assert DEMO_PATH.exists()
    w = make_window()
    assert w.start(input_name=DEMO_INPUT)
    assert w.start_button.text() == "Stop"
    w.reset_frame_stats()
    qtbot.waitUntil(lambda: w.monitor.scope is not None and w.spectrogram.frames_drawn >= 10,
                    timeout=10_000)
    qtbot.wait(500)
    assert w.monitor.running
    assert w.monitor.stats().elapsed_s > 0.3
    stats = w.frame_stats()
    assert stats["ticks_per_s"] > 5  # offscreen and a busy CPU: only a sanity bound here
    w.stop()
    qtbot.waitUntil(lambda: not w.monitor.running, timeout=10_000)
    qtbot.waitUntil(lambda: w.start_button.text() == "Start", timeout=2_000)


def test_timeline_bars_and_badge_show_the_engines_results(qtbot, make_window, clicked_file):
    w = make_window()
    _run_to_end(qtbot, w, w.backend.file_source(clicked_file[0], speed=None))
    qtbot.waitUntil(lambda: len(w.monitor.windows) == 3, timeout=5_000)
    state = w.monitor.state
    assert len(state.events) > 0
    assert sorted(w.timeline.event_times()) == pytest.approx(
        sorted(e.start_s for e in state.events))
    last = w.monitor.windows[-1]
    assert w.defect_bars.values() == pytest.approx(last.defect_probs)
    assert w.grade_bars.values() == pytest.approx(state.grade.grade_probs)
    assert w.badge.grade == state.grade.grade
    # clicking an event opens its zoom around the right time
    ev = state.events[0]
    dialog = w.show_event(ev)
    assert dialog is not None and dialog.isVisible()
    dialog.close()


def test_settings_persist_across_restarts(qtbot, make_window):
    w = make_window()
    dialog = w.open_settings()
    wanted = Settings(window_s=5.0, hop_s=5.0, silence_threshold_db=-60.0, rpm=45.0,
                      spectrogram_visible_s=15.0)
    dialog.set_settings(wanted)
    dialog.accept()
    assert w.settings == dialog.result_settings()
    w.close()
    again = make_window()
    assert again.settings.silence_threshold_db == -60.0
    assert again.settings.rpm == 45.0 and again.settings.spectrogram_visible_s == 15.0
    assert again.rpm_combo.currentData() == 45.0


class VanishingSource:
    """An input that is unplugged after ``seconds``."""

    def __init__(self, path, seconds):
        x, _ = sf.read(path, dtype="float32", always_2d=True)
        self.x, self.seconds = x.T, seconds
        self.name, self.overflows, self.sample_rate = "USB turntable", 0, SR

    def blocks(self, stop):
        n = int(self.seconds * SR)
        for a in range(0, n, 2205):
            yield AudioBlock(self.x[:, a:min(a + 2205, n)], SR, a / SR)
        raise DeviceLostError("the input 'USB turntable' disappeared (unplugged?)")


def test_a_vanished_device_shows_an_error_and_keeps_the_session(qtbot, make_window, clicked_file):
    w = make_window()
    _run_to_end(qtbot, w, VanishingSource(clicked_file[0], 10.2))
    qtbot.waitUntil(lambda: len(w.error_messages) == 1, timeout=5_000)
    assert "disappeared" in w.error_messages[0]
    assert w._open_dialogs, "an error dialog is shown"
    assert len(w.monitor.windows) == 2
    kept = list(w.timeline.event_times())
    assert len(kept) == len(w.monitor.state.events) > 0
    assert w.start_button.text() == "Resume"
    # the input comes back: resume goes on with the same session
    _run_to_end(qtbot, w, w.backend.file_source(clicked_file[0], speed=None))
    # new audio follows the old on the timeline (the 0.2 s before the loss never
    # made a whole window)
    assert [x.start_s for x in w.monitor.windows][:3] == pytest.approx([0.0, 5.0, 10.2], abs=1e-3)
    assert set(np.round(kept, 4)) <= set(np.round(w.timeline.event_times(), 4))


def test_save_and_reopen_a_session(qtbot, make_window, clicked_file, tmp_path):
    w = make_window()
    w.artist_edit.setText("Test Artist")
    _run_to_end(qtbot, w, w.backend.file_source(clicked_file[0], speed=None))
    qtbot.waitUntil(lambda: len(w.monitor.windows) == 3, timeout=5_000)
    with qtbot.waitSignal(w.bridge.taskDone, timeout=30_000):
        w.save_session(tmp_path / "saved")
    with qtbot.waitSignal(w.bridge.taskDone, timeout=30_000):
        w.export_html(tmp_path / "saved" / "report.html")
    n = len(w.monitor.state.events)
    other = make_window()
    assert other.open_session(tmp_path / "saved")
    assert len(other.timeline.event_times()) == n
    assert other.artist_edit.text() == "Test Artist"
    assert other.badge.grade == w.badge.grade
    ev = w.monitor.state.events[0]
    assert other.show_event(ev) is not None
    assert (tmp_path / "saved" / "report.html").stat().st_size > 1000

"""The monitor as a collector uses it (offscreen): no lost work on quit or a new start, the
command line's file after the restore prompt, numbers that agree, help on screen."""

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from vinylmon.grading import names
from vinylmon.grading.rubric import CLICK_LIMITS, CRACKLE_LIMITS
from vinylmon.gui.main_window import PROVISIONAL_S
from vinylmon.gui.timeline import click_loud
from vinylmon.live.monitor import FileSource, Monitor


def _heard(qtbot, w, path, *, windows: int = 3):
    with qtbot.waitSignal(w.bridge.finished, timeout=60_000):
        assert w.start_source(w.backend.file_source(path, speed=None))
    qtbot.waitUntil(lambda: len(w.monitor.windows) == windows, timeout=10_000)
    qtbot.waitUntil(lambda: w.monitor.unsaved, timeout=5_000)


def test_quit_with_an_unsaved_session_asks_and_cancel_keeps_it(qtbot, make_window,
                                                                clicked_file):
    w = make_window()
    w.show()
    _heard(qtbot, w, clicked_file[0])
    w.close()
    qtbot.waitUntil(lambda: w.unsaved_prompt is not None and w.unsaved_prompt.isVisible(),
                    timeout=5_000)
    assert "not saved" in w.unsaved_prompt.text()
    assert w.isVisible(), "nothing closes before the answer"
    w.unsaved_buttons["cancel"].click()
    qtbot.waitUntil(lambda: not w.unsaved_prompt.isVisible(), timeout=5_000)
    assert w.isVisible() and w.monitor.unsaved and len(w.monitor.windows) == 3


def test_quit_and_discard_is_not_a_crash(qtbot, make_window, clicked_file, tmp_path):
    journals = tmp_path / "journals"
    w = make_window(journal_dir=journals)
    w.show()
    _heard(qtbot, w, clicked_file[0])
    w.close()
    qtbot.waitUntil(lambda: w.unsaved_prompt is not None and w.unsaved_prompt.isVisible(),
                    timeout=5_000)
    w.unsaved_buttons["discard"].click()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5_000)
    again = make_window(journal_dir=journals)
    assert again.pending_restore is None, "a deliberate quit is not offered as a crash"


def test_quit_and_save_saves_into_a_new_folder_then_closes(qtbot, make_window, clicked_file,
                                                           tmp_path, monkeypatch):
    journals = tmp_path / "journals"
    w = make_window(journal_dir=journals)
    w.show()
    _heard(qtbot, w, clicked_file[0])
    target = tmp_path / "not" / "there" / "yet"
    monkeypatch.setattr(w, "_ask_save_folder", lambda: str(target))
    w.close()
    qtbot.waitUntil(lambda: w.unsaved_prompt is not None and w.unsaved_prompt.isVisible(),
                    timeout=5_000)
    w.unsaved_buttons["save"].click()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=30_000)
    assert (target / "report.json").exists() and (target / "audio.flac").exists()
    assert make_window(journal_dir=journals).pending_restore is None


def test_starting_over_an_unsaved_session_asks_first(qtbot, make_window, clicked_file):
    w = make_window()
    _heard(qtbot, w, clicked_file[0])
    first = w.monitor.journal.folder
    assert not w.start_source(w.backend.file_source(clicked_file[0], speed=None))
    qtbot.waitUntil(lambda: w.unsaved_prompt is not None and w.unsaved_prompt.isVisible(),
                    timeout=5_000)
    assert w.monitor.journal.folder == first, "the session is untouched while asking"
    with qtbot.waitSignal(w.bridge.finished, timeout=60_000):
        w.unsaved_buttons["discard"].click()
    assert w.monitor.journal.folder != first and not first.exists()


def test_saving_into_a_path_that_cannot_be_written_says_so(qtbot, make_window, clicked_file,
                                                          tmp_path):
    w = make_window()
    _heard(qtbot, w, clicked_file[0])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with qtbot.waitSignal(w.bridge.taskFailed, timeout=30_000):
        w.save_session(blocker / "session")
    assert any("cannot be written to" in m and "choose another folder" in m
               for m in w.error_messages)
    assert w.monitor.unsaved, "a failed save loses nothing"


@pytest.fixture
def left_behind(cpu_engine, clicked_file, tmp_path):
    root = tmp_path / "state" / "sessions"
    mon = Monitor(cpu_engine, journal_dir=root)
    done = threading.Event()
    mon.on_finished = done.set
    mon.start(FileSource(clicked_file[0], speed=None))
    assert done.wait(60)
    mon.join(10)
    mon.close()  # as a killed process leaves it
    return root


@pytest.mark.parametrize("answer", ["restore", "discard"])
def test_the_command_lines_request_runs_once_the_restore_prompt_is_answered(
        qtbot, make_window, left_behind, answer):
    w = make_window(journal_dir=left_behind)
    ran = []
    w.after_restore_prompt(lambda: ran.append(True))
    qtbot.waitUntil(lambda: w.restore_prompt is not None and w.restore_prompt.isVisible(),
                    timeout=5_000)
    assert ran == [], "not while the prompt is up"
    (w.restore_button if answer == "restore" else w.discard_button).click()
    qtbot.waitUntil(lambda: ran == [True], timeout=5_000)


def test_without_a_prompt_the_request_runs_at_once(make_window):
    w = make_window()
    ran = []
    w.after_restore_prompt(lambda: ran.append(True))
    assert ran == [True]


def test_the_grade_is_provisional_early_and_the_legend_agrees_with_the_reason(
        qtbot, make_window, clicked_file):
    w = make_window()
    assert w.badge.reason_text() == "not listening"
    _heard(qtbot, w, clicked_file[0])
    state = w.monitor.state
    g = state.grade
    assert g.quantities.analysed_s < PROVISIONAL_S
    assert w.badge.provisional_text() == "provisional: 0:15 heard" or \
        w.badge.provisional_text().startswith("provisional: 0:1")
    w.timeline.refresh()
    legend = w.timeline.legend_label.text()
    assert f"<b>{g.quantities.clicks_per_min:.1f}</b>&nbsp;clicks/min" in legend
    assert f"({click_loud(state.events)}&nbsp;events" in legend
    assert f"<b>{g.quantities.crackle_per_s:.1f}</b>&nbsp;crackle/s" in legend
    if g.limited_by == "clicks_per_min":  # the reason quotes the same rate
        assert f"{g.quantities.clicks_per_min:.1f} clicks/min" in w.badge.reason_text()
    for kind in names.KIND_NAMES.values():
        assert kind.replace(" ", "&nbsp;") in legend
    assert "likelihoods" in w.defect_bars.title_label.text()
    assert "listening…" not in w.badge.reason_text()


def test_a_78_rpm_record_says_it_is_graded_by_the_lp_rubric(qtbot, make_window, clicked_file):
    w = make_window()
    w.rpm_combo.setCurrentIndex(w.rpm_combo.findData(78.0))
    _heard(qtbot, w, clicked_file[0])
    assert w.badge.note_text() == names.SHELLAC_NOTE and w.badge.note_label.isVisibleTo(w)
    assert w.badge.reason_text(), "the limiting reason stays"


def test_menus_show_the_shortcuts_and_f1_opens_the_help(qtbot, make_window):
    w = make_window()
    w.show()
    w.windowHandle().requestActivate()
    qtbot.waitUntil(w.isActiveWindow, timeout=5_000)
    keys = {k: a.shortcut().toString() for k, a in w.actions.items()}
    assert keys["start"] == "Space" and keys["save"] == "Ctrl+S"
    assert keys["open"] == "Ctrl+O" and keys["export"] == "Ctrl+E"
    assert keys["help"] == "F1" and keys["zoom_in"] == "+" and keys["zoom_out"] == "-"
    QTest.keyClick(w.windowHandle(), Qt.Key.Key_F1)  # through the window: shortcuts apply
    qtbot.waitUntil(lambda: w.help_dialog is not None and w.help_dialog.isVisible(),
                    timeout=5_000)
    text = w.help_dialog.text()
    assert "dB re L" in text and "vinylmon 0." in text
    for limit in (*CLICK_LIMITS, *CRACKLE_LIMITS):
        assert f"< {limit:g}" in text
    qtbot.keyClick(w.help_dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.help_dialog is None or not w.help_dialog.isVisible(),
                    timeout=5_000)


def test_space_starts_and_stops_but_types_in_a_text_field(qtbot, make_window):
    w = make_window()
    w.show()
    w.windowHandle().requestActivate()
    qtbot.waitUntil(w.isActiveWindow, timeout=5_000)
    w.artist_edit.setFocus()
    qtbot.waitUntil(w.artist_edit.hasFocus, timeout=5_000)
    qtbot.keyClicks(w.artist_edit, "The")
    QTest.keyClick(w.windowHandle(), Qt.Key.Key_Space)  # through the window, as typed
    qtbot.keyClicks(w.artist_edit, "Band")
    assert w.artist_edit.text() == "The Band" and not w.monitor.running
    w.timeline.plot_widget.setFocus()
    qtbot.waitUntil(w.timeline.plot_widget.hasFocus, timeout=5_000)
    QTest.keyClick(w.windowHandle(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.monitor.running, timeout=10_000)
    QTest.keyClick(w.windowHandle(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not w.monitor.running, timeout=10_000)


def test_zoom_keys_zoom_the_timeline_and_0_shows_all(qtbot, make_window, clicked_file):
    w = make_window()
    _heard(qtbot, w, clicked_file[0])
    w.timeline.refresh()
    a0, b0 = w.timeline.visible_range()
    w.actions["zoom_in"].trigger()
    a1, b1 = w.timeline.visible_range()
    assert (b1 - a1) < (b0 - a0) / 1.3
    w.actions["zoom_all"].trigger()
    a2, b2 = w.timeline.visible_range()
    assert (b2 - a2) == pytest.approx(b0 - a0, rel=0.05)


def test_every_number_and_status_field_has_a_tooltip(make_window):
    w = make_window()
    fields = [w.status_input, w.status_compute, w.status_inference, w.status_dropped,
              w.status_overflow, w.elapsed_label, w.rpm_combo, w.start_button,
              w.badge.grade_label, w.badge.confidence_label, w.badge.reason_label,
              w.timeline.legend_label, w.grade_bars, w.defect_bars]
    assert all(f.toolTip() for f in fields), [f for f in fields if not f.toolTip()]
    for bars in (w.grade_bars, w.defect_bars):
        rows = [c for c in bars.findChildren(QLabel) if c is not bars.title_label
                and c is not bars.note_label]
        assert rows and all(r.toolTip() for r in rows)


def test_placeholders_are_legible(make_window):
    w = make_window()
    pal = w.artist_edit.palette()
    placeholder = pal.color(pal.ColorRole.PlaceholderText)
    base = pal.color(pal.ColorRole.Base)
    assert abs(placeholder.lightness() - base.lightness()) > 100


def test_the_events_export_as_csv(qtbot, make_window, clicked_file, tmp_path):
    import csv

    w = make_window()
    _heard(qtbot, w, clicked_file[0])
    out = tmp_path / "events.csv"
    with qtbot.waitSignal(w.bridge.taskDone, timeout=30_000):
        w.export_csv(out)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    events = w.monitor.state.events
    assert len(rows) == len(events) > 0
    assert [float(r["start_s"]) for r in rows] == pytest.approx([e.start_s for e in events],
                                                                abs=1e-5)

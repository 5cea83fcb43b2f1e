"""The window offers a session a killed vinylmon left unfinished (offscreen): Restore
shows its events, bars and grade and can Resume and Save; Discard forgets it for good."""

import pytest

from vinylmon.live.monitor import FileSource, Monitor


@pytest.fixture
def left_behind(cpu_engine, clicked_file, tmp_path):
    """A state folder holding one unfinished journal (a session heard, never saved)."""
    import threading

    root = tmp_path / "state" / "sessions"
    mon = Monitor(cpu_engine, journal_dir=root)
    done = threading.Event()
    mon.on_finished = done.set
    mon.start(FileSource(clicked_file[0], speed=None), details={"artist": "Left Behind"})
    assert done.wait(60)
    mon.join(10)
    state, folder = mon.state, mon.journal.folder
    mon.close()  # the journal stays, as a killed process leaves it
    return root, folder, state


def test_restore_shows_the_session_and_it_goes_on(qtbot, make_window, left_behind,
                                                   clicked_file, tmp_path):
    root, folder, state = left_behind
    w = make_window(journal_dir=root)
    assert w.pending_restore is not None and w.pending_restore.folder == folder
    qtbot.waitUntil(lambda: w.restore_prompt is not None and w.restore_prompt.isVisible(),
                    timeout=5_000)
    text = w.restore_prompt.text()
    assert "clicked.flac" in text and "0:12" in text and f"{len(state.events)} event" in text
    assert text.endswith("Restore that session?")
    w.restore_button.click()
    qtbot.waitUntil(lambda: not w.restore_prompt.isVisible(), timeout=5_000)
    assert w.monitor.restored is not None and w.pending_restore is None
    assert sorted(w.timeline.event_times()) == pytest.approx(
        sorted(e.start_s for e in state.events))
    assert w.badge.grade == state.grade.grade
    assert w.grade_bars.values() == pytest.approx(state.grade.grade_probs)
    assert w.defect_bars.values() is not None
    assert w.spectrogram.columns_total > 1000  # the 12 s heard, not "waiting for audio"
    assert w.artist_edit.text() == "Left Behind"
    assert w.start_button.text() == "Resume"
    # clicking an event shows its audio, read back from the journal
    dialog = w.show_event(state.events[0])
    assert dialog is not None
    dialog.close()
    # Resume goes on with the same session and journal
    with qtbot.waitSignal(w.bridge.finished, timeout=60_000):
        assert w.start_source(w.backend.file_source(clicked_file[0], speed=None))
    qtbot.waitUntil(lambda: len(w.monitor.windows) == 6, timeout=10_000)
    assert w.monitor.journal.folder == folder
    assert {round(e.start_s, 4) for e in state.events} <= {
        round(t, 4) for t in w.timeline.event_times()}
    # and Save works; a saved session is not offered again
    with qtbot.waitSignal(w.bridge.taskDone, timeout=30_000):
        w.save_session(tmp_path / "saved")
    assert (tmp_path / "saved" / "report.json").exists()
    w.close()
    assert not folder.exists()
    again = make_window(journal_dir=root)
    assert again.pending_restore is None
    qtbot.wait(50)
    assert again.restore_prompt is None


def test_discard_is_not_offered_again(qtbot, make_window, left_behind):
    root, folder, _ = left_behind
    w = make_window(journal_dir=root)
    qtbot.waitUntil(lambda: w.restore_prompt is not None and w.restore_prompt.isVisible(),
                    timeout=5_000)
    w.discard_button.click()
    qtbot.waitUntil(lambda: not w.restore_prompt.isVisible(), timeout=5_000)
    assert w.monitor.session is None and len(w.timeline.event_times()) == 0
    assert not folder.exists()
    w.close()
    again = make_window(journal_dir=root)
    assert again.pending_restore is None
    qtbot.wait(50)
    assert again.restore_prompt is None


def test_a_damaged_journal_is_not_offered_and_the_window_opens(qtbot, make_window,
                                                                left_behind):
    root, folder, _ = left_behind
    (folder / "windows.jsonl").write_bytes(b"garbage\n" * 3)
    w = make_window(journal_dir=root)
    assert w.pending_restore is None
    assert folder.exists(), "a journal it cannot read is left alone"

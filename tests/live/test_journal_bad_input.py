"""Bad session journals are refused whole, with a clear JournalError; never half-loaded."""

import json

import numpy as np
import pytest

from vinylmon.audio.recording import SessionRecording
from vinylmon.audio.types import AudioBlock
from vinylmon.errors import VinylmonError
from vinylmon.grading.events import AnalysedWindow, Impulse
from vinylmon.live.journal import (
    AUDIO_FILE,
    WINDOWS_FILE,
    JournalError,
    SessionJournal,
    discard_session,
    read_journal,
    restore_session,
    unfinished_sessions,
    window_record,
)
from vinylmon.live.monitor import Monitor

SR = 44100


def _window(i):
    return AnalysedWindow(i, 5.0 * i, 5.0 * i + 5.0, False, -20.0, (0.2,) * 5, None, -30.0,
                          (Impulse(5.0 * i + 1, 5.0 * i + 1.001, 0, -2.0, 0.9),), 0.1)


def make_journal(root, n=2, *, close=True):
    """A valid journal of ``n`` windows with their audio (no models needed)."""
    j = SessionJournal.create(root, input_name="line-in", sample_rate=SR, channels=2)
    rec = SessionRecording(j.audio_path, sample_rate=SR, channels=2)
    j.recording = rec
    rec.append(AudioBlock(np.full((2, 5 * SR * n), 0.1, np.float32), SR, 0.0))
    for i in range(n):
        j.add_window(_window(i))
    rec.close()
    if close:
        j.close()
    return j


def lines(folder):
    return (folder / WINDOWS_FILE).read_bytes().split(b"\n")[:-1]


def write_lines(folder, raw):
    (folder / WINDOWS_FILE).write_bytes(b"".join(x + b"\n" for x in raw))


def test_the_good_journal_restores(tmp_path):
    # the baseline the damaged copies below start from
    r = restore_session(make_journal(tmp_path).folder)
    assert len(r.windows) == 2 and len(r.state.events) == 2
    r.recording.close()


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"\x00\x01\x02garbage\xff", "no complete line"),
    (b"garbage\nmore garbage\n", "not a vinylmon session journal"),
    (b"\xff\xfe\x00\x00\n{}\n", "not a vinylmon session journal"),
    (json.dumps({"schema": "vinylmon.report/1"}).encode() + b"\n", "no session facts"),
    (b"[1, 2, 3]\n{}\n", "not a JSON object"),
])
def test_garbage_is_refused(tmp_path, content, match):
    folder = make_journal(tmp_path).folder
    (folder / WINDOWS_FILE).write_bytes(content)
    for call in (read_journal, restore_session, SessionJournal.reopen):
        with pytest.raises(JournalError, match=match) as ei:
            call(folder)
        assert isinstance(ei.value, VinylmonError) and str(folder) in str(ei.value)
    assert unfinished_sessions(tmp_path) == []


def test_another_format_version_is_refused(tmp_path):
    folder = make_journal(tmp_path).folder
    raw = lines(folder)
    head = json.loads(raw[0])
    head["format"] = "vinylmon.journal/2"
    write_lines(folder, [json.dumps(head).encode(), *raw[1:]])
    with pytest.raises(JournalError, match=r"format 'vinylmon.journal/2'.*reads "
                                           r"'vinylmon.journal/1'"):
        restore_session(folder)


@pytest.mark.parametrize("field, value, match", [
    ("sample_rate", 0, "sample_rate"), ("channels", 6, "channels"), ("input", 3, "input"),
    ("started", "yesterday", "started"), ("rpm", 1000, "rpm"), ("record", [1], "record"),
    ("false_clicks_per_min", -2.0, "false_clicks_per_min"),
    ("noise_sd_db", "wide", "noise_sd_db"), ("noise_sd_db", 500.0, "noise_sd_db"),
    ("crackle_sd_log", -1.0, "crackle_sd_log"), ("crackle_sd_log", "x", "crackle_sd_log"),
    ("click_sd_log", 25.0, "click_sd_log"), ("click_sd_log", None, "click_sd_log"),
    ("accept", 1.5, "accept"), ("accept", "high", "accept"),
])
def test_broken_session_facts(tmp_path, field, value, match):
    folder = make_journal(tmp_path).folder
    raw = lines(folder)
    head = {**json.loads(raw[0]), field: value}
    write_lines(folder, [json.dumps(head).encode(), *raw[1:]])
    with pytest.raises(JournalError, match=f"broken session facts.*{match}"):
        restore_session(folder)


@pytest.mark.parametrize("change, match", [
    ({"start_s": "soon"}, "start_s"), ({"end_s": -1.0}, "span"),
    ({"impulses": [[1, 2]]}, "impulse"), ({"impulses": {}}, "impulses"),
    ({"silent": "no"}, "silent"), ({"grade_probs": [0.5, 0.5]}, "grade_probs"),
    ({"index": 1.5}, "index"), ({"type": "mystery"}, "unknown line type"),
    ({"type": "session"}, "second session header"),
    ({"floor_dbfs": "low"}, "floor_dbfs"), ({"floor_ticks_dbfs": -40.0}, "floor_ticks_dbfs"),
    ({"floor_ticks_dbfs": ["tick"]}, "floor tick"),
    ({"learned_clicks": -1.0}, "learned_clicks"), ({"learned_clicks": "many"}, "learned_clicks"),
])
def test_a_broken_window_line_refuses_the_whole_journal(tmp_path, change, match):
    folder = make_journal(tmp_path, 3).folder
    raw = lines(folder)
    bad = {**json.loads(raw[2]), **change}
    write_lines(folder, [*raw[:2], json.dumps(bad).encode(), *raw[3:]])
    with pytest.raises(JournalError, match=f"line 3 .*{match}"):
        restore_session(folder)


def test_a_damaged_line_in_the_middle_is_not_a_torn_one(tmp_path):
    folder = make_journal(tmp_path, 3).folder
    raw = lines(folder)
    write_lines(folder, [raw[0], raw[1][:20], *raw[2:]])
    with pytest.raises(JournalError, match="line 2 .*damaged"):
        restore_session(folder)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(JournalError, match="not a folder"):
        restore_session(tmp_path / "nope")
    folder = make_journal(tmp_path / "a").folder
    (folder / AUDIO_FILE).unlink()
    with pytest.raises(JournalError, match="no audio"):
        restore_session(folder)
    folder = make_journal(tmp_path / "b").folder
    (folder / WINDOWS_FILE).unlink()
    with pytest.raises(JournalError, match=WINDOWS_FILE):
        restore_session(folder)
    with pytest.raises(JournalError):
        SessionJournal.reopen(folder)


def test_too_little_audio_for_the_windows(tmp_path):
    folder = make_journal(tmp_path).folder
    with open(folder / AUDIO_FILE, "r+b") as f:
        f.truncate(4 * SR * 3)  # 3 s for 10 s of windows
    with pytest.raises(JournalError, match="3.00 s of audio for 10.00 s"):
        restore_session(folder)


def test_nothing_to_restore(tmp_path):
    j = SessionJournal.create(tmp_path, input_name="x", sample_rate=SR, channels=1)
    j.close()
    with pytest.raises(JournalError, match="no analysed window"):
        restore_session(j.folder)
    assert unfinished_sessions(tmp_path) == []


def test_in_use_and_finished_journals(tmp_path):
    running = make_journal(tmp_path / "a", close=False)
    with pytest.raises(JournalError, match="in use"):
        restore_session(running.folder)
    with pytest.raises(JournalError, match="in use"):
        discard_session(running.folder)
    assert unfinished_sessions(tmp_path / "a") == []
    running.close()
    done = make_journal(tmp_path / "b")
    with open(done.path, "ab") as f:
        f.write(json.dumps({"type": "finished"}).encode() + b"\n")  # removal failed after
    with pytest.raises(JournalError, match="finished"):
        restore_session(done.folder)
    assert unfinished_sessions(tmp_path / "b") == []
    discard_session(done.folder)
    assert not done.folder.exists()


def test_a_bad_journal_leaves_the_monitor_as_it_was(cpu_engine, tmp_path):
    good = make_journal(tmp_path / "good").folder
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "good")
    mon.restore(good)
    before = (list(mon.windows), mon.state, mon.report(), mon.recording, mon.journal)
    bad = make_journal(tmp_path / "bad").folder
    raw = lines(bad)
    write_lines(bad, [*raw[:-1], b'{"type": "window", "index": "x"}'])  # complete, broken
    with pytest.raises(JournalError):
        mon.restore(bad)
    assert (list(mon.windows), mon.state, mon.report(), mon.recording, mon.journal) == before
    assert good.exists() and bad.exists(), "nothing was finished or removed"
    mon.close()


def test_the_encoder_writes_strict_json(tmp_path):
    w = AnalysedWindow(0, 0.0, 5.0, True, float("-inf"), None, None, float("nan"), (), 0.0)
    line = json.dumps(window_record(w), allow_nan=False)
    assert '"-inf"' in line and '"nan"' in line


def test_a_journal_from_before_the_error_allowances_restores_with_none(tmp_path):
    folder = make_journal(tmp_path).folder
    raw = lines(folder)
    head = json.loads(raw[0])
    for key in ("false_clicks_per_min", "noise_sd_db", "crackle_sd_log", "click_sd_log",
                "accept"):
        head.pop(key, None)
    write_lines(folder, [json.dumps(head).encode(), *raw[1:]])
    r = restore_session(folder)
    assert r.session.false_clicks_per_min == 0.0 and r.session.noise_sd_db == 0.0
    assert r.session.crackle_sd_log == 0.0 and r.session.accept == 0.0
    assert r.session.click_sd_log == 0.0
    r.recording.close()

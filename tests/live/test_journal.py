"""The session journal: a killed monitor's session comes back whole on the next start.

Round trip (windows, events, grade and report restored equal), a torn last line
ignored, resume appending to the same journal, finished sessions not offered,
and the real thing: a monitor in a child process SIGKILLed mid-side.
"""

import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.recording import SessionRecording
from vinylmon.audio.scope import Scope
from vinylmon.audio.types import AudioBlock
from vinylmon.engine.session import Session
from vinylmon.grading.events import AnalysedWindow, Impulse
from vinylmon.grading.skips import Repeat
from vinylmon.live.journal import (
    AUDIO_FILE,
    FORMAT,
    WINDOWS_FILE,
    SessionJournal,
    discard_session,
    in_use,
    prune_sessions,
    read_journal,
    restore_session,
    sessions_root,
    unfinished_sessions,
    window_from_record,
    window_record,
)
from vinylmon.live.monitor import FileSource, Monitor

CHILD = Path(__file__).with_name("journal_kill_child.py")
SR = 44100


def _plain(v):
    if isinstance(v, (AnalysedWindow, Impulse)):
        return tuple(_plain(getattr(v, f)) for f in v.__slots__)
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, (bool, int, type(None))) and not isinstance(v, np.generic):
        return v
    x = float(v)  # numpy floats compare as the floats they are
    return "nan" if math.isnan(x) else x


def same_windows(a, b):
    """Equal field by field, NaN equal to NaN (a silent window's noise_db)."""
    return [_plain(w) for w in a] == [_plain(w) for w in b]


def run_to_end(mon, source, **kw):
    done = threading.Event()
    mon.on_finished = done.set
    mon.start(source, **kw)
    assert done.wait(120)
    mon.join(10)


@pytest.fixture(scope="module")
def journalled(cpu_engine, clicked_file, tmp_path_factory):
    """A monitor run over the clicked file, closed without saving: its journal folder
    (copy it before use) and what the monitor had: windows, state, report."""
    root = tmp_path_factory.mktemp("sessions")
    mon = Monitor(cpu_engine, journal_dir=root)
    run_to_end(mon, FileSource(clicked_file[0], speed=None), rpm=33.333,
               details={"artist": "A", "side": "1"})
    out = {"windows": list(mon.windows), "state": mon.state,
           "report": mon.report(details=mon.details), "folder": mon.journal.folder}
    mon.close()
    assert out["folder"].is_dir(), "an unsaved session's journal is kept"
    return out


def copy_journal(journalled, tmp_path):
    root = tmp_path / "sessions"
    dst = root / journalled["folder"].name
    shutil.copytree(journalled["folder"], dst)
    return root, dst


def test_round_trip_restores_windows_events_grade_and_report(cpu_engine, journalled,
                                                              clicked_file, tmp_path):
    root, folder = copy_journal(journalled, tmp_path)
    lines = [json.loads(x) for x in (folder / WINDOWS_FILE).read_text().splitlines()]
    head = lines[0]
    assert head["type"] == "session" and head["format"] == FORMAT
    assert head["input"] == "clicked.flac" and head["rpm"] == 33.333
    assert (head["sample_rate"], head["channels"]) == (SR, 2)
    assert head["record"] == {"artist": "A", "side": "1"}
    assert [x["type"] for x in lines[1:]].count("window") == 3

    (info,) = unfinished_sessions(root)
    assert info.folder == folder and info.windows == 3 and info.input_name == "clicked.flac"
    assert info.events == len(journalled["state"].events) > 0
    assert info.duration_s == pytest.approx(12.0, abs=0.01)

    r = restore_session(folder)
    assert same_windows(r.windows, journalled["windows"])
    assert r.state.events == journalled["state"].events
    assert r.state.scratches == journalled["state"].scratches
    assert r.state.grade == journalled["state"].grade
    assert r.recording.duration_s == pytest.approx(12.0, abs=0.01)
    r.recording.close()

    mon = Monitor(cpu_engine, journal_dir=root)
    mon.restore(folder)
    assert not mon.running and mon.session is not None
    assert mon.details == {"artist": "A", "side": "1"}
    assert mon.report(details=mon.details) == journalled["report"]
    x, _ = sf.read(clicked_file[0], dtype="float32", always_2d=True)
    # the spectrogram of what was heard (the journal's audio), not its levels
    frame = mon.scope.take()
    fresh = Scope(SR, 2)
    fresh.push(AudioBlock(x.T.copy(), SR, 0.0))
    expected = fresh.take().columns_db
    assert frame.end_s == pytest.approx(12.0, abs=0.01)
    assert frame.columns_db.shape == expected.shape and len(expected) > 1000
    assert np.corrcoef(frame.columns_db.ravel(), expected.ravel())[0, 1] > 0.99
    ev = mon.state.events[0]
    np.testing.assert_allclose(mon.excerpt(ev.start_s, ev.end_s + 0.01),
                               x[int(round(ev.start_s * SR)):int(round((ev.end_s + 0.01) * SR))].T,
                               atol=1.5 / 32767)
    assert unfinished_sessions(root) == [], "a restored session is held by this monitor"
    saved = mon.save_session(tmp_path / "saved", details=mon.details)
    assert json.loads((saved / "report.json").read_text()) == journalled["report"]
    assert (tmp_path / "html.html") == mon.export_html(tmp_path / "html.html")
    mon.close()
    assert not folder.exists(), "saved, nothing new: the journal goes on close"
    assert unfinished_sessions(root) == []


def test_a_torn_last_line_and_a_torn_frame_are_ignored(cpu_engine, journalled, tmp_path):
    root, folder = copy_journal(journalled, tmp_path)
    whole = (folder / WINDOWS_FILE).read_bytes()
    frames = (folder / AUDIO_FILE).stat().st_size // 4
    line = json.dumps({"type": "window", "index": 3, "start_s": 12.0, "end_s": 17.0})
    with open(folder / WINDOWS_FILE, "ab") as f:
        f.write(line[:len(line) // 2].encode())  # killed mid-write
    with open(folder / AUDIO_FILE, "ab") as f:
        f.write(b"\x01\x02\x03")  # and mid-frame
    c = read_journal(folder)
    assert c.torn_bytes == len(line) // 2 and len(c.windows) == 3
    r = restore_session(folder)
    assert same_windows(r.windows, journalled["windows"])
    assert r.recording.frames == frames
    r.recording.close()
    assert (folder / AUDIO_FILE).stat().st_size % 4 == 0, "the torn frame is cut off"
    # going on with it cuts the torn line off first: the journal stays readable
    j = SessionJournal.reopen(folder)
    assert (folder / WINDOWS_FILE).read_bytes() == whole
    j.close()


def test_resume_appends_to_the_same_journal(cpu_engine, journalled, clicked_file, tmp_path):
    root, folder = copy_journal(journalled, tmp_path)
    mon = Monitor(cpu_engine, journal_dir=root)
    mon.restore(folder)
    run_to_end(mon, FileSource(clicked_file[0], speed=None), resume=True)
    assert [w.start_s for w in mon.windows] == pytest.approx([0, 5, 10, 12, 17, 22], abs=1e-6)
    assert mon.recording.duration_s == pytest.approx(24.0, abs=0.01)
    assert sorted(os.listdir(root)) == [folder.name], "no second journal"
    report = mon.report()
    windows = list(mon.windows)
    mon.close()
    types = [json.loads(x)["type"] for x in (folder / WINDOWS_FILE).read_text().splitlines()]
    assert types.count("window") == 6 and types.count("resumed") == 1
    again = Monitor(cpu_engine, journal_dir=root)
    again.restore(folder)
    assert same_windows(again.windows, windows)
    assert again.report() == report
    again.discard()
    assert not folder.exists() and unfinished_sessions(root) == []


def test_finished_sessions_are_not_offered(cpu_engine, journalled, clicked_file, tmp_path):
    root, folder = copy_journal(journalled, tmp_path)
    # a new session finishes (removes) the one before
    mon = Monitor(cpu_engine, journal_dir=root)
    mon.restore(folder)
    run_to_end(mon, FileSource(clicked_file[0], speed=None))
    assert not folder.exists()
    (current,) = [p for p in root.iterdir()]
    assert in_use(current) and unfinished_sessions(root) == [], "a running one is not offered"
    mon.close()
    assert [i.folder for i in unfinished_sessions(root)] == [current]
    # discarding it finishes it
    discard_session(current)
    assert not current.exists() and unfinished_sessions(root) == []
    # saved and closed: finished
    mon = Monitor(cpu_engine, journal_dir=root)
    run_to_end(mon, FileSource(clicked_file[0], speed=None))
    mon.save_session(tmp_path / "saved")
    mon.close()
    assert list(root.iterdir()) == [] and unfinished_sessions(root) == []
    # saved but never closed (killed after saving): not offered, and pruned
    root2, folder2 = copy_journal(journalled, tmp_path / "two")
    j = SessionJournal.reopen(folder2)
    j.mark_saved(3, tmp_path / "saved")
    j.close()
    assert unfinished_sessions(root2) == []
    assert prune_sessions(root2) == 1 and not folder2.exists()


def _window(i, *, silent=False, impulses=()):
    return AnalysedWindow(i, 5.0 * i, 5.0 * i + 5.0, silent, -20.0 if not silent else -float("inf"),
                          None if silent else (0.1, 0.2, 0.3, 0.2, 0.2),
                          None if silent else (0.5, 0.2, 0.1, 0.1, 0.05, 0.05),
                          float("nan") if silent else -31.25, tuple(impulses),
                          0.0 if silent else 0.123456789, None if silent else 2.5 + i,
                          float("nan") if silent or i == 0 else -61.5 - i,
                          () if silent or i == 0 else (-40.25, -35.5),
                          None if silent or i == 0 else 1.75 * i)


def test_the_writer_keeps_every_field_and_the_dropped_counts_and_repeats(tmp_path):
    imps = (Impulse(1.0, 1.001, 0, -3.5, 0.9), Impulse(2.0, 2.0005, None, -1.0, 0.55))
    windows = [_window(0, impulses=imps), _window(1, silent=True), _window(2)]
    rec_path = tmp_path
    j = SessionJournal.create(rec_path, input_name="mic (48000 Hz)", sample_rate=SR, channels=2,
                              rpm=45.0, record={"title": "T"}, window_s=5.0,
                              learned_weight=0.25, models={"detector": "d@1"},
                              false_clicks_per_min=0.8, noise_sd_db=7.5, crackle_sd_log=1.2,
                              click_sd_log=0.7, accept=0.6)
    rec = SessionRecording(j.audio_path, sample_rate=SR, channels=2)
    j.recording = rec
    rec.append(AudioBlock(np.zeros((2, 15 * SR), np.float32), SR, 0.0))
    j.add_window(windows[0], dropped=0, repeats=[])
    j.add_window(windows[1], dropped=2, repeats=[Repeat(1.0, 2.0, 1.333, 0.9)])
    j.set_record({"title": "T", "side": "B"})
    j.add_window(windows[2], dropped=2, repeats=[Repeat(1.0, 2.0, 1.333, 0.9)])
    j.close()
    rec.close()
    types = [json.loads(x)["type"] for x in j.path.read_text().splitlines()]
    assert types == ["session", "window", "window", "dropped", "repeats", "record", "window"]
    c = read_journal(j.folder)
    assert same_windows(c.windows, windows)
    assert math.isnan(c.windows[1].noise_db) and c.windows[1].level_db == -float("inf")
    assert c.dropped == 2 and c.repeats == [Repeat(1.0, 2.0, 1.333, 0.9)]
    assert c.record == {"title": "T", "side": "B"} and c.rpm == 45.0
    assert c.header["learned_weight"] == 0.25 and c.header["models"] == {"detector": "d@1"}
    r = restore_session(j.folder)
    assert r.session.dropped_windows == 2 and r.session.learned_weight == 0.25
    assert c.header["false_clicks_per_min"] == 0.8 and r.session.false_clicks_per_min == 0.8
    assert r.session.noise_sd_db == 7.5 and r.session.crackle_sd_log == 1.2
    assert r.session.click_sd_log == 0.7
    assert r.session.accept == 0.6  # the 0.55 impulse is no event of its own
    want = Session(rpm=45.0, learned_weight=0.25, false_clicks_per_min=0.8, noise_sd_db=7.5,
                   crackle_sd_log=1.2, click_sd_log=0.7, accept=0.6)
    for w in windows:
        want.add(w)
    want.set_repeats([Repeat(1.0, 2.0, 1.333, 0.9)])
    want.dropped_windows = 2
    assert r.state == want.state()
    r.recording.close()
    assert sessions_root(None).name == "sessions"


def test_a_window_line_of_an_older_journal_has_no_floor():
    """Journals written before windows had a steady floor still load: unknown (NaN),
    no ticks."""
    line = window_record(_window(2))
    assert line["floor_dbfs"] == -63.5
    assert window_from_record(line).floor_dbfs == -63.5
    assert window_from_record(line).floor_ticks_dbfs == (-40.25, -35.5)
    del line["floor_dbfs"], line["floor_ticks_dbfs"]
    old = window_from_record(line)
    assert math.isnan(old.floor_dbfs) and old.floor_ticks_dbfs == ()


def _reader(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def test_a_monitor_killed_mid_side_loses_nothing_it_reported(cpu_engine, clicked_file,
                                                             tmp_path):
    """A child runs the monitor and prints each window as on_window fires; SIGKILL after
    N of them: every printed window (and the events as printed) comes back exactly."""
    x, _ = sf.read(clicked_file[0], dtype="float32", always_2d=True)
    side = tmp_path / "side.flac"  # 36 s: eight windows, killed after three
    sf.write(side, np.concatenate([x, x, x]), SR)
    root = tmp_path / "sessions"
    n_kill = 3
    err = open(tmp_path / "child.err", "w")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(side), str(root), "4"],
                            stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
    printed = []
    deadline = time.monotonic() + 240
    try:
        while len(printed) < n_kill:
            line = q.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, (tmp_path / "child.err").read_text()[-3000:]
            printed.append(json.loads(line))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        err.close()
    assert proc.returncode == -signal.SIGKILL
    assert all("done" not in p for p in printed), "killed before the side ended"

    (folder,) = list(root.iterdir())
    (info,) = unfinished_sessions(root)  # the kernel dropped the dead child's lock
    assert info.folder == folder and info.windows >= n_kill
    r = restore_session(folder)
    assert n_kill <= len(r.windows) < 8, "mid-side: not every window was analysed"
    # every window printed is restored, exactly, in order (at most the one being
    # analysed when the child died follows them)
    for p, w in zip(printed, r.windows, strict=False):
        assert (w.index, w.start_s, w.end_s) == (p["index"], p["start_s"], p["end_s"])
        assert [[i.start_s, i.end_s, i.channel, i.peak_dbfs, i.confidence]
                for i in w.impulses] == p["impulses"]
    # and the session rebuilt from them has exactly the events the child saw
    for k, p in enumerate(printed):
        s = Session(rpm=r.contents.rpm, learned_weight=r.session.learned_weight,
                    accept=r.session.accept)
        for w in r.windows[:k + 1]:
            s.add(w)
        assert [[e.kind, e.start_s, e.end_s, e.channel, e.peak_db, e.confidence]
                for e in s.state().events] == p["events"]
    assert printed[-1]["events"], "the side has clicks"
    assert r.contents.record == {"artist": "Killed"}
    r.recording.close()
    mon = Monitor(cpu_engine, journal_dir=root)
    mon.restore(folder)
    assert mon.report()["input"] == "side.flac"
    mon.close()

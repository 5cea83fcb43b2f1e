"""The monitor back end: a file through the live pipeline, device loss, resume, sessions."""

import threading

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock
from vinylmon.errors import DeviceLostError
from vinylmon.live.monitor import FileSource, Monitor, load_session
from vinylmon.reports.schema import report_problems

SR = ANALYSIS_RATE


class Recorder:
    def __init__(self, monitor):
        self.windows, self.errors = [], []
        self.done = threading.Event()
        monitor.on_window = lambda a, s: self.windows.append((a, s))
        monitor.on_error = self.errors.append
        monitor.on_finished = self.done.set


def test_a_file_through_the_live_pipeline(cpu_engine, clicked_file, tmp_path):
    path, truth_s = clicked_file
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "journal")
    rec = Recorder(mon)
    mon.start(FileSource(path, speed=None))
    assert rec.done.wait(60)
    assert not rec.errors
    assert [a.start_s for a, _ in rec.windows] == [0.0, 5.0, 10.0]
    state = mon.state
    assert state.heard_s == pytest.approx(12.0, abs=0.01)
    found = np.array([e.start_s for e in state.events])
    hits = sum(np.min(np.abs(found - t)) < 0.002 for t in truth_s) if len(found) else 0
    assert hits >= len(truth_s) // 2, (found, truth_s)
    assert mon.recording.duration_s == pytest.approx(12.0, abs=0.01)
    frame = mon.scope.take()
    assert frame.columns_db.shape[1] == len(mon.scope.freqs_hz) and len(frame.columns_db) > 500
    st = mon.stats()
    assert st.windows == 3 and st.dropped_windows == 0 and not st.running

    folder = mon.save_session(tmp_path / "saved", details={"artist": "A", "side": "1"})
    report, audio = load_session(folder)
    assert report_problems(report) == []
    assert report["record"] == {"artist": "A", "side": "1"}
    assert len(report["events"]) == len(state.events)
    y, sr = sf.read(audio)
    assert sr == SR and abs(len(y) / SR - 12.0) < 0.01
    html = mon.export_html(tmp_path / "r.html")
    assert "<html" in html.read_text()[:200].lower()


class FlakySource:
    """Plays ``seconds`` of audio, then the device is 'unplugged'."""

    def __init__(self, x, fail_after_s):
        self.x, self.fail_after_s = x, fail_after_s
        self.name, self.overflows, self.sample_rate = "flaky", 0, SR

    def blocks(self, stop):
        n = int(self.fail_after_s * SR)
        for a in range(0, n, 4410):
            yield AudioBlock(self.x[:, a:min(a + 4410, n)], SR, a / SR)
        raise DeviceLostError("input 'flaky' disappeared")


def test_device_loss_keeps_the_session_and_resume_goes_on(cpu_engine, clicked_file,
                                                           tmp_path):
    path, _ = clicked_file
    x, _ = sf.read(path, dtype="float32", always_2d=True)
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "j")
    rec = Recorder(mon)
    mon.start(FlakySource(x.T, 10.0))
    assert rec.done.wait(60)
    assert len(rec.errors) == 1 and isinstance(rec.errors[0], DeviceLostError)
    assert len(mon.windows) == 2  # the two whole windows before the loss
    events_before = mon.state.events
    rec.done.clear()
    mon.start(FileSource(path, speed=None), resume=True)
    assert rec.done.wait(60)
    starts = [w.start_s for w in mon.windows]
    assert starts == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert mon.recording.duration_s == pytest.approx(22.0, abs=0.01)
    # the events heard before the loss are kept (their levels re L move as L does)
    assert {e.start_s for e in events_before} <= {e.start_s for e in mon.state.events}


def test_a_new_session_starts_from_nothing(cpu_engine, clicked_file, tmp_path):
    path, _ = clicked_file
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "j")
    rec = Recorder(mon)
    for _ in range(2):
        rec.done.clear()
        mon.start(FileSource(path, speed=None))
        assert rec.done.wait(60)
        assert [w.start_s for w in mon.windows] == [0.0, 5.0, 10.0]


def test_real_time_pace_and_stop(cpu_engine, clicked_file, tmp_path):
    path, _ = clicked_file
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "j")
    rec = Recorder(mon)
    mon.start(FileSource(path, speed=1.0))
    assert not rec.done.wait(1.0)  # 12 s of audio at real time: still playing after 1 s
    assert mon.running
    mon.stop()
    assert rec.done.wait(10)
    assert not mon.running and mon.recording.duration_s < 6.0

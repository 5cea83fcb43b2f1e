"""Faults in the live monitor, each a test (issue 8).

- The input vanishes mid-session and comes back: real PulseAudio, real PortAudio capture
  through :class:`LiveSource` and :class:`Monitor`; the null sink is unloaded under the
  capture and loaded again.
- Input overflows: the reader stops taking audio for longer than the capture buffers;
  the loss is counted and shown, the capture goes on, the timeline stays true.
- Inference slower than real time: a throttled detector; windows are dropped and
  counted, the queue stays bounded, so does the audio held, and every window is
  accounted for.

The pulse tests start a private PulseAudio daemon (``tests/pulse_rig.py``).
"""

import threading
import time
import weakref

import numpy as np
import pytest
import soundfile as sf
from pulse_rig import quick_music as music  # (the rig's fixtures are in tests/conftest.py)

from vinylmon.audio.capture import LiveCapture
from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock
from vinylmon.audio.windowing import Windower
from vinylmon.engine.engine import LiveAnalyser
from vinylmon.errors import DeviceError, DeviceLostError
from vinylmon.live.monitor import FileSource, LiveSource, Monitor
from vinylmon.simulate import transport

SR = ANALYSIS_RATE


class Recorder:
    """What the monitor tells its GUI: windows, errors, the end of each run."""

    def __init__(self, monitor):
        self.windows, self.errors = [], []
        self.done = threading.Event()
        monitor.on_window = lambda a, s: self.windows.append(a)
        monitor.on_error = self.errors.append
        monitor.on_finished = self.done.set


def wait_until(cond, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


# ---- 1. the input vanishes and comes back ----------------------------------------------

@pytest.mark.pulse
def test_input_vanishes_mid_session_and_resume_goes_on(pulse, cpu_engine, clicky_wav,
                                                       tmp_path):
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "journal")
    rec = Recorder(mon)
    mon.start(LiveSource("pulse", sample_rate=SR), window_s=1.0)
    wait_until(lambda: mon.recording is not None and mon.recording.duration_s > 0.3, 10,
               "the first audio from the pulse device")
    pulse.play_and_wait(clicky_wav)
    played_until = mon.recording.duration_s
    wait_until(lambda: mon.windows and mon.windows[-1].end_s >= played_until, 15,
               "the windows of the played file")
    before = list(mon.windows)
    events_before = mon.state.events
    assert sum(not w.silent for w in before) >= 3 and len(events_before) >= 1

    # unplugged mid-session
    t0 = time.monotonic()
    pulse.unplug_sink()
    assert rec.done.wait(10), "the monitor did not notice the input was gone"
    noticed_s = time.monotonic() - t0
    assert not mon.running
    assert len(rec.errors) == 1, rec.errors
    err = rec.errors[0]
    assert isinstance(err, DeviceLostError)
    msg = str(err)
    assert "'pulse'" in msg and "unplugged" in msg and "\n" not in msg, msg
    assert noticed_s < 3.0, f"noticed after {noticed_s:.1f} s"
    # the session stays: its windows, its events, its audio
    assert mon.windows[:len(before)] == before
    assert mon.session is not None and mon.state is not None
    assert {e.start_s for e in events_before} <= {e.start_s for e in mon.state.events}
    lost_at = mon.recording.duration_s
    assert lost_at >= played_until

    # Resume pressed too early: one clear error, and the session is still kept
    rec.done.clear()
    mon.start(LiveSource("pulse", sample_rate=SR), window_s=1.0, resume=True)
    assert rec.done.wait(10)
    assert len(rec.errors) == 2 and isinstance(rec.errors[1], DeviceError)
    assert "'pulse'" in str(rec.errors[1])
    assert mon.windows[:len(before)] == before and mon.recording.duration_s == lost_at

    # plugged back: resume goes on with the same session, on the same timeline
    pulse.replug_sink()
    rec.done.clear()
    mon.start(LiveSource("pulse", sample_rate=SR), window_s=1.0, resume=True)
    wait_until(lambda: mon.recording.duration_s > lost_at + 0.3, 10,
               "audio again after the input came back")
    pulse.play_and_wait(clicky_wav)
    played_until = mon.recording.duration_s
    wait_until(lambda: mon.windows[-1].end_s >= played_until, 15,
               "the windows of the file played after resuming")
    mon.stop()
    assert rec.done.wait(10)
    assert len(rec.errors) == 2, rec.errors[2:]  # nothing new went wrong
    new = mon.windows[len(before):]
    assert mon.windows[:len(before)] == before
    assert new[0].start_s == pytest.approx(lost_at, abs=1.5 / SR)  # right after the old
    starts = [w.start_s for w in mon.windows]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert sum(not w.silent for w in new) >= 3
    events = mon.state.events
    assert {e.start_s for e in events_before} <= {e.start_s for e in events}
    assert any(e.start_s > lost_at for e in events), "nothing heard after resuming"
    assert mon.recording.duration_s > lost_at + 3.0
    assert mon.stats().windows == len(mon.windows)


# ---- 2. input overflows -----------------------------------------------------------------

@pytest.mark.pulse
def test_capture_counts_an_overflow_and_goes_on(pulse):
    with LiveCapture("pulse", sample_rate=SR, channels=2, buffer_s=0.2) as cap:
        first = cap.read(5.0)
        assert first is not None
        got = [first]
        assert cap.overflow_count == 0
        time.sleep(0.8)  # the reader stops for four times what the buffer holds
        assert cap.overflow_count > 0 and cap.dropped_frames > 0.4 * SR
        stalled = cap.overflow_count
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:  # and reads on
            if (b := cap.read(0.1)) is not None:
                got.append(b)
        assert cap.running and cap.fault is None
        assert cap.overflow_count == stalled, "overflows while the reader kept up"
        cap.stop()
        got.extend(cap.blocks())
        captured, dropped = cap.frames_captured, cap.dropped_frames
    frames = sum(b.frames for b in got)
    assert frames + dropped == captured  # every frame read or counted as lost
    # the block after the gap starts where its audio was: the lost audio is time too
    ends = [round(b.start_s * SR) + b.frames for b in got]
    gaps = [round(b.start_s * SR) - e for b, e in zip(got[1:], ends, strict=False)]
    assert sum(gaps) == dropped and max(gaps) > 0.4 * SR
    after_gap = got[1 + gaps.index(max(gaps)):]
    assert sum(b.frames for b in after_gap) > 0.8 * SR  # and the capture went on
    assert round(got[-1].start_s * SR) + got[-1].frames == captured


@pytest.mark.pulse
def test_monitor_shows_overflows_and_keeps_listening(pulse, cpu_engine, tmp_path,
                                                     journal_stall):
    """The journal stalls for 1 s (a slow disk): the capture's 0.25-s buffer overflows."""
    resumed = journal_stall
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "journal")
    rec = Recorder(mon)
    source = LiveSource("pulse", sample_rate=SR, buffer_s=0.25)
    mon.start(source, window_s=1.0)
    wait_until(resumed.is_set, 10, "the stall")
    time.sleep(0.3)  # the reader has caught up: no more losses
    n = mon.stats().overflows
    assert n > 0
    after = mon.recording.duration_s
    pulse.play_and_wait(_tone(tmp_path))  # something audible after the stall
    wait_until(lambda: mon.recording.duration_s > after + 2.0, 10, "audio after the overflow")
    wait_until(lambda: len(mon.windows) >= 4, 10, "windows after the overflow")
    mon.stop()
    assert rec.done.wait(10)
    assert rec.errors == []
    st = mon.stats()
    cap = source._capture
    assert st.overflows == cap.overflow_count == n  # counted once, none after the stall
    assert cap.dropped_frames > 0.5 * SR
    # the timeline stays true: the lost audio is silence in the journal, not a jump back
    assert mon.recording.duration_s == pytest.approx(cap.frames_captured / SR, abs=0.2)
    assert any(w.start_s > 1.5 for w in mon.windows) and not any(
        a.start_s < b.end_s - 1e-6 for b, a in zip(mon.windows, mon.windows[1:], strict=False))


def _tone(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(int(1.0 * SR)) / SR
    x = 0.2 * np.sin(2 * np.pi * 440 * t) * np.hanning(len(t))
    sf.write(path, np.stack([x, x]).T, SR, subtype="FLOAT")
    return path


# ---- 3. inference slower than real time ----------------------------------------------

WINDOW_S = 1.0
SPEED = 20.0  # the file plays 20x faster than real time: a window every 50 ms


@pytest.fixture(scope="module")
def side_with_a_gap(tmp_path_factory):
    """20 s of music, 4 s of digital silence (between two tracks), 6 s of music."""
    rng = np.random.default_rng(5)
    x = np.concatenate([music(rng, 20.0), np.zeros((2, 4 * SR), np.float32),
                        music(rng, 6.0)], axis=1)
    path = tmp_path_factory.mktemp("throttled") / "side.flac"
    sf.write(path, x.T, SR)
    return path, 30


@pytest.fixture
def window_census(monkeypatch):
    """Every window the monitor's windower makes, and how many of their sample arrays are
    still alive (the audio the pipeline holds)."""
    census = {"made": 0, "alive": 0, "max_alive": 0, "bytes": 0}
    lock = threading.Lock()

    def gone(nbytes):
        with lock:
            census["alive"] -= 1

    def track(windows):
        with lock:
            for w in windows:
                census["made"] += 1
                census["alive"] += 1
                census["bytes"] = max(census["bytes"], w.samples.nbytes)
                census["max_alive"] = max(census["max_alive"], census["alive"])
                weakref.finalize(w.samples, gone, w.samples.nbytes)
        return windows

    push, flush = Windower.push, Windower.flush
    monkeypatch.setattr(Windower, "push", lambda self, block: track(push(self, block)))
    monkeypatch.setattr(Windower, "flush", lambda self: track(flush(self)))
    return census


def _sample_pending(mon, stop, out):
    while not stop.is_set():
        a = mon._analyser
        if a is not None:
            out.append(a.pending)
        time.sleep(0.001)


def test_slow_inference_drops_windows_counted_and_bounded(throttled_engine, side_with_a_gap,
                                                          window_census, tmp_path):
    path, n_windows = side_with_a_gap
    # two window lengths of sleep per window at the file's speed (plus the real models)
    engine, det = throttled_engine(2 * WINDOW_S / SPEED)
    mon = Monitor(engine, journal_dir=tmp_path / "journal", max_pending=2)
    rec = Recorder(mon)
    pending, stop = [], threading.Event()
    sampler = threading.Thread(target=_sample_pending, args=(mon, stop, pending), daemon=True)
    sampler.start()
    t0 = time.monotonic()
    mon.start(FileSource(path, speed=SPEED), window_s=WINDOW_S)
    assert rec.done.wait(60)
    wall = time.monotonic() - t0
    stop.set()
    sampler.join()
    mon.join(5)
    assert rec.errors == []
    session = mon.session
    analysed = [w for w in mon.windows if not w.silent]
    silent = [w for w in mon.windows if w.silent]
    print(f"\n[throttled] {n_windows} windows in {wall:.2f} s: {len(analysed)} analysed, "
          f"{len(silent)} silent, {session.dropped_windows} dropped; pending max "
          f"{max(pending)} ({len(pending)} samples); audio held at most "
          f"{window_census['max_alive']} windows")
    # windows are dropped, and counted where the status bar reads them
    assert session.dropped_windows > 0
    assert mon.stats().dropped_windows == session.dropped_windows == mon.state.dropped_windows
    # every window is accounted for
    assert window_census["made"] == n_windows
    assert len(analysed) + len(silent) + session.dropped_windows == n_windows
    assert det.calls == len(analysed)  # the slow model heard every analysed window once
    # the queue never held more than max_pending (and it did fill up)
    assert len(pending) > 100 and max(pending) == mon.max_pending
    # the audio held stays bounded: the queue, the window being analysed, the one being
    # handed over; never the backlog a slow model would otherwise pile up
    assert window_census["max_alive"] <= mon.max_pending + 3
    assert window_census["alive"] <= 1
    # what was analysed is in time order on the session's timeline
    starts = [w.start_s for w in mon.windows]
    assert starts == sorted(starts)
    assert all(abs(s / WINDOW_S - round(s / WINDOW_S)) < 1e-9 for s in starts)


def test_stopping_a_throttled_run_accounts_for_the_pending_windows(throttled_engine,
                                                                   side_with_a_gap,
                                                                   window_census, tmp_path):
    path, _ = side_with_a_gap
    engine, _ = throttled_engine(2 * WINDOW_S / SPEED)
    mon = Monitor(engine, journal_dir=tmp_path / "journal", max_pending=2)
    rec = Recorder(mon)
    mon.start(FileSource(path, speed=SPEED), window_s=WINDOW_S)
    wait_until(lambda: mon._analyser.pending == mon.max_pending and len(mon.windows) >= 2, 20,
               "a full queue")
    mon.stop()
    assert rec.done.wait(10)
    mon.join(5)
    made = window_census["made"]
    assert 0 < made < 30
    # the windows waiting when it stopped were never analysed: they count as dropped
    assert len(mon.windows) + mon.session.dropped_windows == made
    assert mon.stats().dropped_windows == mon.session.dropped_windows >= mon.max_pending


def test_a_gap_keeps_groove_repeats_at_their_time(cpu_engine):
    """Windows missing in the middle (dropped, or audio lost by the input): a groove repeat
    after the gap is found where it is, not shifted by the length of the gap."""
    x = transport.splice(music(np.random.default_rng(5), 30.0), at=22 * SR,
                         period=int(round(1.8 * SR)), kind="repeat", repeats=2)
    windower = Windower(SR, 2, window_s=5.0)
    windows = windower.push(AudioBlock(x.astype(np.float32), SR, 0.0)) + windower.flush()

    def repeats(ws):
        la = LiveAnalyser(cpu_engine, iter(ws), on_window=lambda a, s: None, max_pending=20)
        la.start()
        la.join(60)
        return [r for r in la.session.repeats if abs(r.period_s - 1.8) < 0.01]

    whole = repeats(windows)
    assert len(whole) == 1 and whole[0].start_s == pytest.approx(22.0, abs=0.25)
    gapped = repeats([w for w in windows if w.index not in (1, 2)])  # 5-15 s never heard
    assert len(gapped) == 1
    assert gapped[0].start_s == pytest.approx(whole[0].start_s, abs=0.05)
    assert gapped[0].end_s == pytest.approx(whole[0].end_s, abs=0.05)

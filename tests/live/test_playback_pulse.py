"""Sound out through a real PulseAudio daemon: the monitor plays a file into a second
null sink (``outsink``, chosen as PortAudio's ``pulse`` output with PULSE_SINK), whose
monitor ``parec`` records; what comes back is compared with what was played.

What is compared starts :data:`SETTLE_S` into the file: ALSA's PulseAudio plugin
loses what is in its buffer when an output stream starts ("snd_pcm_recover: underrun
occurred" at the start, whatever the latency asked for, with the stream idle for 0 or
1 s before; measured on this rig: 0.25 s on an idle machine, up to 0.95 s beside a
training run on both cores); after that, nothing is lost."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pulse_rig import lag, read_recording

from vinylmon.engine.declick import StreamDeclicker
from vinylmon.live.monitor import FileSource, Monitor
from vinylmon.simulate import ClickSpec, DamageSpec, simulate
from vinylmon.simulate.music import synthetic_music

pytestmark = pytest.mark.pulse

SR = 44100
WAIT_S = 60.0
#: Seconds at the start of a played file not compared (see the module docstring).
SETTLE_S = 1.2


@pytest.fixture(scope="module")
def clicked(tmp_path_factory):
    """4 s of seeded music with clicks loud enough that the verifier finds them all
    (faded in and out), the clean music and the clicks' first samples."""
    x = synthetic_music(np.random.default_rng(5), 4.0)
    d = simulate(x, DamageSpec(seed=9, clicks=ClickSpec(rate_per_min=150.0,
                                                        peak_db=(12.0, 20.0), pop_fraction=0.0)))
    fade = np.linspace(0.0, 1.0, int(0.05 * SR))
    audio, clean = d.audio.copy(), d.clean.copy()
    for a in (audio, clean):
        a[:, :len(fade)] *= fade
        a[:, -len(fade):] *= fade[::-1]
    starts = np.array([i.start for i in d.truth.impulses
                       if i.kind == "click" and 0.2 * SR < i.start < 3.8 * SR])
    path = tmp_path_factory.mktemp("playback") / "clicked.wav"
    sf.write(path, audio.T, SR, subtype="FLOAT")
    return path, audio, clean, starts


def _wait(cond, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def _played(pulse, source, tmp_path, cpu_engine, path, reference, listen):
    """Play ``path`` through the monitor with stream ``listen``; return the recording
    aligned with ``reference`` from :data:`SETTLE_S` on (the frames before are zero),
    once all of it has come back, and the output's underruns."""
    settle = int(SETTLE_S * SR)
    full = reference
    reference = reference[:, settle:]
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "journal")
    out = tmp_path / f"{listen}.f32"
    rec = pulse.record(source, out)  # first: a null sink plays only while it is recorded
    _wait(lambda: "parec" in pulse.pactl("list", "source-outputs").stdout, "parec to connect")
    assert mon.open_output("pulse") is None, mon.output_error
    mon.set_listen(listen)
    done = threading.Event()
    mon.on_finished = done.set
    try:
        mon.start(FileSource(path, speed=1.0))
        _wait(done.is_set, "the file to be played")
        n = reference.shape[1]

        def back() -> bool:  # everything played has been recorded
            y = read_recording(out)
            return y.shape[1] > n and y.shape[1] - lag(y, reference) >= n

        _wait(back, "the played audio to come back")
        underruns = mon.output.underruns
    finally:
        pulse.stop_recording(rec)
        mon.close()
    y = read_recording(out)
    at = lag(y, reference)
    aligned = np.zeros_like(full)
    aligned[:, settle:] = y[:, at:at + n]
    return aligned, underruns


def _corr(a, b) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_a_file_plays_sample_correct_through_the_output(pulse, outsink, tmp_path, cpu_engine,
                                                        clicked):
    path, audio, clean, starts = clicked
    y, underruns = _played(pulse, outsink, tmp_path, cpu_engine, path, audio, "original")
    s = int(SETTLE_S * SR)
    assert _corr(y[:, s:], audio[:, s:]) > 0.9999
    # the sink holds 16 bits: every sample back within two steps of 16-bit audio
    assert np.max(np.abs(y[:, s:] - audio[:, s:])) < 2.5 / 32768


def test_the_cleaned_stream_has_no_clicks_and_the_removed_one_only_clicks(
        pulse, outsink, tmp_path, cpu_engine, clicked):
    path, audio, clean, starts = clicked
    s = int(SETTLE_S * SR)
    starts = starts[starts > s + 300]
    assert len(starts) >= 5
    y, _ = _played(pulse, outsink, tmp_path, cpu_engine, path, audio, "cleaned")

    def err_db(x, i):  # the damage left around a click, against the clean music
        seg = slice(i - 20, i + 120)
        return 10 * np.log10(np.sum((x[:, seg] - clean[:, seg]) ** 2) + 1e-20)

    drop = np.array([err_db(audio, i) - err_db(y, i) for i in starts])
    assert np.mean(drop >= 10) >= 0.8, drop  # clicks present in the original are gone
    # the cleaned stream is the stream declicker's output, to the 16-bit sink's grid
    d = StreamDeclicker(cpu_engine.detector, channels=2)
    chunks = [c for s in range(0, audio.shape[1], 1024)
              for c in d.push(audio[:, s:s + 1024])] + d.flush()
    expected = np.concatenate([c.cleaned for c in chunks], axis=1)
    assert np.max(np.abs(y[:, s:] - expected[:, s:])) < 2.5 / 32768

    r, _ = _played(pulse, outsink, tmp_path, cpu_engine, path, audio, "removed")
    far = np.ones(audio.shape[1], bool)
    far[:s] = False
    for i in starts:
        far[max(0, i - 300):i + 300] = False
    assert np.max(np.abs(r[:, far])) < 3 / 32768  # silence away from the clicks
    near = [np.max(np.abs(r[:, i - 20:i + 120])) for i in starts]
    assert np.mean(np.array(near) > 10 ** (-30 / 20)) >= 0.8  # the clicks themselves


def test_an_event_is_played_alone_over_the_stream(pulse, outsink, tmp_path, cpu_engine, clicked):
    """play_excerpt cues +-1 s of the session's audio; it comes back whole."""
    path, audio, clean, starts = clicked
    mon = Monitor(cpu_engine, journal_dir=tmp_path / "journal")
    done = threading.Event()
    mon.on_finished = done.set
    mon.start(FileSource(path, speed=None))  # analysed at once, nothing played
    _wait(done.is_set, "the analysis")
    assert mon.play_excerpt(1.0, 3.0) == "no sound output is chosen (Settings)"
    assert mon.open_output("pulse") is None
    out = tmp_path / "cue.f32"
    rec = pulse.record(outsink, out)
    _wait(lambda: "parec" in pulse.pactl("list", "source-outputs").stdout, "parec to connect")
    try:
        ref = audio[:, SR:3 * SR]
        assert mon.play_excerpt(1.0, 3.0) is None
        _wait(lambda: not mon.output.cueing, "the cue to be played")

        def back() -> bool:
            y = read_recording(out)
            return y.shape[1] > ref.shape[1] and y.shape[1] - lag(y, ref) >= ref.shape[1]

        _wait(back, "the cue to come back")
    finally:
        pulse.stop_recording(rec)
        mon.close()
    y = read_recording(out)
    at = lag(y, ref)
    assert _corr(y[:, at:at + ref.shape[1]], ref) > 0.9999

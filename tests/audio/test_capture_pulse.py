"""LiveCapture against a real PulseAudio daemon (no mocks of PortAudio).

A seeded stereo test file is played into the rig's null sink with ``paplay``
while :class:`LiveCapture` records PortAudio's ALSA device ``pulse`` (the sink's
monitor); the recording must match the file. The daemon is then killed or
frozen mid-capture to check that device loss becomes :class:`DeviceLostError`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from pulse_rig import lag as lag_of
from pulse_rig import leftovers, pulse_rig

from vinylmon.audio.capture import LiveCapture
from vinylmon.audio.types import AudioBlock
from vinylmon.errors import DeviceLostError

pytestmark = pytest.mark.pulse

RATE = 44100
SEED = 20240611


def make_test_signal(duration_s: float = 3.5, rate: int = RATE) -> np.ndarray:
    """Seeded stereo test signal, shape (2, frames): noise bursts and chirps, L != R."""
    rng = np.random.default_rng(SEED)
    n = int(duration_s * rate)
    t = np.arange(n) / rate
    x = 0.01 * rng.standard_normal((2, n))  # independent low-level noise floor

    def chirp(f0: float, f1: float, t0: float, t1: float) -> np.ndarray:
        sel = (t >= t0) & (t < t1)
        tt = t[sel] - t0
        k = (f1 - f0) / (t1 - t0)
        out = np.zeros(n)
        out[sel] = 0.3 * np.sin(2 * np.pi * (f0 * tt + 0.5 * k * tt * tt)) * np.hanning(sel.sum())
        return out

    x[0] += chirp(300.0, 3000.0, 0.3, 2.0)
    x[1] += chirp(4000.0, 500.0, 1.2, 3.2)
    for ch, starts in ((0, (0.1, 2.3, 3.0)), (1, (0.5, 1.0, 2.6))):
        for s in starts:
            i = int(s * rate)
            m = int(0.15 * rate)
            x[ch, i : i + m] += 0.3 * rng.standard_normal(m) * np.hanning(m)
    return np.clip(x, -0.99, 0.99).astype(np.float32)


@pytest.fixture(scope="module")
def test_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The test file (16-bit WAV) and its samples as decoded, shape (2, frames)."""
    path = tmp_path_factory.mktemp("pulse") / "test_signal.wav"
    sf.write(path, make_test_signal().T, RATE, subtype="PCM_16")
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == RATE
    return path, np.ascontiguousarray(data.T)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


@pytest.mark.parametrize("channels", [2, 1], ids=["stereo", "mono"])
def test_records_played_file_exactly(pulse, test_wav, channels) -> None:
    path, ref = test_wav
    if channels == 1:  # a mono input (a microphone): the server mixes L and R
        ref = ref.mean(axis=0, keepdims=True)
    blocks: list[AudioBlock] = []
    with LiveCapture("pulse", sample_rate=RATE, channels=channels) as cap:
        assert (cap.sample_rate, cap.channels, cap.device.name) == (RATE, channels, "pulse")
        first = cap.read(5.0)  # the ALSA pulse plugin takes ~1.5 s to deliver audio
        assert first is not None, "no audio from the pulse device within 5 s"
        blocks.append(first)
        player = pulse.play(path)
        deadline = time.monotonic() + ref.shape[1] / RATE + 8.0
        done_at = None
        while time.monotonic() < deadline:
            block = cap.read(0.2)
            if block is not None:
                blocks.append(block)
            if done_at is None and player.poll() is not None:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at > 0.7:
                break
        assert player.poll() == 0, f"paplay failed: {player.stderr.read().decode()}"
        cap.stop()
        blocks.extend(cap.blocks())  # drain what is left after stop
        overflows, dropped, captured = cap.overflow_count, cap.dropped_frames, cap.frames_captured

    rec = np.concatenate([b.samples for b in blocks], axis=1)
    assert rec.dtype == np.float32 and rec.shape[0] == channels
    assert sum(b.frames for b in blocks) == captured
    lag = lag_of(rec, ref)
    assert lag + ref.shape[1] <= rec.shape[1], "recording stopped before the file ended"
    seg = rec[:, lag : lag + ref.shape[1]]
    corr = [_corr(seg[ch], ref[ch]) for ch in range(channels)]
    swapped = [_corr(seg[0], ref[1]), _corr(seg[1], ref[0])] if channels == 2 else [0.0, 0.0]
    gain = float(np.sqrt(np.sum(seg.astype(np.float64) ** 2) / np.sum(ref.astype(np.float64) ** 2)))
    print(
        f"\n[pulse capture, {channels} ch] correlation "
        f"{' '.join(f'{c:.6f}' for c in corr)} "
        f"(swapped L/R: {swapped[0]:.3f}/{swapped[1]:.3f}), gain {gain:.4f}, "
        f"lag {lag} frames ({lag / RATE:.3f} s), {len(blocks)} blocks, "
        f"{captured} frames, overflows {overflows}, dropped {dropped}"
    )
    assert min(corr) >= 0.99, corr
    assert max(abs(c) for c in swapped) < 0.2, f"channels swapped? {swapped}"
    assert overflows == 0
    assert dropped == 0

    # contiguous: each block starts where the previous one ended
    start_frames = [round(b.start_s * RATE) for b in blocks]
    assert start_frames[0] == 0
    for prev, b, sf_ in zip(blocks, blocks[1:], start_frames[1:], strict=False):
        assert sf_ == round(prev.start_s * RATE) + prev.frames
        assert b.samples.flags.writeable is False
        assert b.sample_rate == RATE
    times = [b.stream_time_s for b in blocks]
    assert all(t is not None for t in times)
    assert all(b > a for a, b in zip(times, times[1:], strict=False)), "stream_time_s decreased"
    # The device clock runs at the sample rate: block to block it advances like the
    # sample count. (Not end to end: ALSA's pulse plugin shifts its ADC timestamps
    # by a few hundred ms early in a stream without losing samples -- the
    # correlation above proves none are lost.)
    ratios = np.diff(times) / (np.diff(start_frames) / RATE)
    assert np.median(ratios) == pytest.approx(1.0, abs=0.01), ratios


def _read_until_lost(cap: LiveCapture, limit_s: float) -> tuple[float, list[AudioBlock], str]:
    """Read until DeviceLostError; returns (seconds taken, blocks read, error message)."""
    t0 = time.monotonic()
    got: list[AudioBlock] = []
    while time.monotonic() - t0 < limit_s:
        try:
            block = cap.read(0.25)
        except DeviceLostError as exc:
            return time.monotonic() - t0, got, str(exc)
        if block is not None:
            got.append(block)
    pytest.fail(f"no DeviceLostError within {limit_s} s after the daemon went away")


def test_killed_daemon_raises_device_lost(pulse) -> None:
    with LiveCapture("pulse", sample_rate=RATE, channels=2, stall_timeout_s=2.0) as cap:
        assert cap.read(5.0) is not None
        time.sleep(0.3)  # let audio pile up in the buffer
        assert cap.frames_available > 0
        pulse.kill_daemon()
        took, after, msg = _read_until_lost(cap, limit_s=6.0)
        print(f"\n[pulse capture] daemon killed: DeviceLostError after {took:.3f} s: {msg}")
        assert after and sum(b.frames for b in after) > 0, "buffered audio not returned first"
        assert "pulse" in msg
        assert took < 4.0
        assert isinstance(cap.fault, DeviceLostError)
        assert not cap.running
        with pytest.raises(DeviceLostError):  # stays raised
            cap.read(0.0)
        t0 = time.monotonic()
    close_s = time.monotonic() - t0
    assert close_s < 4.0, f"close took {close_s:.1f} s"


def test_frozen_daemon_raises_device_lost_by_stall(pulse) -> None:
    cap = LiveCapture("pulse", sample_rate=RATE, channels=2, stall_timeout_s=1.0)
    try:
        cap.start()
        assert cap.read(5.0) is not None
        pulse.freeze_daemon()  # SIGSTOP: sockets open, no audio, no error from ALSA
        took, _, msg = _read_until_lost(cap, limit_s=6.0)
        print(f"\n[pulse capture] daemon frozen: DeviceLostError after {took:.3f} s: {msg}")
        assert "pulse" in msg and "stalled" in msg
        assert took < 4.0
        pulse.kill_daemon()  # unblock PortAudio before closing
        t0 = time.monotonic()
        cap.close()
        assert time.monotonic() - t0 < 4.0
    finally:
        pulse.kill_daemon()
        cap.close()


def test_rig_leaves_nothing_behind(pulse_tools) -> None:
    with pulse_rig() as rig:
        rt, pid = rig.runtime_dir, rig.daemon_pid
        assert len(leftovers(rt)) == 2  # daemon + keep-alive parec
        assert rig.pactl("info").returncode == 0
    assert leftovers(rt) == []
    assert not rt.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_gap_after_dropped_frames_and_timestamps(pulse) -> None:
    """Drive the callback by hand: a full buffer drops the newest frames and the
    block after the gap starts at the true stream position."""
    cap = LiveCapture("pulse", sample_rate=RATE, channels=2, blocksize=16, buffer_s=1e-4)
    cap_frames = cap._ring.capacity  # 32: two callbacks of 16
    assert cap_frames == 32
    status = SimpleNamespace(input_overflow=False)
    pos = 0

    def feed(n: int, adc: float, overflow: bool = False) -> None:
        nonlocal pos
        data = (np.arange(pos, pos + n, dtype=np.float32)[:, None] * [1.0, -1.0]).astype(np.float32)
        st = SimpleNamespace(input_overflow=True) if overflow else status
        cap._callback(data, n, SimpleNamespace(inputBufferAdcTime=adc), st)
        pos += n

    feed(16, 100.0)
    feed(16, 100.0 + 16 / RATE)
    feed(16, 100.0 + 32 / RATE, overflow=True)  # buffer full: dropped
    assert cap.dropped_frames == 16 and cap.overflow_count == 1 and cap.frames_captured == 48
    b1 = cap._take(10)
    assert (b1.frames, b1.start_s, b1.stream_time_s) == (10, 0.0, 100.0)
    np.testing.assert_array_equal(b1.samples[0], np.arange(10))
    np.testing.assert_array_equal(b1.samples[1], -np.arange(10))
    feed(16, 100.0 + 48 / RATE)  # 10 frames of room: 10 stored, 6 dropped
    assert cap.dropped_frames == 22
    b2 = cap._take(None)  # stops at the gap
    assert b2.frames == 22 and b2.start_s == 10 / RATE
    assert b2.stream_time_s == pytest.approx(100.0 + 10 / RATE)
    np.testing.assert_array_equal(b2.samples[0], np.arange(10, 32))
    b3 = cap._take(None)  # after the gap: frames 48..57 at their true position
    assert b3.frames == 10 and round(b3.start_s * RATE) == 48
    assert b3.stream_time_s == pytest.approx(100.0 + 48 / RATE)
    np.testing.assert_array_equal(b3.samples[0], np.arange(48, 58))
    assert cap._take(None) is None
    assert cap.read(0.0) is None  # never started: nothing to wait for

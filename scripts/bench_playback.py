#!/usr/bin/env python3
"""Declicked listening, measured: capture-to-output latency through a real PulseAudio
daemon, and what the stream declicker costs.

A private daemon (the test rig, ``tests/pulse_rig.py``) has two null sinks: music
with clicks is played into ``vsink``, whose monitor is the monitor's live input;
the monitor passes it through (``passthrough``, the ``cleaned`` stream) to
``outsink``. ``parec`` records both monitors at once; after the first seconds (the
output's start), the lag between what went in and what came out is the latency.
The two recorders start a few milliseconds apart, so it is good to about +-20 ms.

The declicker's cost is the CPU time of :class:`vinylmon.engine.declick.StreamDeclicker`
per second of audio, beside a baseline in the same run: copying the same blocks
through the output's float conversion alone.

    python scripts/bench_playback.py [--seconds 12] [--stream cleaned]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pulse_rig import lag, pulse_rig, read_recording  # noqa: E402

SR = 44100


def music_with_clicks(seconds: float) -> np.ndarray:
    from vinylmon.simulate import ClickSpec, DamageSpec, simulate, synthetic_music

    x = synthetic_music(np.random.default_rng(7), seconds)
    d = simulate(x, DamageSpec(seed=5, clicks=ClickSpec(rate_per_min=60.0, peak_db=(6.0, 16.0))))
    audio = d.audio.copy()
    fade = np.linspace(0.0, 1.0, int(0.05 * SR))
    audio[:, :len(fade)] *= fade
    audio[:, -len(fade):] *= fade[::-1]
    return audio


def declicker_cost(audio: np.ndarray) -> tuple[float, float]:
    """CPU seconds per second of audio: the stream declicker, and the baseline."""
    from vinylmon.engine.declick import StreamDeclicker
    from vinylmon.engine.engine import Engine

    det = Engine(device="cpu", grader=False).detector
    blocks = [audio[:, s:s + 1024] for s in range(0, audio.shape[1], 1024)]
    t0 = time.process_time()
    d = StreamDeclicker(det, channels=2)
    for b in blocks:
        d.push(b)
    d.flush()
    cost = time.process_time() - t0
    t0 = time.process_time()
    for b in blocks:
        np.ascontiguousarray(np.clip(np.asarray(b, np.float32), -1, 1).T)
    base = time.process_time() - t0
    seconds = audio.shape[1] / SR
    return cost / seconds, base / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--stream", default="cleaned", choices=("original", "cleaned", "removed"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    audio = music_with_clicks(args.seconds)
    with pulse_rig(sample_rate=SR) as rig:
        out_source = rig.add_sink("outsink")
        os.environ["PULSE_SINK"] = "outsink"  # the monitor's output; its input stays vsink
        from vinylmon.audio import capture
        from vinylmon.engine.engine import Engine
        from vinylmon.live.monitor import LiveSource, Monitor

        capture.rescan_devices()
        tmp = rig.runtime_dir
        path = tmp / "clicked.wav"
        sf.write(path, audio.T, SR, subtype="FLOAT")
        mon = Monitor(Engine(device="cpu"), journal_dir=tmp / "journal")
        rec_in = rig.record(rig.source, tmp / "in.f32")
        rec_out = rig.record(out_source, tmp / "out.f32")
        why = mon.open_output("pulse")
        if why:
            print(f"no output: {why}")
            return 1
        mon.set_listen(args.stream)
        mon.passthrough = True
        done = threading.Event()
        mon.on_finished = done.set
        mon.start(LiveSource("pulse"))
        time.sleep(2.0)  # the output's start (see tests/live/test_playback_pulse.py)
        rig.play_and_wait(path, timeout_s=args.seconds + 20)
        time.sleep(1.5)
        mon.stop()
        mon.join(10)
        underruns = mon.output.underruns if mon.output else None
        rig.stop_recording(rec_in)
        rig.stop_recording(rec_out)
        mon.close()
        y_in, y_out = read_recording(tmp / "in.f32"), read_recording(tmp / "out.f32")
    # the file's second half, found in each recording
    ref = audio[:, audio.shape[1] // 2:]
    latency = (lag(y_out, ref) - lag(y_in, ref)) / SR
    cost, base = declicker_cost(audio)
    print(f"capture to output ({args.stream} stream, passthrough): {latency * 1000:.0f} ms "
          f"(+-20 ms); output underruns: {underruns}")
    print(f"stream declicker: {cost * 1000:.1f} ms CPU per second of audio "
          f"({cost * 100:.1f} % of one core); baseline (the output's copy alone): "
          f"{base * 1000:.2f} ms; ratio {cost / max(base, 1e-9):.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

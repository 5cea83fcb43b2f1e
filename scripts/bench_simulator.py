#!/usr/bin/env python3
"""Simulator speed: x real time for random damage on real 30-s music excerpts.

Prints, in one run on the same excerpts:
  baseline   simulate() with an empty spec (transport, levels, quantities only)
  random     simulate() with random_spec() aimed at each grade in turn
  2 procs    the random case in two processes at once (this machine has 2 cores)
Goal: >= 50x real time on the 2-core machine. Uses cache/music (get_music.sh);
falls back to synthetic tones when it is missing.

    python scripts/bench_simulator.py [--clips 24]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from vinylmon.audio import load
from vinylmon.grading.rubric import GRADES
from vinylmon.simulate import DamageSpec, NoiseBank, random_spec, simulate

CLIP_S = 30.0
SR = 44100


def excerpts(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    music = Path(__file__).resolve().parents[1] / "cache" / "music"
    files = [p for p in sorted(music.rglob("*.ogg")) if sf.info(str(p)).duration > 40]
    out = []
    for i in range(n):
        if files:
            f = files[int(rng.integers(0, len(files)))]
            off = float(rng.uniform(0, sf.info(str(f)).duration - 34))
            out.append(load(f, start_s=off, duration_s=33).samples.astype(np.float64))
        else:
            t = np.arange(int(33 * SR)) / SR
            out.append(np.stack([0.1 * np.sin(2 * np.pi * (200 + 50 * i) * t)] * 2))
    return out


def run(args: tuple[list[np.ndarray], bool, int]) -> float:
    clips, damage, seed = args
    bank = NoiseBank()
    bank.recordings("vinyl"), bank.recordings("hum"), bank.recordings("machine")
    bank.hiss_shape_db()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for i, x in enumerate(clips):
        spec = random_spec(rng, duration_s=CLIP_S, grade=GRADES[i % 6]) if damage else \
            DamageSpec(seed=i)
        simulate(x, spec, duration_s=CLIP_S, bank=bank)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=24)
    args = ap.parse_args()
    clips = excerpts(args.clips)
    audio_s = len(clips) * CLIP_S
    base = run((clips, False, 1))
    rand = run((clips, True, 1))
    half = len(clips) // 2
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(run, [(clips[:half], True, 1), (clips[half:], True, 2)]))
    two = time.perf_counter() - t0
    print(f"{len(clips)} excerpts of {CLIP_S:.0f} s ({audio_s / 60:.0f} min of audio)")
    print(f"baseline (empty spec), 1 process: {audio_s / base:6.0f}x real time")
    print(f"random damage, 1 process:         {audio_s / rand:6.0f}x real time "
          f"({rand / base:.1f}x the baseline's time)")
    print(f"random damage, 2 processes:       {audio_s / two:6.0f}x real time "
          "(incl. process start and loading the noise bank)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

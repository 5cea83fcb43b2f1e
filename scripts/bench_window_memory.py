#!/usr/bin/env python3
"""Peak memory and speed of windowing a long hi-res side.

Writes (once, cached) a 20-minute 96 kHz/24-bit stereo FLAC, then in child
processes measures peak RSS (and the tracemalloc allocation peak) of
  baseline: importing vinylmon.audio and opening the file, no windowing;
  windowing: vinylmon.audio.file_windows over the whole file (5-s windows,
             resampled to 44.1 kHz) plus the silence gate.
Prints both and the difference. Goal: windowing peak < 500 MB.

    python scripts/bench_window_memory.py [--minutes 20] [--cache cache/]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

CHILD = r"""
import json, sys, time, tracemalloc
import soundfile as sf
import vinylmon.audio as va
path, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
n = 0
tracemalloc.start()
if mode == "window":
    gate = va.SilenceGate()
    for w in va.file_windows(path):
        gate(w)
        n += 1
else:
    sf.info(path)
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak.
hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss_mb": hwm_kb / 1024,
                  "alloc_peak_mb": tracemalloc.get_traced_memory()[1] / 1e6,
                  "seconds": time.perf_counter() - t0, "windows": n}))
"""


def make_side(path: Path, minutes: float, rate: int = 96000) -> None:
    """Music-like test signal: drifting tones, low noise, clicks; written block by block."""
    rng = np.random.default_rng(7)
    total = int(minutes * 60 * rate)
    block = rate * 10
    with sf.SoundFile(str(path), "w", rate, 2, subtype="PCM_24", format="FLAC") as f:
        for start in range(0, total, block):
            n = min(block, total - start)
            t = (start + np.arange(n)) / rate
            f0 = 220 * (1 + 0.5 * np.sin(2 * np.pi * t / 37))
            left = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / rate)
            right = 0.15 * np.sin(2 * np.pi * 1.5 * np.cumsum(f0) / rate)
            x = np.stack([left, right], axis=1) + rng.normal(0, 0.003, (n, 2))
            x[rng.integers(0, n, 20)] += 0.5
            f.write(np.clip(x, -1, 1))


def child(path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--cache", type=Path, default=Path("cache"))
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"side_{args.minutes:g}min_96k_24bit.flac"
    if not path.exists():
        t0 = time.perf_counter()
        make_side(path, args.minutes)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.0f} s")
    info = sf.info(str(path))
    print(f"file: {path}, {info.duration / 60:.1f} min, {info.samplerate} Hz, {info.subtype}, "
          f"{info.channels} ch, {path.stat().st_size / 1e6:.0f} MB")
    base = child(path, "open")
    win = child(path, "window")
    float64_mb = info.frames * info.channels * 8 / 1e6
    print(f"baseline (imports + open):   peak RSS {base['peak_rss_mb']:7.1f} MB")
    print(f"windowing the whole side:    peak RSS {win['peak_rss_mb']:7.1f} MB "
          f"(+{win['peak_rss_mb'] - base['peak_rss_mb']:.1f} MB over baseline; "
          f"numpy/Python allocation peak of the loop {win['alloc_peak_mb']:.1f} MB), "
          f"{win['windows']} windows in {win['seconds']:.1f} s = "
          f"{info.duration / win['seconds']:.0f}x real time")
    print(f"for scale: the side as float64 would be {float64_mb:.0f} MB")
    print(f"goal < 500 MB: {'met' if win['peak_rss_mb'] < 500 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

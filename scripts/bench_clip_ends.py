#!/usr/bin/env python3
"""False events at a clip's end: clean music cut to 20-30 s (as benchmark clips are, so
the last window is usually short), analysed with the models' input padded with zeros
(the old way) and continued smoothly (``models.inference.model_input``, now).

    python scripts/bench_clip_ends.py [--split control] [--clips 48]

Prints events per minute on the clean clips, all of them and those in the last 50 ms,
for both paddings. Measures the fix of the last window's padding (a782df3).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vinylmon.models import inference
from vinylmon.models.inference import Detector, analyse_excerpt
from vinylmon.training.corpus import load_split


def zero_padded(samples: np.ndarray, frames: int) -> np.ndarray:
    n = samples.shape[1]
    if n >= frames:
        return np.asarray(samples[:, :frames])
    return np.pad(samples, ((0, 0), (0, frames - n)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--split", default="control")
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    det = Detector(device="cpu")
    clips = list(load_split(args.corpus, args.split))[:args.clips]
    cut = []
    for c in clips:
        x = c.read()
        seconds = float(rng.uniform(20.0, 30.0))
        cut.append(x[:, :int(seconds * det.sample_rate)])
    minutes = sum(x.shape[1] for x in cut) / det.sample_rate / 60
    rows = {}
    for name, pad in (("zeros (old)", zero_padded), ("continued (now)", inference.model_input)):
        inference.model_input, saved = pad, inference.model_input
        try:
            total = end = 0
            for x in cut:
                events = analyse_excerpt(x, det).events
                dur = x.shape[1] / det.sample_rate
                total += len(events)
                end += sum(1 for e in events if e.end_s > dur - 0.05)
        finally:
            inference.model_input = saved
        rows[name] = (total / minutes, end / minutes, end)
    print(f"{len(cut)} clean clips of 20-30 s from {args.split} ({minutes:.1f} min)")
    print("| padding of the last window | events/min | in the last 50 ms, /min | count |")
    print("|---|---|---|---|")
    for name, (a, b, n) in rows.items():
        print(f"| {name} | {a:.2f} | {b:.2f} | {n} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Where detectable clicks are lost, on the validation split.

Clicks at or above L-10 dB that stand >= 20 dB over the music above 8 kHz (the
corpus's ``detect_db``): how many the shipped acceptance finds, how many have a
detection within reach at any acceptance, and for each one missed: the nearest
event (distance, verifier confidence, peak) and whether the excerpt went through
the simulated microphone path.

    python scripts/diagnose_missed_clicks.py [--split val]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vinylmon.models.inference import Detector, analyse_excerpt
from vinylmon.training.corpus import load_split
from vinylmon.training.evaluation import match

SR = 44100


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--split", default="val")
    args = ap.parse_args()
    torch.set_num_threads(1)
    det = Detector(device="cpu")
    accept, min_peak = det.accept, det.min_peak_db  # as the shipped verifier reports events
    n = hit = reach = 0
    missed = []
    for c in load_split(args.corpus, args.split):
        if not len(c.starts):
            continue
        dd = c.detect_db if c.detect_db is not None else np.full(len(c.peak_db), np.nan)
        sel = (c.peak_db >= -10) & (dd >= 20)
        if not sel.any():
            continue
        truth = np.stack([c.starts, c.ends], 1)[sel]
        ev = analyse_excerpt(c.read(), det, repeats=[], accept=0.0, min_peak_db=-200.0).events
        spans = np.array([[round(e.start_s * SR), round(e.end_s * SR)] for e in ev],
                         float).reshape(-1, 2)
        conf = np.array([e.confidence for e in ev])
        peak = np.array([e.peak_db for e in ev])
        _, any_ok = match(spans, truth)
        keep = (conf >= accept) & (peak >= min_peak)
        _, ok = match(spans[keep], truth)
        n, hit, reach = n + len(truth), hit + int(ok.sum()), reach + int(any_ok.sum())
        mic = (c.row.get("spec") or {}).get("mic") is not None
        for j in np.flatnonzero(~ok):
            i = int(np.argmin(np.abs(spans[:, 0] - truth[j, 0]))) if len(spans) else None
            missed.append((c.row.get("id"), truth[j, 0] / SR, mic,
                           None if i is None else abs(spans[i, 0] - truth[j, 0]) / SR * 1e3,
                           None if i is None else conf[i], None if i is None else peak[i]))
    print(f"{n} detectable clicks on {args.split}: {hit} found at accept {accept}, "
          f"{reach} with a detection at any acceptance; {len(missed)} missed, "
          f"{sum(m[2] for m in missed)} of them through the microphone path")
    for m in missed:
        print(m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

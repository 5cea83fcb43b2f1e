#!/usr/bin/env python3
"""A probe (issue 17): can crackle density k be read from high-frequency peak counts?

Makes --windows fresh damaged 5-s windows from the training music
(vinylmon.training.measure_data.MeasureWindows, seed --seed), computes the window
measures' features (vinylmon.audio.noisefloor.window_features) and a candidate set of
high-frequency features (:func:`hf_features`: a 7 kHz high-pass, 2.5-ms block peaks over
a running median of the block medians, a 2-D histogram of peak-over-floor by level re the
window), then fits a small MLP to log1p(k) on 80 % and prints, on the other 20 % (the
same distribution), how often k lands within +-25 % for each feature set.

    python scripts/probe_crackle_features.py --windows 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal as ss
import torch
from numpy.lib.stride_tricks import sliding_window_view

from vinylmon.audio.noisefloor import n_features, window_features
from vinylmon.training.measure_data import MeasureWindows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_verifier import sources  # noqa: E402

SR = 44100
_SOS = ss.butter(4, 7000, "highpass", fs=SR, output="sos")
BLOCK = 110  # 2.5 ms
RATIO_EDGES = (2.0, 3.0, 4.5, 7.0, 10.0, 15.0, 25.0, np.inf)
LEVEL_EDGES = (-np.inf, -60.0, -50.0, -40.0, -30.0, -20.0, -10.0, np.inf)


def hf_features(audio: np.ndarray) -> np.ndarray:
    """The candidate high-frequency features of one window ``(1 or 2, samples)``."""
    x = np.asarray(audio, np.float32)
    if x.shape[0] == 1:
        x = np.concatenate([x, x])
    ref = np.sqrt(max(float(np.mean(x.astype(np.float64) ** 2)), 1e-20))
    sig = np.stack([0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])])
    hp = ss.sosfilt(_SOS, sig, axis=-1).astype(np.float32)
    a = np.abs(hp)
    nb = a.shape[1] // BLOCK
    blocks = a[:, :nb * BLOCK].reshape(2, nb, BLOCK)
    bmax = blocks.max(-1)
    bmed = np.median(blocks, -1)
    half = 20
    padded = np.pad(bmed, ((0, 0), (half, half)), mode="edge")
    scale = np.median(sliding_window_view(padded, 2 * half + 1, axis=-1), -1) + 1e-12
    ratio = bmax / scale
    level = 20 * np.log10(bmax / ref + 1e-12)
    secs = a.shape[1] / SR
    feats = []
    for s in range(2):
        h, _, _ = np.histogram2d(ratio[s], level[s], bins=(RATIO_EDGES, LEVEL_EDGES))
        feats.append(np.log1p(h / secs).ravel())
    fl = 20 * np.log10(np.percentile(bmed, (5, 25, 50, 90), axis=1) / ref + 1e-12) / 20
    feats.append(np.maximum(fl.ravel(), -7.0))
    return np.concatenate(feats).astype(np.float32)


def run(features: np.ndarray, k: np.ndarray, name: str, *, steps: int = 3000) -> None:
    """Fit log1p(k) on 80 % of the windows; print the fit on the other 20 %."""
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(features))
    tr, te = idx[:int(0.8 * len(idx))], idx[int(0.8 * len(idx)):]
    x = torch.from_numpy(features.astype(np.float32))
    y = torch.from_numpy(np.log1p(k).astype(np.float32))
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-3)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 96), torch.nn.ReLU(),
                              torch.nn.Dropout(0.1), torch.nn.Linear(96, 96), torch.nn.ReLU(),
                              torch.nn.Linear(96, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    for _ in range(steps):
        b = torch.from_numpy(rng.choice(tr, 128))
        loss = torch.nn.functional.smooth_l1_loss(net(x[b])[:, 0], y[b], beta=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        p = np.expm1(np.maximum(net(x[te])[:, 0].numpy(), 0))
    kt = k[te]
    big, zero = kt >= 1, kt < 0.2
    r = p[big] / kt[big]
    print(f"{name}: held-out k >= 1 n={big.sum()} within 25 % {np.mean(np.abs(r - 1) <= .25):.3f}"
          f" within 50 % {np.mean(np.abs(r - 1) <= .5):.3f} median ratio {np.median(r):.2f}; "
          f"k < 0.2: median estimate {np.median(p[zero]):.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"))
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    songs, drums, bank = sources(args.cache, "train")
    m = MeasureWindows(songs, drums, bank, seed=args.seed)
    xs, hs, ks = [], [], []
    t0 = time.time()
    for _ in range(args.windows):
        d, _n = m.damaged()
        xs.append(window_features(d.audio))
        hs.append(hf_features(d.audio))
        ks.append(d.truth.quantities.crackle_per_s)
    print(f"{args.windows} windows in {time.time() - t0:.0f} s")
    x, h, k = np.stack(xs), np.stack(hs), np.array(ks, np.float32)
    per_s = np.expm1(x[:, n_features():]).sum(1)  # the measures' candidates per second
    for lo, hi in ((0, 0.01), (0.01, 1), (1, 5), (5, 20), (20, 60), (60, 1e9)):
        sel = (k >= lo) & (k < hi)
        if sel.any():
            print(f"k {lo:g}..{hi:g}/s: {sel.sum()} windows, candidates per second "
                  f"median {np.median(per_s[sel]):.0f}")
    run(x, k, "old features")
    run(h, k, "hf only")
    run(np.concatenate([x, h], 1), k, "old+hf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

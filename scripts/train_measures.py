#!/usr/bin/env python3
"""Train the window measures (surface noise n, crackle density k) on windows mixed
from the training music.

Examples (``vinylmon/training/measure_data.py``: a fresh 5-s window of a
training song with a bed of known level, -85..-10 dB re L, and crackle at
0.05-100 per second) are made in shards of
--shard windows under <out>/data/, so a stopped run keeps what it made; a later
run adds shards until there are --windows, then trains the MLP (seconds) and
scores it on the corpus's validation split the way the app measures a side:
each window's estimate re L, aggregated over the excerpt (--aggregate), against
the simulator's exact n; k per window, averaged over the excerpt, against its
exact k. --export writes the best model to vinylmon/weights/measures.

    python scripts/train_measures.py --windows 6000     # make data, train, score on val
    python scripts/train_measures.py --export           # -> vinylmon/weights/measures
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vinylmon.audio.noisefloor import window_features
from vinylmon.audio.types import rms_db
from vinylmon.grading.measured import side_noise_db
from vinylmon.models.bundle import WEIGHTS_DIR, save_bundle
from vinylmon.models.measures import OUTPUTS, MeasuresConfig, build_measures, decode, encode
from vinylmon.training.corpus import load_split
from vinylmon.training.measure_data import MeasureWindows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_verifier import sources  # noqa: E402  (the corpus's split of songs and noise)

SR = 44100
VERSION = "1.0.0"


def make_shards(args) -> None:
    data = args.out / "data"
    data.mkdir(parents=True, exist_ok=True)
    have = sum(len(np.load(p)["y"]) for p in sorted(data.glob("*.npz")))
    if have >= args.windows:
        return
    songs, drums, bank = sources(args.cache, "train")
    k = len(list(data.glob("*.npz")))
    while have < args.windows:
        maker = MeasureWindows(songs, drums, bank, seed=args.seed * 7919 + k)
        t0 = time.perf_counter()
        rows = [maker.example() for _ in range(args.shard)]
        np.savez(data / f"shard-{k:04d}.npz", x=np.stack([r[0] for r in rows]),
                 y=np.array([r[1] for r in rows], np.float32),
                 n=np.array([r[2] for r in rows], np.float32),
                 k=np.array([r[3] for r in rows], np.float32))
        have += args.shard
        k += 1
        print(f"shard {k}: {args.shard} windows in {time.perf_counter() - t0:.0f} s "
              f"({have} in all)", flush=True)


def load_shards(out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [np.load(p) for p in sorted((out / "data").glob("*.npz"))]
    return tuple(np.concatenate([p[k] for p in parts]) for k in ("x", "y", "k"))


def corpus_windows(corpus: Path, split: str):
    """Per clip: features of each 5-s window, each window's level re the clip's L, the
    clip's exact n and k, whether it went through a microphone."""
    out = []
    n = int(5.0 * SR)
    for clip in load_split(corpus, split):
        x = clip.read()
        program = 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
        feats, offs = [], []
        for s in range(0, x.shape[1] - n + 1, n):
            w = x[:, s:s + n]
            feats.append(window_features(w))
            offs.append(rms_db(w) - program)
        out.append((np.stack(feats), np.array(offs), clip.surface_noise_db,
                    float(clip.row["quantities"]["crackle_per_s"]),
                    clip.row["spec"]["mic"] is not None))
    return out


def aggregate(n_window_re_l: np.ndarray, how: str) -> float:
    if how == "median":
        return float(np.median(n_window_re_l))
    if how == "power":
        return float(10 * np.log10(np.mean(10 ** (n_window_re_l / 10))))
    if how == "min":
        return float(np.min(n_window_re_l))
    if how == "quarter":  # as the app reads a side: its quietest-reading quarter
        return side_noise_db(n_window_re_l, np.full(len(n_window_re_l), 5.0))
    raise ValueError(how)


def score(model, clips, how: str) -> dict:
    errs, mic, k_true, k_est = [], [], [], []
    with torch.inference_mode():
        for feats, offs, truth, k, m in clips:
            n_w, k_w = decode(model(torch.from_numpy(feats)))
            k_true.append(k)
            k_est.append(float(np.mean(k_w)))
            if not np.isfinite(truth):
                continue
            errs.append(aggregate(n_w + offs, how) - truth)
            mic.append(m)
    e, mic = np.array(errs), np.array(mic)
    kt, ke = np.array(k_true), np.array(k_est)
    big = kt >= 1.0
    out = {"clips": int(e.size), "median_err_db": float(np.median(e)),
           "mae_db": float(np.mean(np.abs(e))), "p95_abs_db": float(np.percentile(np.abs(e), 95)),
           "k_within_25pct": float(np.mean(np.abs(ke[big] - kt[big]) <= 0.25 * kt[big]))
           if big.any() else float("nan"), "k_clips_ge_1": int(big.sum()),
           "k_median_ratio": float(np.median(ke[big] / kt[big])) if big.any() else float("nan")}
    for name, sel in (("line", ~mic), ("mic", mic)):
        if sel.any():
            out[name] = {"clips": int(sel.sum()), "median_err_db": float(np.median(e[sel])),
                         "mae_db": float(np.mean(np.abs(e[sel])))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"))
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--out", type=Path, default=Path("cache/train/measures"))
    ap.add_argument("--windows", type=int, default=6000)
    ap.add_argument("--shard", type=int, default=250)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--aggregate", default="median", choices=("median", "power", "min", "quarter"),
                    help="how the windows' n make the excerpt's in the validation score "
                         "(quarter: the app's, its quietest-reading quarter)")
    ap.add_argument("--use", default="both", choices=("both", "noise_db"),
                    help="what the detector is to take from the bundle: both outputs, or n "
                         "alone (k stays with its heads and the verifier); the best step is "
                         "chosen on those")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--export", action="store_true")
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "measures")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.export:
        return export(args)
    t_start = time.perf_counter()
    make_shards(args)
    x, y, k = load_shards(args.out)
    val = corpus_windows(args.corpus, "val")
    model = build_measures()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    # cosine decay to zero: the last steps settle instead of jumping between minima
    # (at a constant rate, val n's MAE swung 7.1-9.4 dB from one score to the next)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(encode(y, k))
    rng = np.random.default_rng(args.seed)
    best, best_state = None, None
    for step in range(1, args.steps + 1):
        idx = torch.from_numpy(rng.integers(0, len(x), 256))
        loss = torch.nn.functional.smooth_l1_loss(model(xt[idx]), yt[idx], beta=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0:
            model.eval()
            s = score(model, val, args.aggregate)
            model.train()
            print(f"step {step} loss {float(loss.detach()):.4f} "
                  f"val n median {s['median_err_db']:+.2f} MAE {s['mae_db']:.2f} "
                  f"p95 {s['p95_abs_db']:.1f}; k within 25 % {s['k_within_25pct']:.2f} "
                  f"(median ratio {s['k_median_ratio']:.2f})", flush=True)
            objective = s["mae_db"] + (0 if args.use == "noise_db"
                                       else 4 * (1 - s["k_within_25pct"]))
            if best is None or objective < best["objective"]:
                s["objective"] = objective
                best = {**s, "step": step}
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save({"model": best_state, "val": best, "aggregate": args.aggregate,
                "use": list(OUTPUTS) if args.use == "both" else [args.use],
                "windows": int(len(x)), "command": " ".join(sys.argv),
                "wall_s": round(time.perf_counter() - t_start, 1)}, args.out / "best.pt")
    print(json.dumps(best, indent=1))
    return 0


def export(args) -> int:
    ck = torch.load(args.out / "best.pt", weights_only=True)
    model = build_measures()
    model.load_state_dict(ck["model"])
    meta = {"name": "measures", "version": VERSION, "architecture": "vinylmon.models.measures."
            "WindowMeasures", "params": MeasuresConfig().to_dict(), "sample_rate": SR,
            "labels": {"outputs": list(OUTPUTS)},
            "aggregate": ck["aggregate"], "use": ck.get("use", list(OUTPUTS)),
            "training_data": {"windows": ck["windows"], "music": "train split of the corpus's "
                              "songs (scripts/make_corpus.py seed 2026)", "beds": "-85..-10 dB "
                              "re L, crackle 0.05-100/s: vinylmon/training/measure_data.py"},
            "training": {"command": ck["command"], "wall_s": ck["wall_s"],
                         "step": ck["val"]["step"]},
            "metrics": {"val": ck["val"]}}
    save_bundle(args.weights, {k: v.contiguous() for k, v in model.state_dict().items()}, meta)
    print(f"wrote {args.weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Train the CNN defect detector on the simulator corpus.

Resumable: every --ckpt-every steps the model, optimiser, step and RNG state go
to <out>/last.pt (written atomically); a second run with the same --out picks up
where the first stopped. Curves go to <out>/log.csv (train losses; validation
loss and window accuracy on a fixed set of validation windows). The best
checkpoint by validation loss is <out>/best.pt; --export writes it as the
weights bundle vinylmon/weights/detector (scripts/evaluate.py then adds measured metrics).

The network's input features depend only on the audio, so the first run
computes them once for every training window (the clips tiled from 0 s and from
2.5 s) into <out>/cache-train (float16, about 6 GB for the full corpus) and
training then runs only the network: several times faster than computing the
features on every step. Runs on CUDA when there is a GPU (or --device), else CPU;
CPU-feasible in the background:

    nohup python scripts/train_detector.py > cache/train/detector.out &
    python scripts/train_detector.py --export --final  # last step -> vinylmon/weights/detector
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.models.bundle import save_bundle
from vinylmon.models.detector import (
    FRAME_OUTPUTS,
    WINDOW_REGRESSION,
    DetectorConfig,
    build_detector,
)
from vinylmon.models.device import prefetched
from vinylmon.training.corpus import (
    CLICK_MARGIN_DB,
    DETECTABLE_DB,
    Clip,
    load_split,
)
from vinylmon.training.loops import (  # noqa: F401 (POS_WEIGHT: this script's API too)
    FRAME_KEYS,
    POS_WEIGHT,
    CurveLog,
    checkpoint,
    losses,
    make_example,
    one_cycle,
    resume,
    save_atomic,
    start_run,
    training_arguments,
)

WINDOW_S = 5.0
VERSION = "1.1.0"


def build_cache(model, clips: list[Clip], folder: Path, *, n: int, hop: int,
                offsets: tuple[int, ...], device: torch.device) -> dict:
    """The model's input features (float16, memory-mapped) and targets of every window.

    Windows tile each clip from each of ``offsets``. Features depend only on the
    audio (levels are re the window's own), so they are computed once; training
    then runs only the network. A cache whose description differs is rebuilt; an
    unfinished one (no ``done`` file) too.
    """
    feature_config = {k: v for k, v in model.config.to_dict().items()
                      if k in ("mel", "subframes", "bands_hz")}
    desc = {"config": feature_config, "clips": [c.id for c in clips],
            "offsets": list(offsets), "n": n, "detectable_db": DETECTABLE_DB,
            "click_margin_db": CLICK_MARGIN_DB}
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "done.json"
    if done.exists() and json.loads(done.read_text()) == desc:
        z = np.load(folder / "targets.npz")
        out = {k: z[k] for k in z.files}
        out["features"] = np.load(folder / "features.npy", mmap_mode="r")
        return out
    done.unlink(missing_ok=True)
    spans = [(clip, off + k * n) for clip in clips for off in offsets
             for k in range((clip.frames - off) // n)]
    n_frames = n // hop + 1
    with torch.no_grad():
        n_feat = model.features(torch.zeros(1, 2, n, device=device)).shape[1]
    feats = np.lib.format.open_memmap(folder / "features.npy", mode="w+", dtype=np.float16,
                                      shape=(len(spans), n_feat, n_frames))
    tg = {"cls": [], "noise": [], "counts": [], **{k: [] for k in FRAME_KEYS}}
    t0 = time.time()
    for i, (clip, start) in enumerate(spans):
        x, cls, noise, clicks, impulses, ft = make_example(clip, start, n, hop)
        with torch.no_grad():
            f = model.features(torch.from_numpy(x)[None].to(device))
        feats[i] = f[0].cpu().numpy().astype(np.float16)
        tg["cls"].append(cls)
        tg["noise"].append(max(-90.0, min(-10.0, noise)))
        tg["counts"].append((clicks, impulses))
        for k in FRAME_KEYS:
            tg[k].append(ft[k])
        if i % 500 == 0:
            print(f"features {i}/{len(spans)} ({time.time() - t0:.0f} s)", flush=True)
    feats.flush()
    out = {k: np.asarray(v, dtype=np.int64 if k == "cls" else np.float32) for k, v in tg.items()}
    np.savez(folder / "targets.npz", **out)
    done.write_text(json.dumps(desc))
    out["features"] = np.load(folder / "features.npy", mmap_mode="r")
    return out


def _swap_channels(f: torch.Tensor, per_channel: int) -> torch.Tensor:
    """Features of the window with left and right exchanged (the side only changes sign,
    which its energies do not see)."""
    return torch.cat([f[:, per_channel:2 * per_channel], f[:, :per_channel],
                      f[:, 2 * per_channel:]], dim=1)


def cached_batch(data: dict, idx: np.ndarray, *, swap: np.ndarray | None = None,
                 per_channel: int = 0):
    """A training batch from the cache: features and the targets of :func:`losses`."""
    idx = np.sort(idx)
    f = torch.from_numpy(np.asarray(data["features"][idx], dtype=np.float32))
    if swap is not None and swap.any():
        f[swap] = _swap_channels(f[swap], per_channel)
    cls = torch.from_numpy(data["cls"][idx])
    noise = torch.from_numpy(data["noise"][idx])
    counts = torch.log1p(torch.from_numpy(data["counts"][idx]))
    ft = {k: torch.from_numpy(data[k][idx]) for k in FRAME_KEYS}
    return f, cls, noise, counts, ft


def batch_maker(data: dict, *, batch: int, seed: int, per_channel: int):
    rng = np.random.default_rng(seed)
    total = len(data["cls"])

    def make():
        idx = rng.choice(total, size=batch, replace=False)
        return cached_batch(data, idx, swap=rng.random(batch) < 0.5, per_channel=per_channel)
    return make


@torch.no_grad()
def validate(model, data: dict, device, batch=32):
    model.eval()
    total, correct, count = 0.0, 0, 0
    for i in range(0, len(data["cls"]), batch):
        f, cls, noise, counts, ft = cached_batch(data, np.arange(i, min(i + batch,
                                                                          len(data["cls"]))))
        f, cls, noise, counts = f.to(device), cls.to(device), noise.to(device), counts.to(device)
        ft = {k: v.to(device) for k, v in ft.items()}
        window, frame = model.head(f)
        loss, _ = losses(window, frame, cls, noise, counts, ft)
        total += float(loss) * len(cls)
        correct += int((window[:, :len(WINDOW_CLASSES)].argmax(1) == cls).sum())
        count += len(cls)
    model.train()
    return total / count, correct / count


def export(out: Path, weights: Path, *, final: bool = False):
    """Write best.pt (lowest validation loss), or with ``final`` the last step's
    weights (validation loss is mostly the window head's, which overfits first;
    the frame heads keep improving), as the weights bundle."""
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    if final:
        last = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
        rows = [r.split(",") for r in (out / "log.csv").read_text().splitlines()[1:]]
        val = [r for r in rows if r[10] != "" and int(r[0]) == last["step"]]
        ck = {**ck, "model": last["model"], "step": last["step"],
              "val_loss": float(val[-1][10]) if val else None,
              "val_acc": float(val[-1][11]) if val else None}
    meta = {
        "name": "detector", "version": VERSION,
        "architecture": "DefectDetector: log-mel (64) per channel + sub-frame band and "
                        "high-pass energies of left, right and side, 1-D dilated residual "
                        "CNN, frame and window heads",
        "params": ck["config"], "sample_rate": ck["config"]["mel"]["sample_rate"],
        "labels": {"classes": list(WINDOW_CLASSES), "frame": list(FRAME_OUTPUTS),
                   "window_regression": list(WINDOW_REGRESSION)},
        "window_s": WINDOW_S,
        "training_data": {"corpus": "scripts/make_corpus.py --seed 2026 (train split; "
                                    "validation split for model selection)",
                          "steps": ck["step"], "batch": ck["batch"],
                          "best_val_loss": ck["val_loss"], "best_val_acc": ck["val_acc"]},
        "metrics": {},
    }
    save_bundle(weights, ck["model"], meta)
    print(f"exported step {ck['step']} (val loss {ck['val_loss']:.4f}) to {weights}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    training_arguments(ap, name="detector", steps=8000, batch=32, lr=2e-3,
                       eval_every=250)
    ap.add_argument("--width", type=int, default=96, help="channels of the CNN")
    ap.add_argument("--final", action="store_true",
                    help="with --export: the last step's weights, not best.pt")
    args = ap.parse_args(argv)
    if args.export:
        export(args.out, args.weights, final=args.final)
        return 0
    device = start_run(args)
    config = DetectorConfig(width=args.width)
    model = build_detector(config.to_dict()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, best, args.steps, sched = resume(args.out / "last.pt", model, opt, steps=args.steps,
                                           make_sched=one_cycle(opt, args.lr), device=device)
    n = int(WINDOW_S * config.mel.sample_rate)
    hop = config.mel.hop_length
    features = build_cache(model, load_split(args.corpus, "train"), args.out / "cache-train",
                           n=n, hop=hop, offsets=(0, n // 2), device=device)
    val = build_cache(model, load_split(args.corpus, "val"), args.out / "cache-val",
                      n=n, hop=hop, offsets=(0,), device=device)
    batches = prefetched(iter(batch_maker(features, batch=args.batch,
                                          seed=args.seed * 100003 + step,
                                          per_channel=config.channel_features), None), depth=4)
    log = CurveLog(args.out / "log.csv", ["step", "time", "lr", "loss", "cls", "noise", "count",
                                          "imp", "click", "level", "val_loss", "val_acc"])
    model.train()
    t0 = time.time()
    acc: dict[str, float] = {}
    while step < args.steps:
        f, cls, noise, counts, ft = next(batches)
        f, cls, noise, counts = f.to(device), cls.to(device), noise.to(device), counts.to(device)
        ft = {k: v.to(device) for k, v in ft.items()}
        window, frame = model.head(f)
        loss, parts = losses(window, frame, cls, noise, counts, ft)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        for k, v in {"loss": loss.detach(), **parts}.items():
            acc[k] = acc.get(k, 0.0) + float(v.detach())
        acc["n"] = acc.get("n", 0) + 1
        val_loss = val_acc = ""
        if step % args.eval_every == 0 or step == args.steps:
            val_loss, val_acc = validate(model, val, device)
            if val_loss < best:
                best = val_loss
                save_atomic({"model": model.state_dict(), "config": config.to_dict(),
                             "step": step, "batch": args.batch, "val_loss": val_loss,
                             "val_acc": val_acc}, args.out / "best.pt")
        if step % 25 == 0 or val_loss != "":
            k = acc.pop("n")
            row = [step, round(time.time() - t0, 1), sched.get_last_lr()[0]] + [
                round(acc[c] / k, 5) for c in ("loss", "cls", "noise", "count", "imp", "click",
                                               "level")] + [val_loss, val_acc]
            log.write(row)
            acc = {}
        if step % args.ckpt_every == 0 or step == args.steps:
            checkpoint(args.out / "last.pt", model, opt, sched, step=step, steps=args.steps,
                       best=best)
    log.close()
    print(f"done: {step} steps, best validation loss {best:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

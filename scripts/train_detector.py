#!/usr/bin/env python3
"""Train the CNN defect detector on the simulator corpus.

Resumable: every --ckpt-every steps the model, optimiser, step and RNG state go
to <out>/last.pt (written atomically); a second run with the same --out picks up
where the first stopped. Curves go to <out>/log.csv (train losses; validation
loss and window accuracy on a fixed set of validation windows). The best
checkpoint by validation loss is <out>/best.pt; --export writes it as the
weights bundle weights/detector (scripts/evaluate.py then adds measured metrics).

Runs on CUDA when there is a GPU (or --device), else CPU; CPU-feasible in the
background:

    nohup python scripts/train_detector.py --steps 6000 > cache/train/detector.out &
    python scripts/train_detector.py --export     # best checkpoint -> weights/detector
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.models.bundle import save_bundle
from vinylmon.models.corpus import (
    Clip,
    frame_targets,
    level_offset_db,
    load_split,
    window_class,
    window_counts,
)
from vinylmon.models.detector import (
    CLASSES,
    FRAME_OUTPUTS,
    LEVEL_SCALE_DB,
    NOISE_OFFSET_DB,
    WINDOW_REGRESSION,
    DetectorConfig,
    build_detector,
)
from vinylmon.models.training import (
    CurveLog,
    Prefetcher,
    checkpoint,
    one_cycle,
    resume,
    save_atomic,
    start_run,
    training_arguments,
)

WINDOW_S = 5.0
VERSION = "1.0.0"


def make_example(clip: Clip, start: int, n: int, hop: int, rng: np.random.Generator | None):
    """One window and its targets; levels re the window's own level (what the model sees)."""
    x = clip.read(start, n)
    offset = float(np.clip(level_offset_db(clip, x), -20, 20))  # near-silent windows: bounded
    if rng is not None:
        if rng.random() < 0.5:
            x = x[::-1].copy()
        if rng.random() < 0.1:  # a mono input, as played on both channels
            x = np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0)
        x = x * np.float32(10 ** (rng.uniform(-20, 6) / 20))
    n_frames = n // hop + 1
    ft = frame_targets(clip, start, n, hop=hop, n_frames=n_frames, offset_db=offset)
    clicks, impulses = window_counts(clip, start, n, offset_db=offset)
    return (x, window_class(clip, start, n), clip.surface_noise_db + offset, clicks, impulses,
            ft)


def collate(examples):
    x = torch.from_numpy(np.stack([e[0] for e in examples]))
    cls = torch.tensor([e[1] for e in examples])
    noise = torch.tensor([max(-90.0, min(-10.0, e[2])) for e in examples], dtype=torch.float32)
    counts = torch.log1p(torch.tensor([[e[3], e[4]] for e in examples], dtype=torch.float32))
    ft = {k: torch.from_numpy(np.stack([e[5][k] for e in examples])) for k in examples[0][5]}
    return x, cls, noise, counts, ft


def losses(window, frame, cls, noise, counts, ft):
    nc = len(CLASSES)
    l_cls = F.cross_entropy(window[:, :nc], cls)
    l_noise = F.smooth_l1_loss(window[:, nc], (noise - NOISE_OFFSET_DB) / LEVEL_SCALE_DB)
    l_count = F.smooth_l1_loss(window[:, nc + 1:nc + 3], counts)
    imp_mask = ft["impulse_mask"]
    l_imp = (F.binary_cross_entropy_with_logits(frame[:, 0], ft["impulse"], reduction="none")
             * imp_mask).sum() / imp_mask.sum().clamp(min=1)
    click_mask = ft["click_mask"]
    l_click = (F.binary_cross_entropy_with_logits(frame[:, 1], ft["click"], reduction="none")
               * click_mask).sum() / click_mask.sum().clamp(min=1)
    pos = ft["impulse"] > 0
    level = torch.where(pos, ft["level_db"], torch.zeros_like(ft["level_db"])) / LEVEL_SCALE_DB
    l_level = (F.smooth_l1_loss(frame[:, 2], level, reduction="none") * pos).sum() / pos.sum(
    ).clamp(min=1)
    parts = {"cls": l_cls, "noise": l_noise, "count": l_count, "imp": l_imp, "click": l_click,
             "level": l_level}
    total = l_cls + l_noise + l_count + 4 * l_imp + 4 * l_click + l_level
    return total, parts


def batch_maker(clips: list[Clip], *, batch: int, n: int, hop: int, seed: int):
    rng = np.random.default_rng(seed)

    def make():
        ex = []
        for _ in range(batch):
            clip = clips[int(rng.integers(len(clips)))]
            start = int(rng.integers(0, clip.frames - n + 1))
            ex.append(make_example(clip, start, n, hop, rng))
        return collate(ex)
    return make


def validation_set(clips: list[Clip], n: int, hop: int):
    ex = []
    for clip in clips:
        for start in range(0, clip.frames - n + 1, n):
            ex.append(make_example(clip, start, n, hop, None))
    return ex


@torch.no_grad()
def validate(model, val, device, batch=16):
    model.eval()
    total, correct, count = 0.0, 0, 0
    for i in range(0, len(val), batch):
        x, cls, noise, counts, ft = collate(val[i:i + batch])
        x, cls, noise, counts = x.to(device), cls.to(device), noise.to(device), counts.to(device)
        ft = {k: v.to(device) for k, v in ft.items()}
        window, frame = model(x)
        loss, _ = losses(window, frame, cls, noise, counts, ft)
        total += float(loss) * len(cls)
        correct += int((window[:, :len(CLASSES)].argmax(1) == cls).sum())
        count += len(cls)
    model.train()
    return total / count, correct / count


def export(out: Path, weights: Path):
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    meta = {
        "name": "detector", "version": VERSION,
        "architecture": "DefectDetector: log-mel (64) + high-pass sub-frame energies per "
                        "channel, 1-D dilated residual CNN, frame and window heads",
        "params": ck["config"], "sample_rate": ck["config"]["mel"]["sample_rate"],
        "labels": {"classes": list(CLASSES), "frame": list(FRAME_OUTPUTS),
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
    training_arguments(ap, name="detector", steps=6000, batch=12, lr=2e-3,
                       eval_every=250)
    args = ap.parse_args(argv)
    if args.export:
        export(args.out, args.weights)
        return 0
    device = start_run(args)
    config = DetectorConfig()
    model = build_detector(config.to_dict()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, best, args.steps, sched = resume(args.out / "last.pt", model, opt, steps=args.steps,
                                           make_sched=one_cycle(opt, args.lr), device=device)
    n = int(WINDOW_S * config.mel.sample_rate)
    hop = config.mel.hop_length
    train = load_split(args.corpus, "train")
    val = validation_set(load_split(args.corpus, "val"), n, hop)
    batches = Prefetcher(batch_maker(train, batch=args.batch, n=n, hop=hop,
                                     seed=args.seed * 100003 + step))
    log = CurveLog(args.out / "log.csv", ["step", "time", "lr", "loss", "cls", "noise", "count",
                                          "imp", "click", "level", "val_loss", "val_acc"])
    model.train()
    t0 = time.time()
    acc: dict[str, float] = {}
    while step < args.steps:
        x, cls, noise, counts, ft = batches.next()
        x, cls, noise, counts = x.to(device), cls.to(device), noise.to(device), counts.to(device)
        ft = {k: v.to(device) for k, v in ft.items()}
        window, frame = model(x)
        loss, parts = losses(window, frame, cls, noise, counts, ft)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        for k, v in {"loss": loss.detach(), **parts}.items():
            acc[k] = acc.get(k, 0.0) + float(v)
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

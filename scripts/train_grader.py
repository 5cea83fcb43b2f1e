#!/usr/bin/env python3
"""Train the wav2vec2 grader (small configuration, from scratch) on the corpus.

Each example is a random 5-s window of a training excerpt, labelled with the
excerpt's grade (GRADING.md: the simulator's exact quantities through the
rubric). Resumable and checkpointing like train_detector.py: <out>/last.pt,
<out>/best.pt (by validation grade accuracy of whole excerpts, windows
aggregated), <out>/log.csv. --pretrained starts the encoder from a local
wav2vec2 checkpoint (with --size base); nothing is downloaded.

    nohup python scripts/train_grader.py --steps 4000 > cache/train/grader.out &
    python scripts/train_grader.py --export      # best checkpoint -> weights/grader
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
from vinylmon.models.corpus import Clip, load_split
from vinylmon.models.grader import GRADER_RATE, aggregate, build_grader, load_pretrained_encoder
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
from vinylmon.rubric import GRADES

WINDOW_S = 5.0
SR = 44100
VERSION = "1.0.0"


def batch_maker(clips: list[Clip], *, batch: int, n: int, seed: int):
    rng = np.random.default_rng(seed)

    def make():
        xs, ys = [], []
        for _ in range(batch):
            clip = clips[int(rng.integers(len(clips)))]
            start = int(rng.integers(0, clip.frames - n + 1))
            xs.append(clip.read(start, n))
            ys.append(clip.grade_index)
        return torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    return make


@torch.no_grad()
def validate(model, clips: list[Clip], device, n: int):
    """Window accuracy, and excerpt exact / within-one accuracy (windows aggregated)."""
    model.eval()
    win_ok = win_n = exact = within = 0
    loss = 0.0
    for clip in clips:
        x = torch.from_numpy(np.stack([clip.read(s, n)
                                       for s in range(0, clip.frames - n + 1, n)])).to(device)
        logits = model(model.prepare(x))
        y = torch.full((len(x),), clip.grade_index, device=device)
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        probs = torch.softmax(logits, 1).cpu().numpy()
        win_ok += int((probs.argmax(1) == clip.grade_index).sum())
        win_n += len(x)
        g = int(aggregate(probs).argmax())
        exact += g == clip.grade_index
        within += abs(g - clip.grade_index) <= 1
    model.train()
    return loss / win_n, win_ok / win_n, exact / len(clips), within / len(clips)


def export(out: Path, weights: Path):
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    meta = {
        "name": "grader", "version": VERSION,
        "architecture": f"torchaudio wav2vec2_model ({ck['size']} configuration), mean-pooled "
                        "encoder output, linear head over six grades",
        "params": {"size": ck["size"], "config": ck["config"]},
        "sample_rate": GRADER_RATE, "input_rate": SR, "window_s": WINDOW_S,
        "labels": list(GRADES),
        "training_data": {"corpus": "scripts/make_corpus.py --seed 2026 (train split; "
                                    "validation split for model selection)",
                          "label": "the excerpt's rubric grade (GRADING.md)",
                          "steps": ck["step"], "batch": ck["batch"],
                          "pretrained": ck.get("pretrained"),
                          "best_val": ck["val"]},
        "metrics": {},
    }
    save_bundle(weights, ck["model"], meta)
    print(f"exported step {ck['step']} ({ck['val']}) to {weights}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    training_arguments(ap, name="grader", steps=4000, batch=8, lr=1e-3,
                       eval_every=400)
    ap.add_argument("--size", default="small", choices=["small", "base"])
    ap.add_argument("--pretrained", type=Path, help="local wav2vec2 checkpoint for the encoder")
    args = ap.parse_args(argv)
    if args.export:
        export(args.out, args.weights)
        return 0
    device = start_run(args)
    model = build_grader(args.size)
    if args.pretrained:
        load_pretrained_encoder(model, args.pretrained)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    step, best, args.steps, sched = resume(args.out / "last.pt", model, opt, steps=args.steps,
                                           make_sched=one_cycle(opt, args.lr), device=device)
    n = int(WINDOW_S * SR)
    train = load_split(args.corpus, "train")
    val_clips = load_split(args.corpus, "val")
    batches = Prefetcher(batch_maker(train, batch=args.batch, n=n, seed=args.seed * 7919 + step))
    log = CurveLog(args.out / "log.csv", ["step", "time", "lr", "loss", "val_loss",
                                          "val_window_acc", "val_exact", "val_within_one"])
    model.train()
    t0, run, k = time.time(), 0.0, 0
    while step < args.steps:
        x, y = batches.next()
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(model.prepare(x)), y, label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        run, k = run + float(loss.detach()), k + 1
        val = ["", "", "", ""]
        if step % args.eval_every == 0 or step == args.steps:
            val = list(validate(model, val_clips, device, n))
            score = -(val[2] + 0.5 * val[3])
            if score < best:
                best = score
                save_atomic({"model": model.state_dict(), "config": model.config,
                             "size": args.size, "step": step, "batch": args.batch,
                             "pretrained": str(args.pretrained) if args.pretrained else None,
                             "val": dict(zip(["loss", "window_acc", "exact", "within_one"], val,
                                             strict=True))}, args.out / "best.pt")
        if step % 25 == 0 or val[0] != "":
            log.write([step, round(time.time() - t0, 1), sched.get_last_lr()[0],
                       round(run / k, 5)] + [round(v, 4) if v != "" else "" for v in val])
            run, k = 0.0, 0
        if step % args.ckpt_every == 0 or step == args.steps:
            checkpoint(args.out / "last.pt", model, opt, sched, step=step, steps=args.steps,
                       best=best)
    log.close()
    print(f"done: {step} steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

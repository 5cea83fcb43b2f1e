#!/usr/bin/env python3
"""Train the wav2vec2 grader (small configuration, from scratch) on the corpus.

Each example is a random 5-s window of a training excerpt, labelled with the
excerpt's grade (GRADING.md: the simulator's exact quantities through the
rubric). Resumable and checkpointing like train_detector.py: <out>/last.pt,
<out>/best.pt (by validation grade accuracy of whole excerpts, windows
aggregated), <out>/log.csv. --pretrained starts the encoder from a local
wav2vec2 checkpoint (with --size base); nothing is downloaded.

    nohup python scripts/train_grader.py --steps 4000 > cache/train/grader.out &
    python scripts/train_grader.py --export      # best checkpoint -> vinylmon/weights/grader

``--size stereo`` trains the stereo grader (mid and side at 44.1 kHz through
:class:`vinylmon.models.grader.SpectralFrontEnd`) on windows damaged on the fly
from the training music (:mod:`vinylmon.training.grader_data`, one worker
process) with dense targets: n, log1p k, log1p c and the grade. Best by the
loss on 96 fixed windows of the validation songs; resumable the same way;
``--init`` starts a new run from a checkpoint's weights.

    nohup python scripts/train_grader.py --size stereo --threads 1 --steps 2400 \
        --batch 16 --out cache/train/grader_s > cache/train/grader_s.out &
    python scripts/train_grader.py --size stereo --out cache/train/grader_s --export
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.grading.rubric import GRADES
from vinylmon.models.bundle import save_bundle
from vinylmon.models.device import prefetched
from vinylmon.models.grader import (
    GRADER_RATE,
    MEASURE_OFFSET_DB,
    MEASURE_OUTPUTS,
    MEASURE_SCALE_DB,
    aggregate,
    build_grader,
    decode_measures,
    load_pretrained_encoder,
)
from vinylmon.training.corpus import Clip, load_split
from vinylmon.training.grader_data import GraderWindows
from vinylmon.training.loops import (
    CurveLog,
    accumulate,
    checkpoint,
    one_cycle,
    optimiser_step,
    resume,
    save_atomic,
    save_json_atomic,
    start_run,
    training_arguments,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_verifier import sources  # noqa: E402  (the corpus's split of songs and noise)

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
    if ck["size"] == "stereo":
        return export_stereo(out, weights, ck)
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


# ------------------------------------------------------------------ the stereo grader
STEREO_VERSION = "2.0.0"


def export_stereo(out: Path, weights: Path, ck: dict) -> None:
    run = json.loads((out / "meta.json").read_text())
    meta = {
        "name": "grader", "version": STEREO_VERSION,
        "architecture": "torchaudio Wav2Vec2Model: vinylmon.models.grader.SpectralFrontEnd "
                        "(mid and side at 44.1 kHz) under the small configuration's encoder; "
                        "mean-pooled output to six grades, mean and max to the measures",
        "params": {"size": "stereo", "config": ck["config"]},
        "sample_rate": SR, "input_rate": SR, "window_s": WINDOW_S,
        "labels": list(GRADES),
        "measures": {"outputs": list(MEASURE_OUTPUTS), "offset_db": MEASURE_OFFSET_DB,
                     "scale_db": MEASURE_SCALE_DB},
        "training_data": {**run.get("data", {}),
                          "targets": "per window, the simulator's exact n (re the window's "
                                     "level), log1p k, log1p c and the rubric grade"},
        "training": {k: run[k] for k in ("runs", "wall_s", "step", "steps") if k in run}
        | {"exported_step": ck["step"]},
        "metrics": {"validation_windows": ck["val"]},
    }
    save_bundle(weights, ck["model"], meta)
    print(f"exported step {ck['step']} ({ck['val']}) to {weights}")


class WindowStream(torch.utils.data.IterableDataset):
    """Endless damaged training windows with exact targets (in a worker process)."""

    def __init__(self, cache: Path, *, seed: int):
        self.cache, self.seed = cache, seed

    def __iter__(self):
        songs, drums, bank = sources(self.cache, "train")
        maker = GraderWindows(songs, drums, bank, seed=self.seed)
        while True:
            w = maker.window()
            yield w.audio, stereo_targets([w]), w.grade


def stereo_targets(windows) -> np.ndarray:
    """``(n, 3)`` scaled measure targets (:data:`MEASURE_OUTPUTS`) of GraderWindows."""
    return np.array([[(w.noise_db - MEASURE_OFFSET_DB) / MEASURE_SCALE_DB,
                      np.log1p(w.crackle_per_s), np.log1p(w.clicks_per_min)]
                     for w in windows], np.float32).reshape(len(windows), 3)


#: The stereo grader's loss: its parts' weights (training and validation alike).
STEREO_LOSS_WEIGHTS = {"grade": 1.0, "noise": 2.0, "crackle": 1.0, "clicks": 0.5}


def stereo_loss(model, x, t, y):
    logits, m = model.forward_all(model.prepare(x))
    parts = {"grade": F.cross_entropy(logits, y, label_smoothing=0.05),
             "noise": F.smooth_l1_loss(m[:, 0], t[:, 0], beta=0.25),
             "crackle": F.smooth_l1_loss(m[:, 1], t[:, 1], beta=0.25),
             "clicks": F.smooth_l1_loss(m[:, 2], t[:, 2], beta=0.25)}
    return sum(STEREO_LOSS_WEIGHTS[k] * v for k, v in parts.items()), parts


def stereo_validation(cache: Path, path: Path, windows: int):
    """Fixed windows of the validation songs (made once, kept as float16 in ``path``)."""
    if path.exists():
        z = np.load(path)
        return z["x"].astype(np.float32), z["t"], z["y"]
    songs, drums, bank = sources(cache, "val")
    maker = GraderWindows(songs, drums, bank, seed=4242)
    ws = [maker.window() for _ in range(windows)]
    x = np.stack([w.audio for w in ws])
    t, y = stereo_targets(ws), np.array([w.grade for w in ws], np.int64)
    np.savez(path, x=x.astype(np.float16), t=t, y=y)
    return x, t, y


@torch.no_grad()
def stereo_validate(model, val, device) -> dict:
    model.eval()
    x, t, y = val
    logits, ms = [], []
    for i in range(0, len(x), 8):
        g, m = model.forward_all(model.prepare(torch.from_numpy(x[i:i + 8]).to(device)))
        logits.append(g.cpu())
        ms.append(m.cpu())
    model.train()
    g, m = torch.cat(logits), torch.cat(ms).numpy()
    n_est, k_est = decode_measures(m)
    n_true, k_true = decode_measures(t)
    n_err = n_est - n_true
    dense = k_true >= 1.0
    within = float(np.mean(np.abs(k_est[dense] / k_true[dense] - 1) <= 0.25)) if dense.any() \
        else float("nan")
    pred = g.argmax(1).numpy()
    parts = {"grade": float(F.cross_entropy(g, torch.from_numpy(y)))}
    parts.update({name: float(np.mean(np.abs(m[:, i] - t[:, i])))
                  for i, name in enumerate(("noise", "crackle", "clicks"))})
    loss = sum(STEREO_LOSS_WEIGHTS[k] * v for k, v in parts.items())
    return {"loss": loss, "noise_mae_db": float(np.mean(np.abs(n_err))),
            "noise_median_db": float(np.median(n_err)), "crackle_within_25": within,
            "crackle_log_mae": float(np.mean(np.abs(m[:, 1] - t[:, 1]))),
            "clicks_log_mae": float(np.mean(np.abs(m[:, 2] - t[:, 2]))),
            "window_exact": float(np.mean(pred == y)),
            "window_within_one": float(np.mean(np.abs(pred - y) <= 1))}


def train_stereo(args) -> int:
    device = start_run(args)
    model = build_grader("stereo").to(device)
    if args.init and not (args.out / "last.pt").exists():
        init = torch.load(args.init, map_location=device, weights_only=True)
        model.load_state_dict(init["model"] if "model" in init else init)
        print(f"initialised from {args.init} (step {init.get('step')})", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    step, best, args.steps, sched = resume(args.out / "last.pt", model, opt, steps=args.steps,
                                           make_sched=one_cycle(opt, args.lr), device=device)
    meta_path = args.out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"runs": [],
                                                                         "wall_s": 0.0}
    meta["runs"].append({"command": " ".join(sys.argv), "from_step": step,
                         "init": str(args.init) if args.init else None,
                         "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    val = stereo_validation(args.cache, args.out / "val.npz", args.val_windows)
    loader = iter(torch.utils.data.DataLoader(
        WindowStream(args.cache, seed=args.seed * 1_000_003 + step), batch_size=None,
        num_workers=1, prefetch_factor=16, persistent_workers=True))
    rng = np.random.default_rng(args.seed + step)
    buf: list = []
    log = CurveLog(args.out / "log.csv", ["step", "wall_s", "lr", "loss", "grade", "noise",
                                          "crackle", "clicks", "windows", "val_loss",
                                          "val_noise_mae_db", "val_noise_median_db",
                                          "val_crackle_within_25", "val_crackle_log_mae",
                                          "val_clicks_log_mae", "val_window_exact",
                                          "val_window_within_one"])
    t_start, wall0, made = time.perf_counter(), meta["wall_s"], 0
    while len(buf) < 2 * args.batch:
        buf.append(next(loader))
        made += 1
    acc = {k: 0.0 for k in ("loss", "grade", "noise", "crackle", "clicks")}
    n_acc = 0
    model.train()
    while step < args.steps:
        # the worker's new windows join a buffer of --buffer; each step draws a batch
        for _ in range(args.new_per_step):
            buf.append(next(loader))
            made += 1
        del buf[:max(0, len(buf) - args.buffer)]
        pick = rng.choice(len(buf), size=args.batch, replace=False)
        x = torch.from_numpy(np.stack([buf[i][0] for i in pick])).to(device)
        t = torch.from_numpy(np.concatenate([buf[i][1] for i in pick])).to(device)
        y = torch.tensor([buf[i][2] for i in pick], device=device)
        # a random gain and channel swap: nothing the rubric measures changes
        x = x * torch.exp(torch.empty(len(x), 1, 1, device=device).uniform_(-2, 2))
        if rng.random() < 0.5:
            x = x.flip(1)
        total, parts = stereo_loss(model, x, t, y)
        optimiser_step(total, model, opt, sched)
        step += 1
        accumulate(acc, total, parts)
        n_acc += 1
        if step % args.ckpt_every == 0 or step == args.steps:
            checkpoint(args.out / "last.pt", model, opt, sched, step=step, steps=args.steps,
                       best=best)
        if step % args.eval_every == 0 or step == args.steps:
            m = stereo_validate(model, val, device)
            wall = wall0 + time.perf_counter() - t_start
            log.write([step, round(wall), f"{sched.get_last_lr()[0]:.2e}"]
                      + [round(acc[k] / n_acc, 4) for k in acc] + [made]
                      + [round(m[k], 4) for k in ("loss", "noise_mae_db", "noise_median_db",
                                                  "crackle_within_25", "crackle_log_mae",
                                                  "clicks_log_mae", "window_exact",
                                                  "window_within_one")])
            acc = {k: 0.0 for k in acc}
            n_acc = 0
            if m["loss"] < best:
                best = m["loss"]
                save_atomic({"model": model.state_dict(), "config": model.config,
                             "size": "stereo", "step": step, "batch": args.batch,
                             "val": m}, args.out / "best.pt")
            meta.update(wall_s=round(wall, 1), step=step, steps=args.steps, data={
                "windows": "5-s windows of the train split's songs damaged on the fly "
                           "(vinylmon/training/grader_data.py), made by one worker process",
                "windows_made_this_run": made, "buffer": args.buffer,
                "new_per_step": args.new_per_step, "batch": args.batch,
                "val": f"{len(val[0])} fixed windows of the val songs (seed 4242)"})
            save_json_atomic(meta, meta_path)
    log.close()
    print(f"done: {step} steps", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    training_arguments(ap, name="grader", steps=4000, batch=8, lr=1e-3,
                       eval_every=400)
    ap.add_argument("--size", default="small", choices=["small", "base", "stereo"])
    ap.add_argument("--pretrained", type=Path, help="local wav2vec2 checkpoint for the encoder")
    ap.add_argument("--cache", type=Path, default=Path("cache"),
                    help="stereo: the music, drums and noise (scripts/get_music.sh)")
    ap.add_argument("--buffer", type=int, default=256, help="stereo: windows kept to draw from")
    ap.add_argument("--new-per-step", type=int, default=4,
                    help="stereo: fresh windows taken from the worker per step")
    ap.add_argument("--val-windows", type=int, default=96)
    ap.add_argument("--init", type=Path, default=None,
                    help="stereo: start a new run from this checkpoint's weights "
                         "(e.g. checkpoints/grader_stereo/best.pt)")
    args = ap.parse_args(argv)
    if args.export:
        export(args.out, args.weights)
        return 0
    if args.size == "stereo":
        return train_stereo(args)
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
    batches = prefetched(iter(batch_maker(train, batch=args.batch, n=n,
                                          seed=args.seed * 7919 + step), None), depth=4)
    log = CurveLog(args.out / "log.csv", ["step", "time", "lr", "loss", "val_loss",
                                          "val_window_acc", "val_exact", "val_within_one"])
    model.train()
    t0, run, k = time.time(), 0.0, 0
    while step < args.steps:
        x, y = next(batches)
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

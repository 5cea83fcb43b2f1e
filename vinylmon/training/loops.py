"""Plumbing shared by the training scripts: checkpoints, curves, background batches;
and the detector's examples and losses (training and fine-tuning use the same)."""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.models.bundle import WEIGHTS_DIR
from vinylmon.models.detector import LEVEL_SCALE_DB, NOISE_OFFSET_DB
from vinylmon.models.device import select_device
from vinylmon.training.corpus import (
    Clip,
    frame_targets,
    level_offset_db,
    window_class,
    window_counts,
)

#: Impulse and click frames weigh this many times more than others in the loss.
POS_WEIGHT = 10.0
#: The frame targets of :func:`~vinylmon.training.corpus.frame_targets` that training uses.
FRAME_KEYS = ("impulse", "impulse_mask", "click", "click_mask", "level_db")
#: A window class target that is not known (fine-tuning): no class loss for it.
UNKNOWN_CLASS = -100


def make_example(clip: Clip, start: int, n: int, hop: int):
    """One window and its targets; levels re the window's own level (what the model sees)."""
    x = clip.read(start, n)
    offset = float(np.clip(level_offset_db(clip, x), -20, 20))  # near-silent windows: bounded
    n_frames = n // hop + 1
    ft = frame_targets(clip, start, n, hop=hop, n_frames=n_frames, offset_db=offset)
    clicks, impulses = window_counts(clip, start, n, offset_db=offset)
    return (x, window_class(clip, start, n), clip.surface_noise_db + offset, clicks, impulses,
            ft)


def losses(window, frame, cls, noise, counts, ft, *, noise_weight=None):
    """The detector's training loss and its parts.

    ``cls`` may hold :data:`UNKNOWN_CLASS` (no class loss for that window);
    ``noise_weight`` (per window, 0 or 1) leaves out the surface-noise target of
    windows where it is not known. Without either, every window counts.
    """
    nc = len(WINDOW_CLASSES)
    known = cls != UNKNOWN_CLASS
    if bool(known.all()):
        l_cls = F.cross_entropy(window[:, :nc], cls)
    elif bool(known.any()):
        l_cls = F.cross_entropy(window[known, :nc], cls[known])
    else:
        l_cls = window.sum() * 0.0
    if noise_weight is None:
        l_noise = F.smooth_l1_loss(window[:, nc], (noise - NOISE_OFFSET_DB) / LEVEL_SCALE_DB)
    else:
        l_noise = (F.smooth_l1_loss(window[:, nc], (noise - NOISE_OFFSET_DB) / LEVEL_SCALE_DB,
                                    reduction="none") * noise_weight).sum() / \
            noise_weight.sum().clamp(min=1)
    l_count = F.smooth_l1_loss(window[:, nc + 1:nc + 3], counts)
    imp_mask = ft["impulse_mask"]
    # impulse frames are rare (about 1 in 100): positives weigh POS_WEIGHT times
    pos_weight = frame.new_tensor(POS_WEIGHT)
    l_imp = (F.binary_cross_entropy_with_logits(frame[:, 0], ft["impulse"], reduction="none",
                                                pos_weight=pos_weight)
             * imp_mask).sum() / imp_mask.sum().clamp(min=1)
    click_mask = ft["click_mask"]
    l_click = (F.binary_cross_entropy_with_logits(frame[:, 1], ft["click"], reduction="none",
                                                  pos_weight=pos_weight)
               * click_mask).sum() / click_mask.sum().clamp(min=1)
    pos = ft["impulse"] > 0
    level = torch.where(pos, ft["level_db"], torch.zeros_like(ft["level_db"])) / LEVEL_SCALE_DB
    l_level = (F.smooth_l1_loss(frame[:, 2], level, reduction="none") * pos).sum() / pos.sum(
    ).clamp(min=1)
    parts = {"cls": l_cls, "noise": l_noise, "count": l_count, "imp": l_imp, "click": l_click,
             "level": l_level}
    total = l_cls + l_noise + l_count + 2 * l_imp + 2 * l_click + l_level
    return total, parts


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a stop never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_json_atomic(obj: dict, path: Path) -> None:
    """A run's ``meta.json`` written to a temporary file, then renamed into place."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


class CurveLog:
    """Append-only CSV of training curves (a resumed run continues the same file)."""

    def __init__(self, path: Path, columns: list[str]):
        new = not path.exists()
        self._file = open(path, "a", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(columns)

    def write(self, row: list) -> None:
        self._csv.writerow(row)
        self._file.flush()
        print(" ".join(str(v) for v in row), flush=True)

    def close(self) -> None:
        self._file.close()


def resume(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, *,
           steps: int, make_sched: Callable[[int], object], device: torch.device):
    """Load ``path`` (if any) into model and optimiser.

    Returns ``(step, best, steps, sched)``: a resumed run keeps the schedule
    length it was started with.
    """
    if not path.exists():
        return 0, float("inf"), steps, make_sched(steps)
    ck = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    if ck.get("steps", steps) != steps:
        print(f"keeping the schedule of {ck['steps']} steps it was started with", flush=True)
        steps = ck["steps"]
    sched = make_sched(steps)
    sched.load_state_dict(ck["sched"])
    print(f"resumed at step {ck['step']}", flush=True)
    return ck["step"], ck["best"], steps, sched


def optimiser_step(total: torch.Tensor, model: torch.nn.Module, opt, sched, *,
                   clip: float = 5.0) -> None:
    """One training step from the loss ``total``: gradients clipped to norm ``clip``,
    the optimiser's and the schedule's step."""
    opt.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()


def accumulate(acc: dict, total: torch.Tensor, parts: dict) -> None:
    """Add a step's loss and its parts (by name) to the running sums in ``acc``."""
    acc["loss"] += float(total.detach())
    for k, v in parts.items():
        acc[k] += float(v.detach())


def checkpoint(path: Path, model, opt, sched, *, step: int, steps: int, best: float) -> None:
    save_atomic({"model": model.state_dict(), "opt": opt.state_dict(),
                 "sched": sched.state_dict(), "step": step, "steps": steps, "best": best}, path)


def one_cycle(opt: torch.optim.Optimizer, lr: float) -> Callable[[int], object]:
    return lambda steps: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                             pct_start=0.05)


def training_arguments(ap: argparse.ArgumentParser, *, name: str, steps: int, batch: int,
                       lr: float, eval_every: int) -> None:
    """The options every training script takes (``name``: the model's folder name)."""
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--out", type=Path, default=Path("cache/train") / name)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--eval-every", type=int, default=eval_every)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", action="store_true", help="write best.pt as a weights bundle")
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR / name,
                    help=f"the bundle --export writes (default {WEIGHTS_DIR / name})")


def start_run(args: argparse.Namespace) -> torch.device:
    """Threads, device, output folder and seed from :func:`training_arguments`' options."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    return device

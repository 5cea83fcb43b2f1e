"""Plumbing shared by the training scripts: checkpoints, curves, background batches."""

from __future__ import annotations

import argparse
import csv
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import torch

from vinylmon.models.device import select_device


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a stop never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
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


class Prefetcher:
    """Makes batches with ``make()`` in a daemon thread, a few ahead of training."""

    def __init__(self, make: Callable[[], object], *, depth: int = 4):
        self._make = make
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self._q.put(self._make())

    def next(self):
        return self._q.get()


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
    ap.add_argument("--weights", type=Path, default=Path("weights") / name)


def start_run(args: argparse.Namespace) -> torch.device:
    """Threads, device, output folder and seed from :func:`training_arguments`' options."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    return device

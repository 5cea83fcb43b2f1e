"""Training the detector and its click verifier: the frozen lower part computed once
(:func:`lower`), the trainable upper part (:func:`upper`, :func:`outputs`), the
detector's fine-tune (:func:`finetune_detector`) and the verifier's
(:func:`finetune_verifier`) on the take mixed with replay."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.models.detector import decode
from vinylmon.models.inference import Detector
from vinylmon.models.verifier import tensors, verifier_loss
from vinylmon.training.finetune.inputs import FinetuneConfig, check_cancel
from vinylmon.training.finetune.sets import ExampleSet, TakeSet
from vinylmon.training.loops import FRAME_KEYS, losses
from vinylmon.training.verifier_data import Examples, window_examples


@torch.no_grad()
def lower(model, windows: np.ndarray, start: int | None, device, *, batch: int = 8,
          cancel: threading.Event | None = None,
          progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """The frozen part's output for every window (CPU, float32)."""
    out = []
    for i in range(0, len(windows), batch):
        check_cancel(cancel)
        f = model.features(torch.from_numpy(windows[i:i + batch]).to(device))
        out.append((f if start is None else model.lower(f, start)).cpu())
        if progress is not None:
            progress(min(1.0, (i + batch) / len(windows)))
    return torch.cat(out)


def upper(model, h: torch.Tensor, start: int | None):
    return model.head(h) if start is None else model.upper(h, start)


@torch.no_grad()
def outputs(model, h: torch.Tensor, start: int | None, device, hop: int, batch: int = 16):
    outs = []
    for i in range(0, len(h), batch):
        w, f = upper(model, h[i:i + batch].to(device), start)
        outs += decode(w, f, hop=hop)
    return outs


def finetune_detector(model, start: int | None, names: list[str], take_set: TakeSet,
                      replay: ExampleSet, h_take: torch.Tensor, h_replay: torch.Tensor,
                      config: FinetuneConfig, device, *, cancel, clock) -> list:
    """Train ``model``'s parameters ``names`` (in place) on the take's training windows
    (features ``h_take``) mixed with replay windows (``h_replay``): AdamW with warm-up
    and cosine decay, distillation toward the base detector on the replay windows and
    an L2-SP penalty toward the base weights. Returns the base detector's
    ``(window, frame)`` outputs on the replay windows (batches of 16), computed
    before training."""
    params = dict(model.named_parameters())
    trainable = [params[n] for n in names]
    for p in trainable:
        p.requires_grad_(True)
    anchors = [p.detach().clone() for p in trainable]
    opt = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    warm = max(1, config.steps // 10)

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, config.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    with torch.no_grad():  # the base detector's view of the replay windows
        base_out = [upper(model, h_replay[i:i + 16].to(device), start)
                    for i in range(0, len(h_replay), 16)]
    nc = len(WINDOW_CLASSES)
    base_cls = torch.cat([w[:, :nc] for w, _ in base_out]).cpu() if base_out else None
    base_frame = torch.cat([f[:, :2] for _, f in base_out]).cpu() if base_out else None
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 3)
    n_replay = int(round(config.batch * config.replay_fraction)) if len(replay) else 0
    n_take = config.batch - n_replay

    def rows(data: ExampleSet, h: torch.Tensor, idx: np.ndarray):
        t = torch.from_numpy
        return (h[idx], t(data.cls[idx]), t(data.noise[idx]), t(data.noise_known[idx]),
                torch.log1p(t(data.counts[idx])), {k: t(data.frames[k][idx]) for k in FRAME_KEYS})

    for step in range(config.steps):
        check_cancel(cancel)
        parts = [rows(take_set.train, h_take, rng.choice(len(take_set.train), n_take))]
        if n_replay:
            ridx = rng.choice(len(replay), n_replay)
            parts.append(rows(replay, h_replay, ridx))
        h = torch.cat([p[0] for p in parts]).to(device)
        cls, noise, nk, counts = (torch.cat([p[i] for p in parts]).to(device)
                                  for i in range(1, 5))
        ft = {k: torch.cat([p[5][k] for p in parts]).to(device) for k in FRAME_KEYS}
        window, frame = upper(model, h, start)
        loss, _ = losses(window, frame, cls, noise, counts, ft, noise_weight=nk)
        if n_replay and config.distill:
            teacher_cls = base_cls[ridx].to(device)
            teacher_frame = torch.sigmoid(base_frame[ridx].to(device))
            kd = F.kl_div(F.log_softmax(window[n_take:, :nc], 1),
                          F.log_softmax(teacher_cls, 1), log_target=True,
                          reduction="batchmean")
            kd = kd + F.binary_cross_entropy_with_logits(frame[n_take:, :2], teacher_frame)
            loss = loss + config.distill * kd
        if config.l2sp:
            loss = loss + config.l2sp * sum(((p - a) ** 2).sum()
                                            for p, a in zip(trainable, anchors, strict=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 5.0)
        opt.step()
        sched.step()
        clock.report("train", (step + 1) / config.steps,
                     f"fine-tuning the detector: step {step + 1}/{config.steps}")
    for p in trainable:
        p.requires_grad_(False)
    model.eval()
    return base_out


def with_verifier(detector: Detector, verifier: torch.nn.Module | None = None, *,
                  accept: float | None = None) -> Detector:
    """A shallow copy of ``detector`` whose events come from another click verifier
    (same architecture) and/or another acceptance."""
    d = copy.copy(detector)
    if verifier is not None:
        d.verifier = verifier
    if accept is not None:
        d.accept = float(accept)
    return d


def verifier_examples(data: ExampleSet, verifier: torch.nn.Module) -> Examples | None:
    """The labelled impulse candidates of every window of ``data`` (its clips' spans
    are the truth), cut as ``verifier`` sees them; None when there are none."""
    cfg = verifier.config
    parts = [window_examples(data.audio[i], c.starts, c.ends, c.channel, c.peak_db,
                             threshold=cfg.candidate_threshold, whiten=cfg.whiten)
             for i, c in enumerate(data.clips)]
    parts = [e for e in parts if len(e)]
    return Examples.concat(parts) if parts else None


def _take_rows(e: Examples, idx: np.ndarray) -> Examples:
    return Examples(*(getattr(e, f)[idx] for f in Examples.__dataclass_fields__))


def finetune_verifier(detector: Detector, take_set: TakeSet, replay: ExampleSet,
                      config: FinetuneConfig, device, *, cancel, clock) -> dict | None:
    """A copy of the detector's click verifier trained on the take's candidates and
    the replay's (half of each batch each; a quarter of each half positives when
    there are any), with an L2-SP penalty toward the base weights. Returns its
    state (CPU tensors), or None when there is nothing to learn from."""
    base = detector.verifier
    take = verifier_examples(take_set.train, base)
    rep = verifier_examples(replay, base) if len(replay) else None
    if take is None or not (take.label > 0).any():
        return None
    model = copy.deepcopy(base).to(device).train()
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    anchors = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=config.verifier_lr, weight_decay=0.0)
    rng = np.random.default_rng(config.seed + 5)
    torch.manual_seed(config.seed + 5)

    def draw(e: Examples, n: int) -> Examples:
        pos, neg = np.flatnonzero(e.label > 0), np.flatnonzero(e.label == 0)
        k = min(n // 4, n) if pos.size else 0
        idx = np.concatenate([rng.choice(pos, k) if k else np.zeros(0, np.int64),
                              rng.choice(neg, n - k) if neg.size else rng.choice(pos, n - k)])
        return _take_rows(e, idx)

    half = config.verifier_batch // 2 if rep is not None else config.verifier_batch
    for step in range(config.verifier_steps):
        check_cancel(cancel)
        parts = [draw(take, half)]
        if rep is not None:
            parts.append(draw(rep, config.verifier_batch - half))
        t = tensors(Examples.concat(parts), device)
        loss, _ = verifier_loss(model(t["wave"], t["context"]), t)
        if config.verifier_l2sp:
            loss = loss + config.verifier_l2sp * sum(
                ((p - a) ** 2).sum() for p, a in zip(params, anchors, strict=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        clock.report("train", (step + 1) / config.verifier_steps,
                     f"fine-tuning the click verifier: step {step + 1}/{config.verifier_steps}")
    model.eval()
    for p in params:
        p.requires_grad_(False)
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

"""Fine-tuning the grader's linear head on frozen encoder embeddings
(:func:`finetune_grader`)."""

from __future__ import annotations

import copy
import threading

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.models.inference import LearnedGrader
from vinylmon.training.finetune.inputs import FinetuneConfig, check_cancel
from vinylmon.training.finetune.result import Clock
from vinylmon.training.finetune.sets import EvalSet, ExampleSet, TakeSet


@torch.no_grad()
def _embeddings(grader, windows: np.ndarray, device, *, batch: int = 8,
                cancel: threading.Event | None = None) -> torch.Tensor:
    """The frozen grader encoder's mean-pooled output per window (CPU)."""
    out = []
    for i in range(0, len(windows), batch):
        check_cancel(cancel)
        x = grader.prepare(torch.from_numpy(windows[i:i + batch]).to(device))
        out.append(grader.encode(x).cpu())
    return torch.cat(out)


@torch.no_grad()
def _grade_accuracy(head, emb: torch.Tensor, labels: np.ndarray, device) -> float:
    head.eval()
    pred = head(emb.to(device)).argmax(1).cpu().numpy()
    return float(np.mean(pred == labels)) if len(labels) else float("nan")


def finetune_grader(grader: LearnedGrader, take_set: TakeSet, replay: ExampleSet,
                    val: EvalSet, config: FinetuneConfig, device, *,
                    cancel: threading.Event | None, clock: Clock):
    """Train a copy of the grader's linear head on frozen encoder embeddings.

    Every fourth replay window is kept out of training as a check: the new head is
    kept only if its grade accuracy there is no worse than the base head's
    (the grader is at chance today; a head that forgets is not worth shipping).
    Returns ``(state or None, before, after, kept)``.
    """
    model = copy.deepcopy(grader.model).to(device).eval()
    clock.report("eval", 0.3, "grader: encoding the windows")
    e_take = _embeddings(model, take_set.train.audio, device, cancel=cancel)
    e_replay = _embeddings(model, replay.audio, device, cancel=cancel) if len(replay) else \
        torch.zeros(0, e_take.shape[1])
    e_held = _embeddings(model, take_set.held_out.windows, device, cancel=cancel)
    e_val = _embeddings(model, val.windows, device, cancel=cancel)
    y_held = np.array([g for ex in take_set.held_out.excerpts for g in ex.grades])
    y_val = np.array([g for ex in val.excerpts for g in ex.grades])
    head = model.head
    before = {"take": _grade_accuracy(head, e_held, y_held, device),
              "base_val": _grade_accuracy(head, e_val, y_val, device)}
    check = np.arange(len(e_replay)) % 4 == 3
    e_check, y_check = e_replay[check], replay.grade[check]
    e_rep, y_rep = e_replay[~check], replay.grade[~check]
    base_check = _grade_accuracy(head, e_check, y_check, device)
    with torch.no_grad():
        head.eval()
        teacher = F.log_softmax(head(e_rep.to(device)), 1) if len(e_rep) else None
    emb = torch.cat([e_take, e_rep]).to(device)
    y = torch.from_numpy(np.concatenate([take_set.train.grade, y_rep])).to(device)
    # the take and the replay weigh alike, however many windows each has
    w = torch.cat([torch.full((len(e_take),), 0.5 / max(1, len(e_take))),
                   torch.full((len(e_rep),), 0.5 / max(1, len(e_rep)))]).to(device)
    if len(e_rep) == 0:
        w = w * 2
    base_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
    params = list(head.parameters())
    for p in params:
        p.requires_grad_(True)
    anchors = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=config.grader_lr, weight_decay=0.0)
    torch.manual_seed(config.seed)
    for step in range(config.grader_steps):
        check_cancel(cancel)
        head.train()
        logits = head(emb)
        loss = (F.cross_entropy(logits, y, reduction="none") * w).sum()
        loss = loss + config.l2sp * sum(((p - a) ** 2).sum()
                                        for p, a in zip(params, anchors, strict=True))
        if teacher is not None and config.distill:
            loss = loss + config.distill * F.kl_div(
                F.log_softmax(logits[len(e_take):], 1), teacher, log_target=True,
                reduction="batchmean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 20 == 0:
            clock.report("eval", 0.6 + 0.4 * step / config.grader_steps,
                         "fine-tuning the grader's head")
    for p in params:
        p.requires_grad_(False)
    kept = not (len(y_check) and _grade_accuracy(head, e_check, y_check, device) < base_check)
    if not kept:
        head.load_state_dict(base_state)
    after = {"take": _grade_accuracy(head, e_held, y_held, device),
             "base_val": _grade_accuracy(head, e_val, y_val, device)}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return (state if kept else None), before, after, kept

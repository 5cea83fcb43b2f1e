"""What :func:`~vinylmon.training.finetune.run.finetune` returns
(:class:`FinetuneResult`, its before/after table) and its progress clock
(:class:`Clock`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vinylmon.models.inference import DetectorPostprocess
from vinylmon.training.finetune.inputs import FinetuneConfig

Progress = Callable[[float, str], None]


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """What :func:`~vinylmon.training.finetune.run.finetune` did.

    Attributes
    ----------
    before, after : dict
        ``{"take": metrics, "base_val": metrics}``:
        :func:`~vinylmon.training.finetune.scoring.score_detector`'s dicts plus ``grade_accuracy``
        (the grader's window accuracy).
    seconds : float
        Wall time of the whole fine-tuning (data, training, evaluation).
    replay_source, val_source : str
        ``corpus`` or ``synthetic``.
    detector_state : dict of str to Tensor
        The fine-tuned detector (CPU tensors; every parameter and buffer).
    grader_state : dict of str to Tensor or None
        The fine-tuned grader (None: not fine-tuned, or not kept).
    detector_meta, grader_meta : dict or None
        The base bundles' meta.json (what the profile was made from).
    config : FinetuneConfig
    take : dict
        The take and its sets (:meth:`~vinylmon.training.finetune.sets.TakeSet.info`).
    postprocess : DetectorPostprocess
        The fine-tuned detector's event post-processing (meta.json ``postprocess``):
        the base one, with the click threshold chosen for this microphone.
    threshold_selection : list of dict
        Each candidate threshold with its scores
        (:func:`~vinylmon.training.finetune.scoring.choose_threshold`).
    grader_kept : bool or None
        Whether the fine-tuned grader head was kept (False: it did worse than the
        base head on held-back replay windows, and ``grader_state`` is None);
        None when the grader was not fine-tuned.
    timings : dict
        Seconds per phase.
    verifier_state, verifier_meta : dict or None
        The fine-tuned click verifier and its base bundle's meta.json, whose
        ``postprocess`` holds the acceptance chosen for this microphone (None: the
        detector has no verifier, or it was not fine-tuned).
    """

    before: dict
    after: dict
    seconds: float
    replay_source: str
    val_source: str
    detector_state: dict
    grader_state: dict | None
    detector_meta: dict
    grader_meta: dict | None
    config: FinetuneConfig
    take: dict
    postprocess: DetectorPostprocess = field(default_factory=DetectorPostprocess)
    threshold_selection: list = field(default_factory=list)
    grader_kept: bool | None = None
    timings: dict = field(default_factory=dict)
    verifier_state: dict | None = None
    verifier_meta: dict | None = None

    def table(self) -> str:
        """The before/after numbers as a plain-text table."""
        lines = [f"{'data':12s} {'metric':16s} {'before':>8s} {'after':>8s} {'change':>8s}"]
        for part, label in (("take", "take held-out"), ("base_val", "base val")):
            b, a = self.before[part], self.after[part]
            n = f"({b['windows']} windows)"
            for key in ("event_f1", "class_accuracy", "grade_accuracy"):
                if key not in b and key not in a:
                    continue
                bv, av = b.get(key, float("nan")), a.get(key, float("nan"))
                lines.append(f"{label:12s} {key:16s} {bv:8.3f} {av:8.3f} {av - bv:+8.3f}")
            lines.append(f"{'':12s} {n}")
        if self.grader_kept is False:
            lines.append("the fine-tuned grader head did worse on held-back base data: the "
                         "base grader is kept")
        return "\n".join(lines)


class Clock:
    """Overall progress over weighted phases, with an ETA."""

    PHASES = {"data": 0.35, "train": 0.5, "eval": 0.15}

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.t0 = time.perf_counter()
        self.done = 0.0

    def report(self, phase: str, frac: float, message: str) -> None:
        if self.progress is None:
            return
        before = 0.0
        for name, w in self.PHASES.items():
            if name == phase:
                break
            before += w
        overall = min(1.0, before + self.PHASES[phase] * max(0.0, min(1.0, frac)))
        self.done = max(self.done, overall)
        elapsed = time.perf_counter() - self.t0
        eta = ""
        if self.done >= 0.03:
            left = elapsed * (1 - self.done) / self.done
            eta = f", ETA {int(left // 60)}:{int(left % 60):02d}"
        self.progress(self.done, f"{message}{eta}")

"""Scoring fine-tuned models like ``scripts/evaluate.py`` (:func:`score_detector`,
:func:`evaluate_detector`), and choosing a microphone's click threshold
(:func:`choose_threshold`) and verifier acceptance (:func:`choose_accept`) on the
take's training windows."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

from vinylmon.grading.rubric import CLICK_FLOOR_DB
from vinylmon.models.inference import Detector, DetectorPostprocess, analyse_excerpt
from vinylmon.training.evaluation import EventTally
from vinylmon.training.finetune.detector import lower, outputs, with_verifier
from vinylmon.training.finetune.inputs import SR
from vinylmon.training.finetune.result import FinetuneResult
from vinylmon.training.finetune.sets import EvalSet
from vinylmon.training.loops import UNKNOWN_CLASS

#: False events per minute on a take's undamaged windows that a lower click
#: threshold may cost at most (issue 4's budget, as in scripts/evaluate.py).
FALSE_BUDGET = 1.0


def score_detector(detector: Detector, data: EvalSet, outputs: Sequence) -> dict:
    """Event F1 and window class accuracy of detector outputs on an evaluation set,
    counted like ``scripts/evaluate.py`` (its post-processing, matching and classes).

    Returns
    -------
    dict
        ``event_f1``, ``precision``, ``recall``, ``click_events`` (truth),
        ``class_accuracy`` (NaN when no window class is known), ``windows``,
        ``false_per_min_clean``.
    """
    tally = EventTally()
    truth, pred = [], []
    j = 0
    for ex in data.excerpts:
        outs = list(outputs[j:j + len(ex.classes)])
        j += len(ex.classes)
        a = analyse_excerpt(ex.audio, detector, outputs=outs, repeats=[])
        spans = np.array([[round(e.start_s * SR), round(e.end_s * SR)] for e in a.events],
                         dtype=np.int64).reshape(-1, 2)
        is_click = np.array([e.peak_db >= CLICK_FLOOR_DB for e in a.events], bool)
        tally.add(ex.clip, spans, is_click, ex.clip.frames / SR / 60)
        for c, o in zip(ex.classes, outs, strict=True):
            if c != UNKNOWN_CLASS:
                truth.append(c)
                pred.append(int(np.argmax(o.class_probs)))
    s = tally.summary()
    click = s["click_all"]
    acc = float(np.mean(np.array(truth) == np.array(pred))) if truth else float("nan")
    return {"event_f1": float(click["f1"]), "precision": float(click["precision"]),
            "recall": float(click["recall"]), "click_events": int(click["truth"]),
            "class_accuracy": acc, "windows": len(data), "class_windows": len(truth),
            "false_per_min_clean": float(s["false_per_min_clean"])}


def evaluate_detector(detector: Detector, data: EvalSet, *, state: dict | None = None,
                      postprocess: DetectorPostprocess | None = None,
                      result: FinetuneResult | None = None) -> dict:
    """:func:`score_detector` for the detector, or for fine-tuned weights ``state``
    with their ``postprocess``, or for everything a
    :class:`~vinylmon.training.finetune.result.FinetuneResult` holds (``result``: the detector, its
    post-processing, the click verifier and its acceptance), on ``data``."""
    if result is not None:
        state, postprocess = result.detector_state, result.postprocess
    model = detector.model
    if state is not None:
        model = copy.deepcopy(model)
        model.load_state_dict(state)
        model.eval()
    h = lower(model, data.windows, None, detector.device)
    outs = outputs(model, h, None, detector.device, detector.hop)
    d = with_postprocess(detector, postprocess or detector.postprocess)
    if result is not None and result.verifier_state is not None and d.verifier is not None:
        v = copy.deepcopy(d.verifier)
        v.load_state_dict(result.verifier_state)
        d = with_verifier(d, v.eval(), accept=(result.verifier_meta or {}).get(
            "postprocess", {}).get("accept"))
    return score_detector(d, data, outs)


def with_postprocess(detector: Detector, postprocess: DetectorPostprocess) -> Detector:
    """A shallow copy of ``detector`` with other event post-processing (same model)."""
    d = copy.copy(detector)
    d.postprocess = postprocess
    return d


def choose_threshold(detector: Detector, take: EvalSet, take_outputs: Sequence,
                     replay: EvalSet, replay_outputs: Sequence, *,
                     base_replay_outputs: Sequence,
                     candidates: Sequence[float]) -> tuple[dict, list[dict]]:
    """The click threshold for a microphone, chosen on the take's training windows.

    A microphone can leave clicks less sure to the click head than line-in; its
    threshold (``postprocess.threshold``) may then be lowered, but only where
    that costs nothing: the candidate with the best event F1 on the take's
    (damaged) training windows among those that keep false events on its
    undamaged windows within :data:`FALSE_BUDGET` per minute (or the base
    threshold's rate, if higher) and event F1 on the replay windows (base
    training data) within 0.005 of the base detector's. Ties keep the higher
    threshold; with no better candidate the base threshold stays.

    Returns
    -------
    postprocess : dict
    table : list of dict
        ``threshold``, ``take_f1``, ``take_false_per_min``, ``replay_f1``, ``allowed``.
    """
    base_t = float(detector.postprocess.threshold)
    ref = score_detector(detector, replay, base_replay_outputs)["event_f1"]
    base_false = score_detector(detector, take, take_outputs)["false_per_min_clean"]
    budget = max(FALSE_BUDGET, base_false) if np.isfinite(base_false) else FALSE_BUDGET
    table, best = [], None
    for t in sorted({base_t, *map(float, candidates)}, reverse=True):
        d = with_postprocess(detector, dataclasses.replace(detector.postprocess, threshold=t))
        tk = score_detector(d, take, take_outputs)
        rp = score_detector(d, replay, replay_outputs)
        false = tk["false_per_min_clean"]
        allowed = bool((not np.isfinite(false) or false <= budget + 1e-9)
                       and rp["event_f1"] >= ref - 0.005)
        table.append({"threshold": t, "take_f1": round(tk["event_f1"], 4),
                      "take_false_per_min": round(false, 3) if np.isfinite(false) else None,
                      "replay_f1": round(rp["event_f1"], 4), "allowed": allowed})
        if allowed and (best is None or tk["event_f1"] > best[0] + 1e-9):
            best = (tk["event_f1"], t)
    chosen = best[1] if best is not None else base_t
    return dataclasses.replace(detector.postprocess, threshold=chosen), table


def choose_accept(detector: Detector, take: EvalSet, take_outputs: Sequence,
                  replay: EvalSet, replay_outputs: Sequence, *,
                  candidates: Sequence[float]) -> tuple[float, list[dict]]:
    """The click verifier's acceptance for a microphone, chosen on the take's training
    windows like :func:`choose_threshold` chooses the frame heads' threshold: the best
    event F1 there among the acceptances that keep false events on the undamaged
    windows within :data:`FALSE_BUDGET` per minute (or the base acceptance's rate, if
    higher) and event F1 on the replay windows within 0.005 of the base acceptance's.
    Ties keep the higher acceptance."""
    base_a = float(detector.accept)
    ref = score_detector(detector, replay, replay_outputs)["event_f1"]
    base_false = score_detector(detector, take, take_outputs)["false_per_min_clean"]
    budget = max(FALSE_BUDGET, base_false) if np.isfinite(base_false) else FALSE_BUDGET
    table, best = [], None
    for a in sorted({base_a, *map(float, candidates)}, reverse=True):
        d = with_verifier(detector, accept=a)
        tk = score_detector(d, take, take_outputs)
        rp = score_detector(d, replay, replay_outputs)
        false = tk["false_per_min_clean"]
        allowed = bool((not np.isfinite(false) or false <= budget + 1e-9)
                       and rp["event_f1"] >= ref - 0.005)
        table.append({"accept": a, "take_f1": round(tk["event_f1"], 4),
                      "take_false_per_min": round(false, 3) if np.isfinite(false) else None,
                      "replay_f1": round(rp["event_f1"], 4), "allowed": allowed})
        if allowed and (best is None or tk["event_f1"] > best[0] + 1e-9):
            best = (tk["event_f1"], a)
    return (best[1] if best is not None else base_a), table

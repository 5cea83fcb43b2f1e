"""Adapting the models to a microphone: fine-tuning on a calibration take.

A model trained on line-in recordings can fail on a laptop microphone (EQ,
room noise, reverb). The user records a *take*: 1-3 minutes of a record whose
grade they know (default NM). From it:

1. :func:`~vinylmon.training.finetune.data.build_take_set` splits the take by time (the last
   ``held_out_fraction`` is held out, never overlapping the training part),
   cuts 5-s windows and injects simulator damage into copies of them (clicks,
   crackle, a repeating scratch, a mix; varied rates and levels; one copy of
   each window is left as it is). The damage is exact truth, so targets come
   from the same functions as training (:mod:`vinylmon.training.corpus`); the
   known grade labels what was already there: an NM take's undamaged windows
   are ``clean``. For a worse grade, the record's own defects are not known:
   a window's class is kept only where the injected damage is worse than the
   known grade allows, and frames the base detector already hears as impulses
   in the undamaged take are left out of the frame losses.
2. Replay: a sample of the base training data (the corpus's train split when
   ``cache/corpus`` exists, else synthetic music with simulated damage), mixed
   into every batch so that nothing is forgotten, plus an L2-SP penalty that
   keeps the trainable weights near the base ones.
3. :func:`finetune` trains copies of the detector's upper blocks and heads
   (everything below is frozen and computed once; BatchNorm keeps the base
   statistics) with AdamW at a low learning rate, and the grader's linear head
   on frozen encoder embeddings; it evaluates before and after on the held-out
   part of the take and on base validation data with the event matching and
   post-processing of ``scripts/evaluate.py``
   (:mod:`vinylmon.training.evaluation`, :func:`~vinylmon.models.inference.analyse_excerpt`).

No Qt and no sound devices here; :mod:`vinylmon.store.profiles` stores the
result as a profile.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from vinylmon.models.detector import decode
from vinylmon.models.device import select_device
from vinylmon.models.inference import Detector, LearnedGrader
from vinylmon.training.finetune.data import build_replay, build_take_set, build_validation
from vinylmon.training.finetune.detector import (
    finetune_detector,
    finetune_verifier,
    lower,
    outputs,
    with_verifier,
)
from vinylmon.training.finetune.grader import finetune_grader
from vinylmon.training.finetune.inputs import (
    FinetuneConfig,
    as_take,
    check_cancel,
    check_grade,
    default_corpus,
)
from vinylmon.training.finetune.result import Clock, FinetuneResult, Progress
from vinylmon.training.finetune.scoring import (
    choose_accept,
    choose_threshold,
    score_detector,
    with_postprocess,
)


def _split_point(model, trainable: Sequence[str]) -> tuple[int | None, list[str]]:
    """Which block the trainable part starts at (None: the stem trains too), and the
    trainable parameter names."""
    names = [n for n, _ in model.named_parameters()]
    chosen = []
    for t in trainable:
        hit = [n for n in names if n == t or n.startswith(t + ".")]
        if not hit:
            raise ValueError(f"{t!r} names no detector parameter (e.g. blocks.5, window_head)")
        chosen += hit
    if any(n.startswith(("stem.", "frontend.")) for n in chosen):
        return None, chosen
    blocks = [int(n.split(".")[1]) for n in chosen if n.startswith("blocks.")]
    return (min(blocks) if blocks else len(model.blocks)), chosen


def _verifier_meta(detector: Detector) -> dict:
    """The base verifier bundle's meta.json (what a profile's verifier is made from)."""
    folder = detector.verifier_folder
    try:
        return json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, TypeError, ValueError):
        return {"name": "verifier", "version": "?"}


def finetune(take: np.ndarray, *, grade: str = "NM", detector: Detector,
             grader: LearnedGrader | None = None, config: FinetuneConfig | None = None,
             progress: Progress | None = None, cancel: threading.Event | None = None,
             corpus: str | os.PathLike | None = "auto") -> FinetuneResult:
    """Fine-tune copies of the detector (and the grader's head) on a calibration take.

    The given models are not changed.

    Parameters
    ----------
    take : np.ndarray, shape (2, frames) (or mono), float, 44.1 kHz
        The record played through the microphone to adapt to.
    grade : str, keyword-only
        The record's known grade (default NM).
    detector : Detector, keyword-only
        The base detector (its post-processing is kept).
    grader : LearnedGrader or None, keyword-only
    config : FinetuneConfig, keyword-only
    progress : callable(float, str), keyword-only
        Called with the fraction done (0..1) and a message with an ETA.
    cancel : threading.Event, keyword-only
        Set it to stop; :class:`~vinylmon.errors.Cancelled` is raised promptly.
    corpus : path, ``auto`` or None, keyword-only
        Base data for replay and validation (``auto``:
        :func:`~vinylmon.training.finetune.inputs.default_corpus`); None: synthetic music with
        simulated damage.

    Returns
    -------
    FinetuneResult

    Raises
    ------
    AudioDataError
        A bad, silent or too short take.
    VinylmonError
        An unknown grade; CUDA asked for where there is none.
    Cancelled
    """
    config = config or FinetuneConfig()
    before_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _finetune(take, grade=grade, detector=detector, grader=grader, config=config,
                         progress=progress, cancel=cancel, corpus=corpus)
    finally:
        torch.set_num_threads(before_threads)


def _finetune(take, *, grade, detector, grader, config, progress, cancel, corpus):
    clock = Clock(progress)
    t0 = time.perf_counter()
    timings = {}
    g = check_grade(grade)
    x = as_take(take)
    device = select_device(config.device)
    root = default_corpus() if corpus == "auto" else (Path(corpus) if corpus else None)
    base = detector.model
    model = copy.deepcopy(base).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    start, names = _split_point(model, config.trainable)
    hop = model.config.mel.hop_length
    check_cancel(cancel)

    # --- data
    prior = None
    if g != "NM":
        def prior(audio: np.ndarray) -> np.ndarray:
            outs = detector.run(list(audio))
            return np.stack([np.maximum(o.impulse_prob, o.click_prob) for o in outs])
    clock.report("data", 0.0, "cutting the take and injecting damage")
    take_set = build_take_set(x, grade=g, seed=config.seed, config=config, hop=hop,
                              impulse_prior=prior, cancel=cancel,
                              progress=lambda f: clock.report("data", 0.3 * f,
                                                              "injecting damage into the take"))
    clock.report("data", 0.3, "sampling base training data")
    replay, replay_source = build_replay(count=config.replay_windows, seed=config.seed + 1,
                                         corpus=root, window_s=config.window_s, hop=hop,
                                         cancel=cancel)
    clock.report("data", 0.45, "sampling base validation data")
    val = build_validation(windows=config.val_windows, seed=config.seed + 2, corpus=root,
                           window_s=config.window_s, hop=hop, cancel=cancel)
    timings["data_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    sets = [take_set.train.audio, replay.audio, take_set.held_out.windows, val.windows]
    total = sum(len(s) for s in sets)
    cached, done = [], 0

    def features_progress(first: int, count: int) -> Callable[[float], None]:
        return lambda f: clock.report("data", 0.5 + 0.5 * (first + f * count) / total,
                                      "computing input features")

    for s in sets:
        cached.append(lower(model, s, start, device, cancel=cancel,
                            progress=features_progress(done, len(s))))
        done += len(s)
    h_take, h_replay, h_held, h_val = cached
    timings["features_s"] = time.perf_counter() - t1

    before = {"take": score_detector(detector, take_set.held_out,
                                     outputs(model, h_held, start, device, hop)),
              "base_val": score_detector(detector, val, outputs(model, h_val, start, device,
                                                                hop))}

    # --- detector training
    t2 = time.perf_counter()
    base_out = finetune_detector(model, start, names, take_set, replay, h_take, h_replay,
                                 config, device, cancel=cancel, clock=clock)
    timings["train_s"] = time.perf_counter() - t2

    # --- the click threshold for this microphone, then the evaluation
    t3 = time.perf_counter()
    clock.report("eval", 0.0, "choosing the click threshold")
    postprocess, selection = detector.postprocess, []
    if config.thresholds and g == "NM":
        postprocess, selection = choose_threshold(
            detector, take_set.train.as_eval("take-train"),
            outputs(model, h_take, start, device, hop), replay.as_eval(replay_source),
            outputs(model, h_replay, start, device, hop), base_replay_outputs=[
                o for w, f in base_out for o in decode(w, f, hop=hop)],
            candidates=config.thresholds)
    tuned = with_postprocess(detector, postprocess)
    timings["eval_s"] = time.perf_counter() - t3

    # --- the click verifier (events come from it when the detector has one)
    t5 = time.perf_counter()
    verifier_state, verifier_meta = None, None
    if detector.verifier is not None and config.verifier_steps > 0:
        clock.report("train", 0.0, "fine-tuning the click verifier")
        verifier_state = finetune_verifier(detector, take_set, replay, config, device,
                                           cancel=cancel, clock=clock)
    if verifier_state is not None:
        v = copy.deepcopy(detector.verifier)
        v.load_state_dict(verifier_state)
        tuned = with_verifier(tuned, v.to(detector.device).eval())
        accept_selection: list[dict] = []
        if config.accepts and g == "NM":
            clock.report("eval", 0.1, "choosing the verifier's acceptance")
            accept, accept_selection = choose_accept(
                tuned, take_set.train.as_eval("take-train"),
                outputs(model, h_take, start, device, hop), replay.as_eval(replay_source),
                outputs(model, h_replay, start, device, hop), candidates=config.accepts)
            tuned = with_verifier(tuned, accept=accept)
        verifier_meta = _verifier_meta(detector)
        verifier_meta["postprocess"] = {**verifier_meta.get("postprocess", {}),
                                        "accept": tuned.accept}
        verifier_meta.setdefault("metrics", {})["accept_selection"] = accept_selection
    timings["verifier_s"] = time.perf_counter() - t5
    t3 = time.perf_counter()
    clock.report("eval", 0.2, "evaluating")
    after = {"take": score_detector(tuned, take_set.held_out,
                                    outputs(model, h_held, start, device, hop)),
             "base_val": score_detector(tuned, val, outputs(model, h_val, start, device,
                                                            hop))}
    timings["eval_s"] += time.perf_counter() - t3

    # --- grader head
    t4 = time.perf_counter()
    grader_state, grader_kept = None, None
    if grader is not None and config.grader_steps > 0:
        grader_state, gb, ga, grader_kept = finetune_grader(
            grader, take_set, replay, val, config, device, cancel=cancel, clock=clock)
        for part in ("take", "base_val"):
            before[part]["grade_accuracy"] = gb[part]
            after[part]["grade_accuracy"] = ga[part]
    timings["grader_s"] = time.perf_counter() - t4
    clock.report("eval", 1.0, "done")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return FinetuneResult(
        before=before, after=after, seconds=time.perf_counter() - t0,
        replay_source=replay_source, val_source=val.source, detector_state=state,
        grader_state=grader_state, detector_meta=copy.deepcopy(detector.meta),
        grader_meta=copy.deepcopy(grader.meta) if grader is not None else None,
        config=config, take=take_set.info(), postprocess=postprocess,
        threshold_selection=selection, grader_kept=grader_kept,
        timings={k: round(v, 2) for k, v in timings.items()},
        verifier_state=verifier_state, verifier_meta=verifier_meta)

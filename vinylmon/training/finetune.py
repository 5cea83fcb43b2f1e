"""Adapting the models to a microphone: fine-tuning on a calibration take.

A model trained on line-in recordings can fail on a laptop microphone (EQ,
room noise, reverb). The user records a *take*: 1-3 minutes of a record whose
grade they know (default NM). From it:

1. :func:`build_take_set` splits the take by time (the last
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
import dataclasses
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.types import ANALYSIS_RATE, rms_db
from vinylmon.errors import AudioDataError, Cancelled, VinylmonError
from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.grading.rubric import CLICK_FLOOR_DB, GRADES, RPMS
from vinylmon.models.detector import decode
from vinylmon.models.device import select_device
from vinylmon.models.inference import Detector, LearnedGrader, analyse_excerpt
from vinylmon.models.verifier import tensors, verifier_loss
from vinylmon.simulate import (
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    ScratchSpec,
    random_spec,
    simulate,
    synthetic_music,
)
from vinylmon.simulate import mic as micpath
from vinylmon.training.corpus import (
    Clip,
    clip_from_truth,
    level_offset_db,
    load_clip,
    split_files,
    window_severity,
)
from vinylmon.training.evaluation import EventTally, window_truth
from vinylmon.training.loops import FRAME_KEYS, UNKNOWN_CLASS, losses, make_example
from vinylmon.training.verifier_data import Examples, window_examples

SR = ANALYSIS_RATE
#: Kinds of injected damage; ``as is`` is the take's window untouched.
INJECTIONS = ("as is", "clicks", "crackle", "scratch", "mixed")
#: Takes the command line and the GUI accept (seconds).
MIN_TAKE_S = 60.0
MAX_TAKE_S = 300.0
#: False events per minute on a take's undamaged windows that a lower click
#: threshold may cost at most (issue 4's budget, as in scripts/evaluate.py).
FALSE_BUDGET = 1.0
#: Grade names a user may give, to GRADING.md's grades (M is NM, P is F).
GRADE_ALIASES = {"M": "NM", "P": "F"}

Progress = Callable[[float, str], None]
#: The checkout's root, where the scripts keep ``cache/`` (an installed vinylmon has
#: none there: ``$VINYLMON_CACHE`` then).
CHECKOUT = Path(__file__).resolve().parents[2]


def default_corpus() -> Path | None:
    """The simulator corpus, when there is one: ``$VINYLMON_CACHE/corpus`` or the
    checkout's ``cache/corpus``."""
    env = os.environ.get("VINYLMON_CACHE")
    root = Path(env) / "corpus" if env else CHECKOUT / "cache" / "corpus"
    return root if (root / "train").is_dir() and (root / "val").is_dir() else None


def check_grade(grade: str) -> str:
    """A grade of GRADING.md from what a user typed (case-insensitive; M is NM, P is F).

    Raises
    ------
    VinylmonError
        Not a grade.
    """
    g = str(grade).strip().upper()
    g = GRADE_ALIASES.get(g, g)
    if g not in GRADES:
        raise VinylmonError(f"unknown grade {grade!r}: one of {', '.join(GRADES)}")
    return g


@dataclass(frozen=True)
class FinetuneConfig:
    """What :func:`finetune` does and how long it takes.

    The defaults fit a 2-minute take into 3 minutes on a 2-core CPU
    (``scripts/bench_finetune.py`` measures it).

    Attributes
    ----------
    steps : int
        Optimiser steps for the detector.
    lr : float
        AdamW learning rate (low: the base model is kept, not replaced);
        linear warm-up over the first tenth, cosine decay after.
    weight_decay : float
    l2sp : float
        Weight of the L2-SP penalty: the squared distance of the trainable
        weights from the base weights (summed).
    distill : float
        Weight of the distillation loss on replay windows: the fine-tuned
        detector's class and frame probabilities there are kept near the base
        detector's (learning without forgetting).
    thresholds : tuple of float
        Candidate click thresholds for this microphone (:func:`choose_threshold`;
        NM takes only); empty: the base post-processing is kept.
    batch : int
    replay_fraction : float
        Share of each batch drawn from the replay set (base training data).
    held_out_fraction : float
        The take's last part, held out for the before/after evaluation.
    seed : int
    trainable : tuple of str
        Detector parameters to train (name prefixes); everything else is frozen.
        Blocks below the lowest trainable one, and the stem, are computed once.
    window_s : float
    train_hop_s : float
        Hop between the take's training windows (they overlap).
    variants : int
        Copies of each training window: one as it is, the rest damaged.
    colour_damage : bool
        Pass the injected damage through a random microphone coloration and
        short reverb (the simulator's microphone path) before adding it.
    held_out_variants : int
        The same for each held-out window.
    replay_windows : int
    val_windows : int
        Base validation windows (whole 30-s excerpts of the corpus, or
        synthetic windows).
    grader_steps : int
        Full-batch steps for the grader's head (0: the grader is not fine-tuned).
    grader_lr : float
    device : str
        ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    threads : int or None
        CPU threads for torch while fine-tuning (restored after); None: leave
        torch's setting. 1 by default: on the 2-core machine, shared with
        anything else, 2 threads ran a training step 10x slower than 1
        (threads waiting on each other for a busy core), and 1 was never much
        slower.
    verifier_steps, verifier_lr, verifier_batch, verifier_l2sp : int, float, int, float
        The click verifier's fine-tune (when the detector has one): steps of
        AdamW on the candidates of the take's training windows (half of each
        batch) and of the replay windows, with an L2-SP penalty toward the base
        weights. 0 steps: the base verifier is kept.
    accepts : tuple of float
        Candidate verifier acceptances for this microphone (:func:`choose_accept`;
        NM takes only).
    """

    steps: int = 300
    lr: float = 1e-3
    weight_decay: float = 0.0
    l2sp: float = 1.0
    distill: float = 5.0
    thresholds: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5)
    batch: int = 16
    replay_fraction: float = 0.5
    held_out_fraction: float = 0.25
    seed: int = 0
    trainable: tuple[str, ...] = ("blocks.4", "blocks.5", "frame_head", "window_head")
    window_s: float = 5.0
    train_hop_s: float = 2.5
    variants: int = 4
    colour_damage: bool = True
    held_out_variants: int = 4
    replay_windows: int = 64
    val_windows: int = 96
    grader_steps: int = 200
    grader_lr: float = 1e-3
    device: str = "auto"
    threads: int | None = 1
    verifier_steps: int = 300
    verifier_lr: float = 5e-4
    verifier_batch: int = 128
    verifier_l2sp: float = 1.0
    accepts: tuple[float, ...] = (0.95, 0.9, 0.8, 0.7, 0.5)

    def __post_init__(self):
        if self.steps < 0 or self.batch < 1:
            raise ValueError(f"steps must be >= 0 and batch >= 1, got {self.steps}, "
                             f"{self.batch}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
        if not 0 <= self.replay_fraction < 1:
            raise ValueError(f"replay_fraction must be in [0, 1), got {self.replay_fraction}")
        if not 0 < self.held_out_fraction < 1:
            raise ValueError(f"held_out_fraction must be in (0, 1), got "
                             f"{self.held_out_fraction}")
        if self.variants < 1 or self.held_out_variants < 1:
            raise ValueError("variants and held_out_variants must be >= 1")
        if not self.trainable:
            raise ValueError("trainable names no parameters")
        if self.window_s <= 0 or self.train_hop_s <= 0:
            raise ValueError("window_s and train_hop_s must be > 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")
        if self.verifier_steps < 0 or self.verifier_batch < 8 or not 0 < self.verifier_lr < 1:
            raise ValueError("verifier_steps must be >= 0, verifier_batch >= 8 and "
                             "verifier_lr in (0, 1)")
        if not all(0 < a < 1 for a in self.accepts):
            raise ValueError(f"accepts must lie in (0, 1), got {self.accepts}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["trainable"] = list(self.trainable)
        d["thresholds"] = list(self.thresholds)
        d["accepts"] = list(self.accepts)
        return d


# ----------------------------------------------------------------------------- data
@dataclass(eq=False)
class ExampleSet:
    """Training windows and their targets (the detector's and the grader's).

    Attributes
    ----------
    audio : np.ndarray, shape (windows, 2, samples), float32
    cls : np.ndarray of int64
        Window class (index into WINDOW_CLASSES), or UNKNOWN_CLASS.
    noise : np.ndarray of float32
        Surface noise target, dB re the window's level (clamped to -90..-10).
    noise_known : np.ndarray of float32
        1 where ``noise`` is known (0: the take's own noise is not).
    counts : np.ndarray, shape (windows, 2), float32
        Click-loud and all impulses starting in the window.
    frames : dict of str to np.ndarray, shape (windows, frames)
        :data:`~vinylmon.training.loops.FRAME_KEYS`.
    grade : np.ndarray of int64
        The grader's label (index into GRADES).
    kind : tuple of str
        What was injected (:data:`INJECTIONS`), or ``replay``.
    clips : tuple of Clip
        Each window's exact truth as its own excerpt (audio: a view of ``audio``).
    """

    audio: np.ndarray
    cls: np.ndarray
    noise: np.ndarray
    noise_known: np.ndarray
    counts: np.ndarray
    frames: dict[str, np.ndarray]
    grade: np.ndarray
    kind: tuple[str, ...]
    clips: tuple[Clip, ...]

    def __len__(self) -> int:
        return len(self.cls)

    def as_eval(self, source: str) -> EvalSet:
        """The windows as one-window evaluation excerpts."""
        return EvalSet(source, [Excerpt(self.audio[i], c, (int(self.cls[i]),),
                                        (int(self.grade[i]),))
                                for i, c in enumerate(self.clips)], self.audio)


@dataclass(frozen=True, eq=False)
class Excerpt:
    """An evaluation excerpt: audio, exact truth, per-window labels.

    ``classes`` holds UNKNOWN_CLASS where the window class is not known (left
    out of class accuracy); ``grades`` the grader's label of each window.
    """

    audio: np.ndarray
    clip: Clip
    classes: tuple[int, ...]
    grades: tuple[int, ...]


@dataclass(eq=False)
class EvalSet:
    """Evaluation excerpts, and all their windows in order ``(windows, 2, samples)``."""

    source: str
    excerpts: list[Excerpt]
    windows: np.ndarray

    def __len__(self) -> int:
        return len(self.windows)

    def transformed(self, fn: Callable[[np.ndarray, int], np.ndarray], *,
                    source: str | None = None) -> EvalSet:
        """The same excerpts and truth with ``fn(audio, index)`` applied to each
        excerpt's audio (e.g. a microphone after the damage)."""
        out = []
        for i, ex in enumerate(self.excerpts):
            y = np.asarray(fn(ex.audio, i), dtype=np.float32)
            if y.shape != ex.audio.shape:
                raise ValueError(f"transform changed the shape {ex.audio.shape} -> {y.shape}")
            out.append(dataclasses.replace(ex, audio=y))
        n = self.windows.shape[-1]
        windows = [np.pad(w, ((0, 0), (0, n - w.shape[1])))
                   for ex in out for w in np.split(ex.audio, range(n, ex.audio.shape[1], n), 1)]
        return EvalSet(source or self.source, out, np.stack(windows).astype(np.float32))


@dataclass(eq=False)
class TakeSet:
    """:func:`build_take_set`'s result: training examples and the held-out excerpts."""

    train: ExampleSet
    held_out: EvalSet
    grade: str
    duration_s: float
    train_s: float
    held_out_s: float
    skipped_silent: int

    def info(self) -> dict:
        return {"grade": self.grade, "duration_s": round(self.duration_s, 2),
                "train_s": round(self.train_s, 2), "held_out_s": round(self.held_out_s, 2),
                "train_examples": len(self.train), "held_out_windows": len(self.held_out),
                "silent_windows_skipped": self.skipped_silent}


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("fine-tuning cancelled")


def as_take(take: np.ndarray) -> np.ndarray:
    """A take as ``(2, frames)`` float32 (mono is played on both channels).

    Raises
    ------
    AudioDataError
        Wrong shape, empty, or NaN/infinite samples.
    """
    x = np.asarray(take)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] not in (1, 2) or x.shape[1] == 0:
        raise AudioDataError(f"a take must be (1 or 2 channels, frames) of audio, got shape "
                             f"{np.shape(take)}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise AudioDataError(f"a take must hold numbers, got {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise AudioDataError("the take holds NaN or infinite samples")
    return np.ascontiguousarray(np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x)


def _silent(x: np.ndarray) -> bool:
    peak = float(np.abs(x).max()) if x.size else 0.0
    return SilenceGate().update(level_db=rms_db(x),
                                peak_db=20 * math.log10(peak) if peak > 0 else -math.inf)


def _injection(rng: np.random.Generator, kind: str, window_s: float) -> DamageSpec:
    """Damage of one kind at a random rate and level (exact truth from the simulator)."""
    seed = int(rng.integers(0, 2**31 - 1))
    clicks = ClickSpec(rate_per_min=float(np.exp(rng.uniform(np.log(3.0), np.log(150.0)))),
                       pop_fraction=float(rng.uniform(0, 0.3)),
                       stereo_fraction=float(rng.uniform(0.2, 0.8)))
    crackle = CrackleSpec(rate_per_s=float(np.exp(rng.uniform(np.log(0.5), np.log(60.0)))),
                          peak_db=(float(rng.uniform(-48, -35)), float(rng.uniform(-16, -11))),
                          stereo_fraction=float(rng.uniform(0.4, 0.95)))
    rpm = float(rng.choice(RPMS, p=[0.6, 0.3, 0.1]))
    period = 60.0 / rpm
    revs = int(rng.integers(3, max(4, int((window_s - 0.2) / period) + 1)))
    scratch = ScratchSpec(float(rng.uniform(0.0, max(0.05, window_s - 0.2 - revs * period))),
                          revs, float(rng.uniform(-20.0, 10.0)), rpm,
                          float(rng.uniform(-0.02, 0.02)), float(rng.uniform(0.0005, 0.004)),
                          bool(rng.random() < 0.3))
    if kind == "as is":
        return DamageSpec(seed=seed)
    if kind == "clicks":
        return DamageSpec(seed=seed, clicks=clicks)
    if kind == "crackle":
        return DamageSpec(seed=seed, crackle=crackle)
    if kind == "scratch":
        return DamageSpec(seed=seed, scratches=(scratch,))
    if kind == "mixed":
        return DamageSpec(seed=seed, clicks=clicks, crackle=crackle,
                          scratches=(scratch,) if rng.random() < 0.5 else ())
    raise ValueError(f"unknown injection {kind!r}")


def _clamp_noise(v: float) -> float:
    return float(min(-10.0, max(-90.0, v))) if np.isfinite(v) else -90.0


def _take_window(x: np.ndarray, kind: str, rng: np.random.Generator, *, known: int, hop: int,
                 window_s: float, ident: str, colour: bool):
    """One take window with injected damage: (audio, clip, cls, grade, targets)."""
    d = simulate(x, _injection(rng, kind, window_s))
    audio = d.audio
    seed = int(rng.integers(0, 2**31 - 1))
    if colour and kind != "as is":
        # the damage reaches the take's microphone through some speaker, room and
        # capsule: a random coloration and a short reverb (the simulator's microphone
        # path), so that the detector learns clicks as a microphone hears them
        r = np.random.default_rng(seed)
        damage = micpath.apply(d.audio.astype(np.float64) - d.clean,
                               sos=micpath.coloration(r, SR),
                               ir=micpath.room_ir(r, SR, rt60_s=float(r.uniform(0.1, 0.4)),
                                                  wet_db=float(r.uniform(-20, -10))))
        audio = (d.clean + damage).astype(np.float32)
    injected = GRADES.index(d.truth.grade.grade)
    grade = max(known, injected)
    # the record's own surface noise is not known: it must not decide the class
    clip = dataclasses.replace(
        clip_from_truth(d.truth, audio, id=ident, split="take", surface_noise_db=-math.inf),
        grade=GRADES[grade])
    n = x.shape[1]
    _, cls, noise, clicks, impulses, ft = make_example(clip, 0, n, hop)
    worst, _ = window_severity(clip, 0, n)
    if known > 0 and worst <= known:
        cls = UNKNOWN_CLASS  # the record's own defects may be what limits this window
    return audio, clip, cls, grade, (noise, clicks, impulses, ft)


def _stack(items: list, kinds: list[str]) -> ExampleSet:
    """ExampleSet from rows of (audio, cls, noise, noise_known, clicks, impulses, ft, grade,
    clip)."""
    audio = np.stack([r[0] for r in items]).astype(np.float32)
    return ExampleSet(
        audio=audio,
        cls=np.array([r[1] for r in items], np.int64),
        noise=np.array([_clamp_noise(r[2]) for r in items], np.float32),
        noise_known=np.array([r[3] for r in items], np.float32),
        counts=np.array([(r[4], r[5]) for r in items], np.float32),
        frames={k: np.stack([r[6][k] for r in items]).astype(np.float32) for k in FRAME_KEYS},
        grade=np.array([r[7] for r in items], np.int64), kind=tuple(kinds),
        clips=tuple(dataclasses.replace(r[8], audio=audio[i]) for i, r in enumerate(items)))


def _window_clip(clip: Clip, start: int, n: int, audio: np.ndarray) -> Clip:
    """Samples ``[start, start+n)`` of a corpus clip as an excerpt of their own: truth
    shifted to the window, levels re the window's own level (as the model sees them)."""
    offset = level_offset_db(clip, audio)
    sel = (clip.ends > start) & (clip.starts < start + n)
    sr = clip.sample_rate
    return dataclasses.replace(
        clip, id=f"{clip.id}@{start}", frames=n, silent_windows=(),
        skip_times_s=tuple(t - start / sr for t in clip.skip_times_s
                           if start <= t * sr < start + n),
        starts=clip.starts[sel] - start, ends=clip.ends[sel] - start,
        channel=clip.channel[sel], peak_db=clip.peak_db[sel] + np.float32(offset),
        kind=clip.kind[sel], scratch_tick=clip.scratch_tick[sel],
        row={**clip.row, "program_level_dbfs": float(clip.row["program_level_dbfs"]) - offset},
        audio=None)


def build_take_set(take: np.ndarray, *, grade: str = "NM", seed: int = 0,
                   config: FinetuneConfig | None = None, hop: int = 256,
                   impulse_prior: Callable[[np.ndarray], np.ndarray] | None = None,
                   cancel: threading.Event | None = None,
                   progress: Callable[[float], None] | None = None) -> TakeSet:
    """Training examples and held-out excerpts from a calibration take.

    Parameters
    ----------
    take : np.ndarray, shape (2, frames) (or mono), float, 44.1 kHz
    grade : str, keyword-only
        The record's known grade.
    seed : int, keyword-only
    config : FinetuneConfig, keyword-only
        ``held_out_fraction``, ``window_s``, ``train_hop_s``, ``variants``,
        ``held_out_variants``.
    hop : int, keyword-only
        The detector's frame hop (samples).
    impulse_prior : callable, keyword-only
        For a grade worse than NM: ``(windows, 2, samples) -> (windows, frames)``
        probabilities that a frame of the undamaged take already holds an
        impulse (the base detector's); frames above 0.3 are left out of the
        frame losses unless damage was injected there.
    cancel : threading.Event, keyword-only
    progress : callable(float), keyword-only
        Fraction done, 0..1.

    Returns
    -------
    TakeSet

    Raises
    ------
    AudioDataError
        A bad or silent take, or one too short for a training and a held-out window.
    Cancelled
    """
    config = config or FinetuneConfig()
    g = check_grade(grade)
    known = GRADES.index(g)
    x = as_take(take)
    n = int(round(config.window_s * SR))
    total = x.shape[1]
    split = int(round(total * (1 - config.held_out_fraction)))
    train_hop = max(1, int(round(config.train_hop_s * SR)))
    train_starts = list(range(0, split - n + 1, train_hop))
    held_starts = list(range(split, total - n + 1, n))
    if len(train_starts) < 2 or not held_starts:
        raise AudioDataError(
            f"the take is {total / SR:.1f} s long: too short for {config.window_s:g}-s "
            f"training windows and a held-out part of {config.held_out_fraction:.0%}")
    rng = np.random.default_rng(seed)
    menu = [k for k in INJECTIONS if k != "as is"]
    jobs = [(s, "train") for s in train_starts] + [(s, "held") for s in held_starts]
    rows, kinds, excerpts, windows = [], [], [], []
    skipped = 0
    for j, (s, part) in enumerate(jobs):
        _check_cancel(cancel)
        w = x[:, s:s + n]
        if _silent(w):
            skipped += 1
            continue
        count = config.variants if part == "train" else config.held_out_variants
        order = list(rng.permutation(menu))
        for v in range(count):
            kind = "as is" if v == 0 else str(order[(v - 1) % len(order)])
            audio, clip, cls, wgrade, (noise, clicks, imps, ft) = _take_window(
                w, kind, rng, known=known, hop=hop, window_s=config.window_s,
                ident=f"take-{s}-{v}", colour=config.colour_damage)
            if part == "train":
                rows.append((audio, cls, noise, 0.0, clicks, imps, ft, wgrade,
                             dataclasses.replace(clip, audio=None)))
                kinds.append(kind)
            else:
                excerpts.append(Excerpt(audio, clip, (cls,), (wgrade,)))
                windows.append(audio)
        if progress is not None:
            progress((j + 1) / len(jobs))
    if not rows or not excerpts:
        raise AudioDataError("the take is silent (or nearly): play the record louder, or "
                             "move the microphone closer")
    train = _stack(rows, kinds)
    if known > 0 and impulse_prior is not None:
        # frames where the record itself already ticks: neither positive nor negative
        prior = impulse_prior(train.audio) > 0.3
        injected = train.frames["impulse"] > 0
        keep = ~(prior & ~injected)
        for k in ("impulse_mask", "click_mask"):
            train.frames[k] = train.frames[k] * keep
    held = EvalSet("take", excerpts, np.stack(windows).astype(np.float32))
    return TakeSet(train, held, g, total / SR, split / SR, (total - split) / SR, skipped)


def _synthetic_windows(rng: np.random.Generator, count: int, *, window_s: float, hop: int,
                       cancel: threading.Event | None, tag: str):
    """Synthetic music with random simulated damage (no real noise recordings):
    rows for :func:`_stack` and evaluation excerpts."""
    n = int(round(window_s * SR))
    rows, excerpts = [], []
    for i in range(count):
        _check_cancel(cancel)
        # short cross-faded chunks: synthetic_music's cost grows with its length squared
        music = synthetic_take(window_s, seed=int(rng.integers(0, 2**31 - 1)), chunk_s=1.25)
        spec = random_spec(rng, duration_s=window_s, grade=GRADES[i % len(GRADES)],
                           real_noise=False, mic_probability=0.0)
        d = simulate(music, spec, duration_s=window_s)
        clip = clip_from_truth(d.truth, d.audio, id=f"{tag}-{i}", split=tag)
        _, cls, noise, clicks, imps, ft = make_example(clip, 0, n, hop)
        grade = GRADES.index(d.truth.grade.grade)
        rows.append((d.audio, cls, noise, 1.0, clicks, imps, ft, grade, clip))
        excerpts.append(Excerpt(d.audio, clip, (cls,), (grade,)))
    return rows, excerpts


def build_replay(*, count: int, seed: int, corpus: Path | None, window_s: float = 5.0,
                 hop: int = 256, cancel: threading.Event | None = None
                 ) -> tuple[ExampleSet, str]:
    """A random sample of base training windows: ``(examples, source)``.

    ``source`` is ``corpus`` (windows of the corpus's train split, tiled like
    training tiles them) or ``synthetic`` (synthetic music with random damage).
    """
    rng = np.random.default_rng(seed)
    n = int(round(window_s * SR))
    if corpus is not None:
        files = split_files(corpus, "train")
        rows = []
        for i in rng.choice(len(files), size=min(count, len(files)), replace=False):
            _check_cancel(cancel)
            clip = load_clip(corpus, files[int(i)], split="train")
            starts = [off + k * n for off in (0, n // 2) for k in range((clip.frames - off) // n)]
            start = int(starts[int(rng.integers(len(starts)))])
            x, cls, noise, clicks, imps, ft = make_example(clip, start, n, hop)
            rows.append((x, cls, noise, 1.0, clicks, imps, ft, clip.grade_index,
                         _window_clip(clip, start, n, x)))
        return _stack(rows, ["replay"] * len(rows)), "corpus"
    rows, _ = _synthetic_windows(rng, count, window_s=window_s, hop=hop, cancel=cancel,
                                 tag="replay")
    return _stack(rows, ["replay"] * len(rows)), "synthetic"


def build_validation(*, windows: int, seed: int, corpus: Path | None, window_s: float = 5.0,
                     hop: int = 256, cancel: threading.Event | None = None) -> EvalSet:
    """Base validation data: whole excerpts of the corpus's val split (about
    ``windows`` windows), or as many synthetic windows (seeded)."""
    rng = np.random.default_rng(seed)
    n = int(round(window_s * SR))
    if corpus is not None:
        files = split_files(corpus, "val")
        excerpts, parts, have = [], [], 0
        for i in rng.permutation(len(files)):
            if have >= windows:
                break
            _check_cancel(cancel)
            clip = load_clip(corpus, files[int(i)], split="val")
            x = clip.read()
            classes = tuple(window_truth(clip))
            excerpts.append(Excerpt(x, clip, classes, (clip.grade_index,) * len(classes)))
            for s in range(0, clip.frames, n):
                w = x[:, s:s + n]
                parts.append(np.pad(w, ((0, 0), (0, n - w.shape[1]))))
            have += len(classes)
        return EvalSet("corpus", excerpts, np.stack(parts).astype(np.float32))
    _, excerpts = _synthetic_windows(rng, windows, window_s=window_s, hop=hop, cancel=cancel,
                                     tag="val")
    return EvalSet("synthetic", excerpts, np.stack([e.audio for e in excerpts]))


def synthetic_take(seconds: float, *, seed: int = 0, chunk_s: float = 5.0) -> np.ndarray:
    """Synthetic music of any length, ``(2, frames)`` float32 at 44.1 kHz, for tests and
    benchmarks: :func:`~vinylmon.simulate.synthetic_music` chunks joined with
    50-ms cross-fades (it is quadratic in its length; a step at a joint would be a click).
    """
    rng = np.random.default_rng(seed)
    fade = int(0.05 * SR)
    n = int(round(seconds * SR))
    out = np.zeros((2, n + int(chunk_s * SR) + fade), np.float32)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))).astype(np.float32)
    pos = 0
    while pos < n:
        c = synthetic_music(rng, chunk_s + fade / SR)
        c[:, :fade] *= ramp
        c[:, -fade:] *= ramp[::-1]
        out[:, pos:pos + c.shape[1]] += c
        pos += c.shape[1] - fade
    return np.ascontiguousarray(out[:, :n])


# ----------------------------------------------------------------------------- models
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


@torch.no_grad()
def _lower(model, windows: np.ndarray, start: int | None, device, *, batch: int = 8,
           cancel: threading.Event | None = None,
           progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """The frozen part's output for every window (CPU, float32)."""
    out = []
    for i in range(0, len(windows), batch):
        _check_cancel(cancel)
        f = model.features(torch.from_numpy(windows[i:i + batch]).to(device))
        out.append((f if start is None else model.lower(f, start)).cpu())
        if progress is not None:
            progress(min(1.0, (i + batch) / len(windows)))
    return torch.cat(out)


def _upper(model, h: torch.Tensor, start: int | None):
    return model.head(h) if start is None else model.upper(h, start)


@torch.no_grad()
def _outputs(model, h: torch.Tensor, start: int | None, device, hop: int, batch: int = 16):
    outs = []
    for i in range(0, len(h), batch):
        w, f = _upper(model, h[i:i + batch].to(device), start)
        outs += decode(w, f, hop=hop)
    return outs


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


@torch.no_grad()
def _embeddings(grader, windows: np.ndarray, device, *, batch: int = 8,
                cancel: threading.Event | None = None) -> torch.Tensor:
    """The frozen grader encoder's mean-pooled output per window (CPU)."""
    out = []
    for i in range(0, len(windows), batch):
        _check_cancel(cancel)
        x = grader.prepare(torch.from_numpy(windows[i:i + batch]).to(device))
        out.append(grader.encode(x).cpu())
    return torch.cat(out)


@torch.no_grad()
def _grade_accuracy(head, emb: torch.Tensor, labels: np.ndarray, device) -> float:
    head.eval()
    pred = head(emb.to(device)).argmax(1).cpu().numpy()
    return float(np.mean(pred == labels)) if len(labels) else float("nan")


def evaluate_detector(detector: Detector, data: EvalSet, *, state: dict | None = None,
                      postprocess: dict | None = None,
                      result: FinetuneResult | None = None) -> dict:
    """:func:`score_detector` for the detector, or for fine-tuned weights ``state``
    with their ``postprocess``, or for everything a :class:`FinetuneResult` holds
    (``result``: the detector, its post-processing, the click verifier and its
    acceptance), on ``data``."""
    if result is not None:
        state, postprocess = result.detector_state, result.postprocess
    model = detector.model
    if state is not None:
        model = copy.deepcopy(model)
        model.load_state_dict(state)
        model.eval()
    h = _lower(model, data.windows, None, detector.device)
    outputs = _outputs(model, h, None, detector.device, detector.hop)
    d = with_postprocess(detector, postprocess or {})
    if result is not None and result.verifier_state is not None and d.verifier is not None:
        v = copy.deepcopy(d.verifier)
        v.load_state_dict(result.verifier_state)
        d = with_verifier(d, v.eval(), accept=(result.verifier_meta or {}).get(
            "postprocess", {}).get("accept"))
    return score_detector(d, data, outputs)


def with_postprocess(detector: Detector, postprocess: dict) -> Detector:
    """A shallow copy of ``detector`` with other event post-processing (same model)."""
    d = copy.copy(detector)
    d.postprocess = {**detector.postprocess, **postprocess}
    return d


def choose_threshold(detector: Detector, take: EvalSet, take_outputs: Sequence,
                     replay: EvalSet, replay_outputs: Sequence, *,
                     base_replay_outputs: Sequence,
                     candidates: Sequence[float]) -> tuple[dict, list[dict]]:
    """The click threshold for a microphone, chosen on the take's training windows.

    A microphone can leave clicks less sure to the click head than line-in; its
    threshold (``postprocess["threshold"]``) may then be lowered, but only where
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
    base_t = float(detector.postprocess["threshold"])
    ref = score_detector(detector, replay, base_replay_outputs)["event_f1"]
    base_false = score_detector(detector, take, take_outputs)["false_per_min_clean"]
    budget = max(FALSE_BUDGET, base_false) if np.isfinite(base_false) else FALSE_BUDGET
    table, best = [], None
    for t in sorted({base_t, *map(float, candidates)}, reverse=True):
        d = with_postprocess(detector, {"threshold": t})
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
    return {**detector.postprocess, "threshold": chosen}, table


# ----------------------------------------------------------------------------- verifier
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


def _verifier_meta(detector: Detector) -> dict:
    """The base verifier bundle's meta.json (what a profile's verifier is made from)."""
    folder = detector.verifier_folder
    try:
        return json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, TypeError, ValueError):
        return {"name": "verifier", "version": "?"}


def _take_rows(e: Examples, idx: np.ndarray) -> Examples:
    return Examples(*(getattr(e, f)[idx] for f in Examples.__dataclass_fields__))


def _finetune_verifier(detector: Detector, take_set: TakeSet, replay: ExampleSet,
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
        _check_cancel(cancel)
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


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """What :func:`finetune` did.

    Attributes
    ----------
    before, after : dict
        ``{"take": metrics, "base_val": metrics}``: :func:`score_detector`'s
        dicts plus ``grade_accuracy`` (the grader's window accuracy).
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
        The take and its sets (:meth:`TakeSet.info`).
    postprocess : dict
        The fine-tuned detector's event post-processing (meta.json ``postprocess``):
        the base one, with the click threshold chosen for this microphone.
    threshold_selection : list of dict
        Each candidate threshold with its scores (:func:`choose_threshold`).
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
    postprocess: dict = field(default_factory=dict)
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


class _Clock:
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
        Base data for replay and validation (``auto``: :func:`default_corpus`);
        None: synthetic music with simulated damage.

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
    clock = _Clock(progress)
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
    _check_cancel(cancel)

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
        cached.append(_lower(model, s, start, device, cancel=cancel,
                             progress=features_progress(done, len(s))))
        done += len(s)
    h_take, h_replay, h_held, h_val = cached
    timings["features_s"] = time.perf_counter() - t1

    before = {"take": score_detector(detector, take_set.held_out,
                                     _outputs(model, h_held, start, device, hop)),
              "base_val": score_detector(detector, val, _outputs(model, h_val, start, device,
                                                                 hop))}

    # --- detector training
    t2 = time.perf_counter()
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
        base_out = [_upper(model, h_replay[i:i + 16].to(device), start)
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
        _check_cancel(cancel)
        parts = [rows(take_set.train, h_take, rng.choice(len(take_set.train), n_take))]
        if n_replay:
            ridx = rng.choice(len(replay), n_replay)
            parts.append(rows(replay, h_replay, ridx))
        h = torch.cat([p[0] for p in parts]).to(device)
        cls, noise, nk, counts = (torch.cat([p[i] for p in parts]).to(device)
                                  for i in range(1, 5))
        ft = {k: torch.cat([p[5][k] for p in parts]).to(device) for k in FRAME_KEYS}
        window, frame = _upper(model, h, start)
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
    timings["train_s"] = time.perf_counter() - t2

    # --- the click threshold for this microphone, then the evaluation
    t3 = time.perf_counter()
    clock.report("eval", 0.0, "choosing the click threshold")
    postprocess, selection = dict(detector.postprocess), []
    if config.thresholds and g == "NM":
        postprocess, selection = choose_threshold(
            detector, take_set.train.as_eval("take-train"),
            _outputs(model, h_take, start, device, hop), replay.as_eval(replay_source),
            _outputs(model, h_replay, start, device, hop), base_replay_outputs=[
                o for w, f in base_out for o in decode(w, f, hop=hop)],
            candidates=config.thresholds)
    tuned = with_postprocess(detector, postprocess)
    timings["eval_s"] = time.perf_counter() - t3

    # --- the click verifier (events come from it when the detector has one)
    t5 = time.perf_counter()
    verifier_state, verifier_meta = None, None
    if detector.verifier is not None and config.verifier_steps > 0:
        clock.report("train", 0.0, "fine-tuning the click verifier")
        verifier_state = _finetune_verifier(detector, take_set, replay, config, device,
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
                _outputs(model, h_take, start, device, hop), replay.as_eval(replay_source),
                _outputs(model, h_replay, start, device, hop), candidates=config.accepts)
            tuned = with_verifier(tuned, accept=accept)
        verifier_meta = _verifier_meta(detector)
        verifier_meta["postprocess"] = {**verifier_meta.get("postprocess", {}),
                                        "accept": tuned.accept}
        verifier_meta.setdefault("metrics", {})["accept_selection"] = accept_selection
    timings["verifier_s"] = time.perf_counter() - t5
    t3 = time.perf_counter()
    clock.report("eval", 0.2, "evaluating")
    after = {"take": score_detector(tuned, take_set.held_out,
                                    _outputs(model, h_held, start, device, hop)),
             "base_val": score_detector(tuned, val, _outputs(model, h_val, start, device,
                                                             hop))}
    timings["eval_s"] += time.perf_counter() - t3

    # --- grader head
    t4 = time.perf_counter()
    grader_state, grader_kept = None, None
    if grader is not None and config.grader_steps > 0:
        grader_state, gb, ga, grader_kept = _finetune_grader(
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


def _finetune_grader(grader: LearnedGrader, take_set: TakeSet, replay: ExampleSet,
                     val: EvalSet, config: FinetuneConfig, device, *,
                     cancel: threading.Event | None, clock: _Clock):
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
        _check_cancel(cancel)
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

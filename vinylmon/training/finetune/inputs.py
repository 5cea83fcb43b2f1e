"""What fine-tuning takes in: a take, a grade, a configuration.

:func:`check_grade` and :func:`as_take` refuse a bad grade or take with a clear
error; :class:`FinetuneConfig` refuses bad settings; :func:`default_corpus` finds
the base data.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vinylmon.audio.types import ANALYSIS_RATE, to_stereo
from vinylmon.errors import AudioDataError, Cancelled, VinylmonError
from vinylmon.grading.rubric import GRADES

SR = ANALYSIS_RATE
#: Takes the command line and the GUI accept (seconds).
MIN_TAKE_S = 60.0
MAX_TAKE_S = 300.0
#: Grade names a user may give, to GRADING.md's grades (M is NM, P is F).
GRADE_ALIASES = {"M": "NM", "P": "F"}
#: The checkout's root, where the scripts keep ``cache/`` (an installed vinylmon has
#: none there: ``$VINYLMON_CACHE`` then).
CHECKOUT = Path(__file__).resolve().parents[3]


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
    """What :func:`~vinylmon.training.finetune.run.finetune` does and how long it takes.

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
        Candidate click thresholds for this microphone
        (:func:`~vinylmon.training.finetune.scoring.choose_threshold`; NM takes only); empty: the
        base post-processing is kept.
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
        Candidate verifier acceptances for this microphone
        (:func:`~vinylmon.training.finetune.scoring.choose_accept`; NM takes only).
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


def check_cancel(cancel: threading.Event | None) -> None:
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
    return np.ascontiguousarray(to_stereo(x))


def read_take(path: str | os.PathLike, *, min_s: float | None = None,
              max_s: float | None = None) -> tuple[np.ndarray, str | None]:
    """A calibration take from a file: ``(2, frames)`` float32 at 44.1 kHz, and a note
    for the user when it was cut (None otherwise).

    Shorter than ``min_s`` (default :data:`MIN_TAKE_S`) is an error; longer than
    ``max_s`` (default :data:`MAX_TAKE_S`) is cut to its first ``max_s``.

    Raises
    ------
    AudioFileError
        Missing or unreadable file.
    AudioDataError
        NaN samples, too short.
    """
    from vinylmon.audio.io import audio_info, load

    min_s = MIN_TAKE_S if min_s is None else min_s
    max_s = MAX_TAKE_S if max_s is None else max_s
    info = audio_info(path)
    if info.duration_s < min_s:
        raise AudioDataError(f"{path}: the take is {info.duration_s:.1f} s long; fine-tuning "
                             f"needs at least {min_s:.0f} s (1-3 minutes of a record)")
    duration, note = None, None
    if info.duration_s > max_s:
        duration = max_s
        note = f"{path}: the take is {info.duration_s:.0f} s long; using its first {max_s:.0f} s"
    x = np.asarray(load(path, duration_s=duration).samples, dtype=np.float32)
    return np.ascontiguousarray(to_stereo(x)), note

"""The data sets of fine-tuning: training examples with their targets
(:class:`ExampleSet`), evaluation excerpts (:class:`Excerpt`, :class:`EvalSet`) and
a take's sets (:class:`TakeSet`); :mod:`vinylmon.training.finetune.data` builds them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vinylmon.training.corpus import Clip


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
        What was injected (:data:`~vinylmon.training.finetune.data.INJECTIONS`), or ``replay``.
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
    """:func:`~vinylmon.training.finetune.data.build_take_set`'s result: training examples and the
    held-out excerpts."""

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

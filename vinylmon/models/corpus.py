"""Read the simulator corpus (``scripts/make_corpus.py``) and derive training targets.

Everything here is numpy and soundfile; the training and evaluation scripts turn
the arrays into tensors. Targets follow GRADING.md: levels are dB re the program
level L, c counts impulses at or above L - 10 dB, k those below.

Window classes (the detector's :data:`~vinylmon.models.detector.CLASSES`) are
the rubric applied to one window, naming the defect that limits it:

- the window's own c (clicks per minute), k (crackle per second, counting only
  ticks at or above :data:`AUDIBLE_DB`, since fainter ticks under music are part
  of the bed to a listener), the excerpt's n, whether a repeating-scratch tick
  or a skip falls in the window;
- each criterion gets the rubric grade it alone would give; the worst wins, ties
  going to scratch, click, crackle, noise in that order; a window that is NM on
  every criterion is ``clean``. A skip counts as ``scratch`` (a groove defect
  that repeats with the revolution).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from vinylmon.rubric import (
    CLICK_FLOOR_DB,
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    grade_below,
)

KINDS = ("click", "pop", "crackle", "scratch")
#: Frame targets: impulses at or above this (dB re the window's level) are
#: "detectable" positives; fainter ones (down to the corpus's -50 dB count floor)
#: are neither positive nor negative: under music they are not there to be heard.
DETECTABLE_DB = -30.0
#: Window classes count crackle ticks at or above this level.
AUDIBLE_DB = -40.0
#: Click targets ignore frames whose loudest impulse is just under the c boundary.
CLICK_MARGIN_DB = 3.0
WINDOW_CLASSES = ("clean", "click", "crackle", "scratch", "noise")


@dataclass(frozen=True, eq=False)
class Clip:
    """One corpus excerpt and its truth.

    ``starts``/``ends`` are impulse sample spans; ``channel`` -1 means both;
    ``peak_db`` re L; ``scratch_tick`` marks ticks of trains of >= 3 revolutions.
    """

    id: str
    split: str
    path: Path
    frames: int
    sample_rate: int
    grade: str
    surface_noise_db: float
    drum_heavy: bool
    silent_windows: tuple[int, ...]
    skip_times_s: tuple[float, ...]
    starts: np.ndarray
    ends: np.ndarray
    channel: np.ndarray
    peak_db: np.ndarray
    kind: np.ndarray
    scratch_tick: np.ndarray
    row: dict

    @property
    def grade_index(self) -> int:
        return GRADES.index(self.grade)

    def read(self, start: int = 0, frames: int | None = None) -> np.ndarray:
        """Audio ``(2, frames)`` float32 from sample ``start``."""
        n = self.frames - start if frames is None else frames
        x, _ = sf.read(self.path, start=start, frames=n, dtype="float32", always_2d=True)
        x = x.T
        if x.shape[1] < n:
            x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
        return np.ascontiguousarray(x)


def load_split(root: str | Path, split: str) -> list[Clip]:
    """All clips of one split, sorted by id."""
    root = Path(root)
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such corpus split (run scripts/make_corpus.py)")
    clips = []
    for meta_path in sorted(folder.glob("*.json")):
        row = json.loads(meta_path.read_text())
        z = np.load(root / row["truth_impulses"])
        trains = {s["id"] for s in row["scratches"] if s["count"] >= 3}
        sid = z["scratch_id"]
        clips.append(Clip(
            id=row["id"], split=split, path=root / row["audio"], frames=int(row["frames"]),
            sample_rate=int(row["sample_rate"]), grade=row["grade"],
            surface_noise_db=float(row["surface_noise_db"]), drum_heavy=bool(row["drum_heavy"]),
            silent_windows=tuple(row["silent_windows"]),
            skip_times_s=tuple(float(s["time_s"]) for s in row["skips"]),
            starts=z["start"].astype(np.int64), ends=z["end"].astype(np.int64),
            channel=z["channel"].astype(np.int8), peak_db=z["peak_db"].astype(np.float32),
            kind=z["kind"].astype(np.int8),
            scratch_tick=np.isin(sid, list(trains)) & (sid >= 0), row=row))
    return clips


def window_class(clip: Clip, start: int, frames: int) -> int:
    """The class (index into WINDOW_CLASSES) of samples ``[start, start+frames)``."""
    sr = clip.sample_rate
    dur_s = frames / sr
    inside = (clip.starts >= start) & (clip.starts < start + frames)
    scratch = bool((inside & clip.scratch_tick).any()) or any(
        start <= t * sr < start + frames for t in clip.skip_times_s)
    loud = inside & (clip.peak_db >= CLICK_FLOOR_DB)
    crackle = inside & (clip.peak_db < CLICK_FLOOR_DB) & (clip.peak_db >= AUDIBLE_DB)
    c = loud.sum() / (dur_s / 60)
    k = crackle.sum() / dur_s
    severity = {
        3: 5 if scratch else 0,  # a scratch or skip is never better than the worst of the rest
        1: grade_below(c, CLICK_LIMITS, inclusive=False),
        2: grade_below(k, CRACKLE_LIMITS, inclusive=False),
        4: grade_below(clip.surface_noise_db, NOISE_LIMITS, inclusive=True),
    }
    worst = max(severity.values())
    if worst == 0:
        return 0
    for cls in (3, 1, 2, 4):
        if severity[cls] == worst:
            return cls
    raise AssertionError("unreachable")


def frame_targets(clip: Clip, start: int, frames: int, *, hop: int, n_frames: int,
                  offset_db: float = 0.0) -> dict[str, np.ndarray]:
    """Per-frame targets for samples ``[start, start+frames)``.

    Frame f covers samples ``[f*hop - hop/2, f*hop + hop/2)`` of the window.
    ``offset_db`` is added to the truth's levels (re the excerpt's L), e.g. the
    excerpt's L minus the window's level, for targets re the window's level.

    Returns
    -------
    dict with, each shape (n_frames,):
        ``impulse`` (0/1), ``impulse_mask`` (1 where the target counts),
        ``click`` (0/1), ``click_mask``, ``level_db`` (loudest impulse, dB re L;
        -inf where none).
    """
    imp = np.zeros(n_frames, np.float32)
    faint = np.zeros(n_frames, bool)
    level = np.full(n_frames, -np.inf, np.float32)
    sel = (clip.ends > start) & (clip.starts < start + frames)
    for s, e, p in zip(clip.starts[sel] - start, clip.ends[sel] - start,
                       clip.peak_db[sel] + offset_db, strict=True):
        f0 = max(0, (int(s) + hop // 2) // hop)
        f1 = min(n_frames - 1, (int(e) - 1 + hop // 2) // hop)
        if f1 < f0:
            continue
        if p >= DETECTABLE_DB:
            imp[f0:f1 + 1] = 1
            level[f0:f1 + 1] = np.maximum(level[f0:f1 + 1], p)
        else:
            faint[f0:f1 + 1] = True
    click = (level >= CLICK_FLOOR_DB).astype(np.float32)
    near = (level < CLICK_FLOOR_DB) & (level >= CLICK_FLOOR_DB - CLICK_MARGIN_DB)
    return {"impulse": imp, "impulse_mask": (~faint | (imp > 0)).astype(np.float32),
            "click": click, "click_mask": (~near).astype(np.float32), "level_db": level}


def window_counts(clip: Clip, start: int, frames: int, *,
                  offset_db: float = 0.0) -> tuple[int, int]:
    """Impulses starting in the window: (click-loud, all counted); levels + ``offset_db``."""
    inside = (clip.starts >= start) & (clip.starts < start + frames)
    loud = clip.peak_db + offset_db >= CLICK_FLOOR_DB
    return int((inside & loud).sum()), int(inside.sum())


def level_offset_db(clip: Clip, audio: np.ndarray) -> float:
    """The excerpt's program level minus this window's level (dB): the term that
    turns levels re the excerpt's L into levels re the window's own."""
    level = 10 * np.log10(float(np.mean(np.square(audio, dtype=np.float64))) + 1e-12)
    return float(clip.row["program_level_dbfs"]) - level

"""Read the simulator corpus (``scripts/make_corpus.py``) and derive training targets.

Everything here is numpy and soundfile; the training and evaluation scripts turn
the arrays into tensors. Targets follow GRADING.md: levels are dB re the program
level L, c counts impulses at or above L - 10 dB, k those below.

Window classes (:data:`~vinylmon.grading.events.WINDOW_CLASSES`) are
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from vinylmon.grading.events import KINDS
from vinylmon.grading.rubric import (
    CLICK_FLOOR_DB,
    CLICK_LIMITS,
    CRACKLE_LIMITS,
    GRADES,
    NOISE_LIMITS,
    grade_below,
)

#: Frame targets: impulses at or above this (dB re the window's level) are
#: "detectable" positives; fainter ones (down to the corpus's -50 dB count floor)
#: are neither positive nor negative: under music they are not there to be heard.
DETECTABLE_DB = -30.0
#: Window classes count crackle ticks at or above this level.
AUDIBLE_DB = -40.0
#: Click targets ignore frames whose loudest impulse is just under the c boundary.
CLICK_MARGIN_DB = 3.0


@dataclass(frozen=True, eq=False)
class Clip:
    """One corpus excerpt and its truth.

    ``starts``/``ends`` are impulse sample spans; ``channel`` -1 means both;
    ``peak_db`` re L; ``scratch_tick`` marks ticks of trains of >= 3 revolutions.
    ``audio`` (2, frames), when set, is the excerpt held in memory
    (:func:`clip_from_truth`); otherwise :meth:`read` reads ``path``.
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
    #: How far each impulse stands over the music above 8 kHz (dB); NaN where unknown.
    detect_db: np.ndarray | None = field(default=None, repr=False)
    #: Each impulse's scratch train (the truth's ``scratch_id``), -1 for none; None
    #: where unknown.
    scratch_id: np.ndarray | None = field(default=None, repr=False)
    audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def grade_index(self) -> int:
        return GRADES.index(self.grade)

    def read(self, start: int = 0, frames: int | None = None) -> np.ndarray:
        """Audio ``(2, frames)`` float32 from sample ``start``."""
        n = self.frames - start if frames is None else frames
        if self.audio is not None:
            x = np.asarray(self.audio[:, start:start + n], dtype=np.float32)
        else:
            x, _ = sf.read(self.path, start=start, frames=n, dtype="float32", always_2d=True)
            x = x.T
        if x.shape[1] < n:
            x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
        return np.ascontiguousarray(x)


def load_split(root: str | Path, split: str) -> list[Clip]:
    """All clips of one split, sorted by id."""
    return [load_clip(root, p, split=split) for p in split_files(root, split)]


def split_files(root: str | Path, split: str) -> list[Path]:
    """The manifest rows (``<split>/<id>.json``) of one split, sorted by id."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such corpus split (run scripts/make_corpus.py)")
    return sorted(folder.glob("*.json"))


def load_clip(root: str | Path, meta_path: str | Path, *, split: str | None = None) -> Clip:
    """One clip from its manifest row (a path from :func:`split_files`); ``split``
    defaults to the row's."""
    root = Path(root)
    row = json.loads(Path(meta_path).read_text())
    z = np.load(root / row["truth_impulses"])
    trains = {s["id"] for s in row["scratches"] if s["count"] >= 3}
    sid = z["scratch_id"]
    return Clip(
        id=row["id"], split=split or row["split"], path=root / row["audio"],
        frames=int(row["frames"]),
        sample_rate=int(row["sample_rate"]), grade=row["grade"],
        surface_noise_db=float(row["surface_noise_db"]), drum_heavy=bool(row["drum_heavy"]),
        silent_windows=tuple(row["silent_windows"]),
        skip_times_s=tuple(float(s["time_s"]) for s in row["skips"]),
        starts=z["start"].astype(np.int64), ends=z["end"].astype(np.int64),
        channel=z["channel"].astype(np.int8), peak_db=z["peak_db"].astype(np.float32),
        kind=z["kind"].astype(np.int8),
        scratch_tick=np.isin(sid, list(trains)) & (sid >= 0), row=row,
        detect_db=z["detect_db"].astype(np.float32) if "detect_db" in z.files
        else np.full(len(z["start"]), np.nan, np.float32), scratch_id=sid.astype(np.int64))


def clip_from_truth(truth, audio: np.ndarray, *, id: str = "memory", split: str = "memory",
                    surface_noise_db: float | None = None) -> Clip:
    """A :class:`Clip` held in memory, from the simulator's output (no files).

    The same truth that ``scripts/make_corpus.py`` writes to a corpus clip, so the
    target functions of this module give what they give for that clip.

    Parameters
    ----------
    truth : vinylmon.simulate.Truth
    audio : np.ndarray, shape (2, truth.frames)
        The damaged audio (``Damaged.audio``).
    id, split : str, keyword-only
    surface_noise_db : float or None, keyword-only
        Overrides the truth's n (e.g. -inf where the record's own noise is not known
        and must not decide the window class).
    """
    imps = truth.impulses
    trains = {s.id for s in truth.scratches if s.count >= 3}
    sid = np.array([-1 if i.scratch_id is None else i.scratch_id for i in imps], np.int64)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != 2 or x.shape[1] != truth.frames:
        raise ValueError(f"audio must be (2, {truth.frames}), got {x.shape}")
    noise = truth.surface_noise_db if surface_noise_db is None else surface_noise_db
    return Clip(
        id=id, split=split, path=Path(f"<memory:{id}>"), frames=int(truth.frames),
        sample_rate=int(truth.sample_rate), grade=truth.grade.grade,
        surface_noise_db=float(noise), drum_heavy=False,
        silent_windows=tuple(truth.silent_windows),
        skip_times_s=tuple(float(s.time_s) for s in truth.skips),
        starts=np.array([i.start for i in imps], np.int64),
        ends=np.array([i.end for i in imps], np.int64),
        channel=np.array([-1 if i.channel is None else i.channel for i in imps], np.int8),
        peak_db=np.array([i.peak_db for i in imps], np.float32),
        kind=np.array([KINDS.index(i.kind) for i in imps], np.int8),
        scratch_tick=np.isin(sid, list(trains)) & (sid >= 0),
        row={"program_level_dbfs": float(truth.program_level_dbfs)}, audio=x, scratch_id=sid)


def window_class(clip: Clip, start: int, frames: int) -> int:
    """The class (index into WINDOW_CLASSES) of samples ``[start, start+frames)``."""
    return window_severity(clip, start, frames)[1]


def window_severity(clip: Clip, start: int, frames: int) -> tuple[int, int]:
    """The rubric grade (index into GRADES) the window's worst criterion gives, and
    the window class (index into WINDOW_CLASSES) it names."""
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
        return 0, 0
    for cls in (3, 1, 2, 4):
        if severity[cls] == worst:
            return worst, cls
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

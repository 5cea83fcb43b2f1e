"""Building the data sets of fine-tuning (:mod:`vinylmon.training.finetune.sets`): the
take's training windows and held-out excerpts with injected damage
(:func:`build_take_set`), replay of the base training data (:func:`build_replay`), base
validation data (:func:`build_validation`), and synthetic music for tests and
benchmarks (:func:`synthetic_take`)."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.types import rms_db
from vinylmon.errors import AudioDataError
from vinylmon.grading.rubric import GRADES, RPMS
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
from vinylmon.training.evaluation import window_truth
from vinylmon.training.finetune.inputs import (
    SR,
    FinetuneConfig,
    as_take,
    check_cancel,
    check_grade,
)
from vinylmon.training.finetune.sets import EvalSet, ExampleSet, Excerpt, TakeSet
from vinylmon.training.loops import FRAME_KEYS, UNKNOWN_CLASS, make_example

#: Kinds of injected damage; ``as is`` is the take's window untouched.
INJECTIONS = ("as is", "clicks", "crackle", "scratch", "mixed")


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
        check_cancel(cancel)
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
        check_cancel(cancel)
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
            check_cancel(cancel)
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
            check_cancel(cancel)
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

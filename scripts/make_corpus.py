#!/usr/bin/env python3
"""Build the training corpus: real music with simulated damage and exact truth.

Splits are by song (never by window of one song), stratified per package, about
80/10/10 of the music's duration. Drum kits and real noise recordings are split
too, so validation and test hear drums and noise the training never heard.

Two more splits hold clean control music: ``control`` (``control_val``) has NM
excerpts of the test (val) songs at other offsets, half of them with drums mixed
in (--control-per-song).

Each clip is a 30-s stereo 44.1 kHz excerpt damaged by a random spec aimed at a
grade (grades taken in turn, so the corpus is balanced over grades; the limiting
defect is random among those that can give the grade). Hard negatives: a share
of clips get real drum hits (hi-hats, rimshots, claps, snares from
hydrogen-drumkits) mixed into the music on a tempo grid, part of the *clean*
music, and NM clips prefer the most percussive excerpt of a song; every clip
records a drum score and ``drum_heavy``.

Output (never committed), under --out (default cache/corpus):
  <split>/<id>.flac   damaged audio, PCM_24
  <split>/<id>.npz    truth impulses: start, end (samples), channel (-1 both),
                      kind, peak_db (re L), scratch_id (-1 none), source,
                      detect_db (how far it stands over the music above 8 kHz)
  <split>/<id>.json   the clip's manifest row (resume: existing clips are kept)
  manifest.jsonl      all rows, sorted by id
  summary.json        clips, hours, grades, limiting criteria per split; speed

Deterministic from --seed. Run scripts/get_music.sh first.

    python scripts/make_corpus.py [--out cache/corpus] [--jobs 2] [--spacing-s 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from vinylmon.audio import load
from vinylmon.errors import VinylmonError
from vinylmon.grading.rubric import GRADES
from vinylmon.simulate import NoiseBank, program_level, random_spec, simulate

SR = 44100
CLIP_S = 30.0
MARGIN_S = 3.0  # extra music for skips that lose a groove
SPLITS = ("train", "val", "test")
#: Clean control music: NM excerpts of the test (val) songs at other offsets, half with
#: drums: split name -> the split whose songs, kits and noise it uses. control_tune:
#: val songs at other offsets again, every one with drums from kits no split has
#: (``--tune-drums``, scripts/get_tune_kits.py): more kits for the false alarms that
#: settings are chosen on than val's two.
CONTROLS = {"control": "test", "control_val": "val", "control_tune": "val"}
#: Controls whose drums come from ``--tune-drums`` (all its kits), each excerpt with some.
TUNE_CONTROLS = ("control_tune",)
KINDS = ("click", "pop", "crackle", "scratch")
SOURCES = ("synthetic", "real bed", "skip")
#: Real noise recordings held out of training (by name prefix).
HELD_OUT_NOISE = {"val": {"vinyl5", "hum5", "machine9", "machine10"},
                  "test": {"vinyl3", "hum3", "machine6", "machine11"}}
DRUM_HEAVY_ONSETS_PER_S = 2.5
DRUM_NAMES = {
    "hat": r"hat|hh|chh|ohh|hihat",
    "rim": r"rim|stick|rs\b|side",
    "clap": r"clap|hand",
    "snare": r"snare|\bsn|sd\b|snr",
    "cymbal": r"crash|ride|cymbal|china|splash|\bcc|\brc|\brd",
    "perc": r"shaker|tamb|clave|cowbell|bell|cajon|bongo|conga|agogo|djembe",
}


@dataclass(frozen=True)
class Job:
    id: str
    split: str
    song: str
    package: str
    offsets_s: tuple[float, ...]  # candidates; the most percussive is used for NM
    grade: str
    drums: bool
    seed: int


def music_inventory(music_dir: Path, min_s: float) -> list[tuple[str, str, float]]:
    out = []
    for path in sorted(music_dir.rglob("*")):
        if path.suffix.lower() not in (".ogg", ".flac", ".wav", ".mp3", ".opus"):
            continue
        try:
            dur = sf.info(str(path)).duration
        except RuntimeError:
            continue
        if dur >= min_s:
            out.append((str(path), path.relative_to(music_dir).parts[0], dur))
    return out


def split_songs(songs, rng) -> dict[str, str]:
    """Per package, songs shuffled and cut at 10 % / 20 % of its duration."""
    assign = {}
    for pkg in sorted({p for _, p, _ in songs}):
        mine = [s for s in songs if s[1] == pkg]
        order = rng.permutation(len(mine))
        total = sum(d for _, _, d in mine)
        acc = 0.0
        for i in order:
            path, _, dur = mine[i]
            frac = acc / total
            assign[path] = "test" if frac < 0.1 else "val" if frac < 0.2 else "train"
            acc += dur
    return assign


def drum_kits(drum_dir: Path) -> list[Path]:
    """The kit folders under ``drum_dir``, sorted (none when it is missing)."""
    return sorted(p for p in drum_dir.iterdir() if p.is_dir()) if drum_dir.is_dir() else []


def kit_hits(kit: Path) -> list[tuple[str, str]]:
    """A kit's one-shots, each with its kind by name."""
    out = []
    for f in sorted(kit.rglob("*")):
        if f.suffix.lower() not in (".wav", ".flac", ".aif", ".aiff"):
            continue
        if "empty" in f.name.lower():
            continue
        name = f.stem.lower().replace("_", " ").replace("-", " ")
        kind = next((k for k, pat in DRUM_NAMES.items() if re.search(pat, name)), "other")
        out.append((str(f), kind))
    return out


def drum_inventory(drum_dir: Path, rng) -> dict[str, list[tuple[str, str]]]:
    """Drum one-shots by split (kits are split), each with its kind by name."""
    kits = drum_kits(drum_dir)
    order = [kits[i] for i in rng.permutation(len(kits))]
    by_split: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for i, kit in enumerate(order):
        split = "test" if i < 2 else "val" if i < 4 else "train"
        by_split[split] += kit_hits(kit)
    return by_split


def drum_score(x: np.ndarray) -> float:
    """Sharp high-frequency onsets per second (hi-hats, snares, rimshots)."""
    sos = signal.butter(4, 5000, btype="highpass", fs=SR, output="sos")
    hp = signal.sosfilt(sos, x.mean(axis=0))
    hop = int(0.01 * SR)
    frames = hp[: hp.size // hop * hop].reshape(-1, hop)
    e = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    base = signal.medfilt(e, 21)
    rises = (e - base > 9) & (np.diff(e, prepend=e[0]) > 6)
    return float(rises.sum() / (x.shape[1] / SR))


def insert_drums(x: np.ndarray, rng, pool: list[tuple[str, str]], level_db: float,
                 cache: dict) -> list[dict]:
    """Mix drum hits into clean music on a tempo grid; returns what was added."""
    if not pool:
        return []
    sharp = [p for p in pool if p[1] in ("hat", "rim", "clap", "snare", "perc")] or pool
    bpm = rng.uniform(80, 170)
    step = 60.0 / bpm / 2  # eighth notes
    density = rng.uniform(0.3, 0.9)
    kit = [sharp[int(rng.integers(0, len(sharp)))] for _ in range(3)]
    added = []
    t = rng.uniform(0, step)
    while t < x.shape[1] / SR - 0.5:
        if rng.random() < density:
            path, kind = kit[int(rng.integers(0, len(kit)))]
            if path not in cache:
                cache[path] = load(path, max_channels=1).samples[0].astype(np.float64)
            hit = cache[path]
            hit = hit / (np.abs(hit).max() + 1e-12)
            peak_db = rng.uniform(-12, 6)
            amp = 10 ** ((level_db + peak_db) / 20)
            pan = rng.uniform(0.3, 1.0)
            s = int(t * SR)
            n = min(hit.size, x.shape[1] - s)
            x[0, s:s + n] += amp * pan * hit[:n]
            x[1, s:s + n] += amp * (1.3 - pan) * hit[:n]
            added.append({"time_s": round(t, 4), "kind": kind, "peak_db": round(peak_db, 2)})
        t += step
    return added


DETECT_HZ = 8000.0
DETECT_CONTEXT_S = 0.010


def detectability_db(damaged, impulses) -> np.ndarray:
    """How far each impulse stands over the music above 8 kHz, in dB.

    The mean power of the high-passed impulsive damage over the impulse's span,
    over the mean power of the high-passed clean music within +-10 ms of it, in
    the impulse's channel (the louder of the two when it is in both); both as
    cut in the groove, before any microphone path. A real bed's tick (its
    samples are in the bed, not the impulse layer) gets -inf.
    """
    sos = signal.butter(4, DETECT_HZ, btype="highpass", fs=SR, output="sos")
    dmg = signal.sosfilt(sos, damaged.impulses.astype(np.float64), axis=1)
    mus = signal.sosfilt(sos, damaged.clean.astype(np.float64), axis=1)
    ctx = int(DETECT_CONTEXT_S * SR)
    out = np.zeros(len(impulses), np.float32)
    n = dmg.shape[1]
    for i, imp in enumerate(impulses):
        a, b = imp.start, max(imp.end, imp.start + 1)
        rows = [0, 1] if imp.channel is None else [imp.channel]
        best = -np.inf
        for r in rows:
            e = np.mean(dmg[r, a:b] ** 2)
            m = np.mean(mus[r, max(0, a - ctx):min(n, b + ctx)] ** 2)
            best = max(best, 10 * np.log10((e + 1e-30) / (m + 1e-30)))
        out[i] = best
    return out


_BANKS: dict[str, NoiseBank] = {}
_DRUMS: dict[str, list] = {}
_DRUM_CACHE: dict = {}


def _init(drums: dict, noise_dir: str | None) -> None:
    _DRUMS.update(drums)
    for split in SPLITS:
        held = set().union(*(v for k, v in HELD_OUT_NOISE.items() if k != split))
        _BANKS[split] = NoiseBank(noise_dir, exclude=held)
    for name, of in CONTROLS.items():
        _BANKS[name] = _BANKS[of]
        if name not in TUNE_CONTROLS:
            _DRUMS[name] = _DRUMS.get(of, [])


def make_clip(job: Job, out: str) -> dict:
    folder = Path(out) / job.split
    row_path = folder / f"{job.id}.json"
    if row_path.exists() and (folder / f"{job.id}.flac").exists():
        return json.loads(row_path.read_text())
    rng = np.random.default_rng(job.seed)
    t0 = time.perf_counter()
    candidates = []
    for off in job.offsets_s:
        x = load(job.song, start_s=off, duration_s=CLIP_S + MARGIN_S).samples.astype(np.float64)
        if x.shape[0] == 1:
            x = np.repeat(x, 2, axis=0)
        candidates.append((drum_score(x[:, : int(CLIP_S * SR)]), off, x))
    if job.grade == "NM":
        score, off, x = max(candidates, key=lambda c: c[0])
    else:
        score, off, x = candidates[0]
    level, _ = program_level(x[:, : int(CLIP_S * SR)], sample_rate=SR)
    if not np.isfinite(level) or x.shape[1] < int(CLIP_S * SR):
        return {"id": job.id, "split": job.split, "skipped": "silent or short excerpt"}
    drums = insert_drums(x, rng, _DRUMS.get(job.split, []), level, _DRUM_CACHE) \
        if job.drums else []
    bank = _BANKS[job.split]
    attempts = 0
    while True:  # aim at the grade: redraw a spec that missed it, 3 tries
        attempts += 1
        spec = random_spec(rng, duration_s=CLIP_S, grade=job.grade)
        damaged = simulate(x, spec, sample_rate=SR, duration_s=CLIP_S, bank=bank)
        if damaged.truth.grade.grade == job.grade or attempts == 3:
            break
    truth = damaged.truth
    detect = detectability_db(damaged, truth.impulses)
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(folder / f"{job.id}.flac"), damaged.audio.T, SR, subtype="PCM_24")
    imps = truth.impulses
    np.savez_compressed(
        folder / f"{job.id}.npz",
        start=np.array([i.start for i in imps], np.int64),
        end=np.array([i.end for i in imps], np.int64),
        channel=np.array([-1 if i.channel is None else i.channel for i in imps], np.int8),
        kind=np.array([KINDS.index(i.kind) for i in imps], np.uint8),
        peak_db=np.array([i.peak_db for i in imps], np.float32),
        scratch_id=np.array([-1 if i.scratch_id is None else i.scratch_id for i in imps],
                            np.int16),
        source=np.array([SOURCES.index(i.source) for i in imps], np.uint8),
        detect_db=detect)
    t = truth.to_dict()
    t.pop("impulses")
    row = {"id": job.id, "split": job.split, "audio": f"{job.split}/{job.id}.flac",
           "truth_impulses": f"{job.split}/{job.id}.npz", "n_impulses": len(imps),
           "source": {"package": job.package, "file": os.path.basename(job.song),
                      "offset_s": off, "duration_s": CLIP_S},
           "drum_score": round(score, 3), "drum_heavy": score >= DRUM_HEAVY_ONSETS_PER_S,
           "inserted_drums": drums, "target_grade": job.grade, "attempts": attempts,
           "gen_s": round(time.perf_counter() - t0, 3), **t}
    tmp = row_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    tmp.replace(row_path)
    return row


def plan(args) -> tuple[list[Job], dict]:
    rng = np.random.default_rng(args.seed)
    songs = music_inventory(args.music, CLIP_S + MARGIN_S + 2)
    if not songs:
        sys.exit(f"no music under {args.music}: run scripts/get_music.sh first")
    assign = split_songs(songs, rng)
    drums = drum_inventory(args.drums, rng)
    jobs: list[Job] = []
    turn = {s: 0 for s in SPLITS}
    for path, pkg, dur in songs:
        split = assign[path]
        n_exc = max(1, int(dur // args.spacing_s))
        variants = args.train_variants if split == "train" else 1
        span = dur - CLIP_S - MARGIN_S - 1
        for e in range(n_exc):
            for _ in range(variants):
                lo, hi = e * span / n_exc, (e + 1) * span / n_exc
                offs = tuple(round(float(rng.uniform(lo, hi)), 3) for _ in range(3))
                grade = GRADES[turn[split] % len(GRADES)]
                turn[split] += 1
                jobs.append(Job(f"{split}-{len(jobs):05d}", split, path, pkg, offs, grade,
                                bool(rng.random() < args.drum_fraction),
                                int(rng.integers(0, 2**31 - 1))))
    # clean control music (drawn after the splits, so it changes none of their clips)
    for name, of in CONTROLS.items():
        for path, pkg, dur in songs:
            if assign[path] != of:
                continue
            span = dur - CLIP_S - MARGIN_S - 1
            for _ in range(args.control_per_song):
                offs = tuple(round(float(rng.uniform(0, span)), 3) for _ in range(3))
                drums_here = bool(rng.random() < 0.5) or name in TUNE_CONTROLS
                jobs.append(Job(f"{name}-{len(jobs):05d}", name, path, pkg, offs, "NM",
                                drums_here, int(rng.integers(0, 2**31 - 1))))
    return jobs, drums


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache = Path(os.environ.get("VINYLMON_CACHE", Path(__file__).resolve().parents[1] / "cache"))
    ap.add_argument("--music", type=Path, default=cache / "music")
    ap.add_argument("--drums", type=Path, default=cache / "drums")
    ap.add_argument("--tune-drums", type=Path, default=cache / "drums_tune",
                    help="kits for control_tune alone (scripts/get_tune_kits.py)")
    ap.add_argument("--noise-dir", default=None)
    ap.add_argument("--out", type=Path, default=cache / "corpus")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--spacing-s", type=float, default=60.0, help="one excerpt per this much song")
    ap.add_argument("--train-variants", type=int, default=2,
                    help="damage variants per train excerpt")
    ap.add_argument("--drum-fraction", type=float, default=0.25)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=None, help="only the first N clips (a quick try)")
    ap.add_argument("--control-per-song", type=int, default=2,
                    help="clean (NM) control excerpts per test (val) song, split 'control' "
                         "('control_val')")
    ap.add_argument("--splits", default=",".join(SPLITS),
                    help="comma-separated splits to build (default all; the plan, and so every "
                         "clip, is the same whichever are built)")
    args = ap.parse_args()

    jobs, drums = plan(args)
    wanted = {s.strip() for s in args.splits.split(",") if s.strip()}
    if not wanted or not wanted <= set(SPLITS) | set(CONTROLS):
        sys.exit(f"--splits: choose among {', '.join(SPLITS + tuple(CONTROLS))}")
    for name in wanted & set(TUNE_CONTROLS):
        pool = [hit for kit in drum_kits(args.tune_drums) for hit in kit_hits(kit)]
        if not pool:
            sys.exit(f"{name} needs kits under {args.tune_drums}: run scripts/get_tune_kits.py")
        drums[name] = pool
    jobs = [j for j in jobs if j.split in wanted]
    if args.limit:
        jobs = jobs[: args.limit]
    print(f"{len(jobs)} clips planned: " + ", ".join(
        f"{s} {sum(j.split == s for j in jobs)}" for s in SPLITS), flush=True)
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(drums, args.noise_dir)) as ex:
        futures = [ex.submit(make_clip, j, str(args.out)) for j in jobs]
        for i, fut in enumerate(futures, 1):
            try:
                rows.append(fut.result())
            except (VinylmonError, ValueError) as exc:
                rows.append({"id": jobs[i - 1].id, "split": jobs[i - 1].split,
                             "skipped": str(exc)})
            if i % 50 == 0 or i == len(futures):
                el = time.perf_counter() - t0
                print(f"  {i}/{len(futures)} clips, {el:.0f} s, "
                      f"{i * CLIP_S / el:.0f}x real time overall", flush=True)
    wall = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = args.out / "manifest.jsonl"
    # the rows of splits not built this time stay in the manifest
    kept = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()] \
        if manifest.exists() else []
    built = [r for r in rows if "skipped" not in r]  # this run's: its generation speed
    rows = [r for r in kept if r["split"] not in wanted] + rows
    rows.sort(key=lambda r: r["id"])
    with open(manifest, "w") as f:
        for r in rows:
            if "skipped" not in r:
                f.write(json.dumps(r) + "\n")
    done = [r for r in rows if "skipped" not in r]
    summary = {"seed": args.seed, "clip_s": CLIP_S, "wall_s": round(wall, 1), "jobs": args.jobs,
               "skipped": sum("skipped" in r for r in rows), "splits": {}}
    for s in SPLITS + tuple(CONTROLS):
        mine = [r for r in done if r["split"] == s]
        if not mine:
            continue
        summary["splits"][s] = {
            "clips": len(mine), "hours": round(len(mine) * CLIP_S / 3600, 2),
            "songs": len({(r["source"]["package"], r["source"]["file"]) for r in mine}),
            "grades": dict(Counter(r["grade"] for r in mine)),
            "limited_by": dict(Counter(str(r["limited_by"]) for r in mine)),
            "on_target": round(np.mean([r["grade"] == r["target_grade"] for r in mine]), 3),
            "drum_heavy": sum(r["drum_heavy"] for r in mine),
            "with_inserted_drums": sum(bool(r["inserted_drums"]) for r in mine),
            "mic_path": sum(r["spec"]["mic"] is not None for r in mine),
            "impulses": sum(r["n_impulses"] for r in mine),
            "disk_mb": round(sum((args.out / r["audio"]).stat().st_size for r in mine) / 1e6),
        }
    gen = [r["gen_s"] for r in built]
    summary["generation"] = {
        "clip_seconds_per_cpu_second": round(len(gen) * CLIP_S / max(sum(gen), 1e-9), 1),
        "wall_x_real_time": round(len(built) * CLIP_S / wall, 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

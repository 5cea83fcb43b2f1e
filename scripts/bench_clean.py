#!/usr/bin/env python3
"""Click repair on simulated damage whose clean reference is known: vinylmon's
``clean`` beside grooveclean's ``clean`` and FFmpeg's ``adeclick``, one table.

The clips: ``--clips`` excerpts of ``--seconds`` s of real music from the songs of the
corpus's *test* split (cache/corpus/manifest.jsonl names them; half drum-heavy, half
not; one excerpt per song, at the corpus's offset), damaged by
:func:`vinylmon.simulate.simulate` with a seeded spec: clicks and pops (15-180 per
minute, L-12..L+20 dB), crackle (0.5-5 per second, L-40..L-15 dB) and tilted hiss
(L-65..L-50 dB); no microphone path, so ``audio - impulses`` is the reference exactly
(the music and the hiss: a declicker should leave the hiss). Written as 24-bit WAV;
every tool reads that file and writes a 24-bit WAV.

Rows: vinylmon (the detector's events, as ``vinylmon clean``), vinylmon's repair on
the true spans (the interpolation alone, an upper bound for the detector), grooveclean
(its default sensitivity, ``--device cpu``), FFmpeg adeclick (its defaults).

Columns:
- SNR gain: the reference's energy over the error's (output - reference), after
  minus before, pooled over all clips (dB);
- true clicks (impulses >= L-10 dB from the simulator's truth): the share whose
  error in their span (their channel or channels) drops by >= 20 dB and >= 10 dB, and
  the median peak error left in a click's span (dB re L; the clicks' own median peak
  is in the title line);
- collateral: runs of changed samples (|output - input| > L-60 dB, runs closer than
  1 ms joined) that touch no true impulse (any level, widened by 1 ms), per minute,
  and their median peak change (dB re L);
- speed: seconds of audio per second of wall time (each tool's whole process per
  clip for grooveclean and FFmpeg, model loading included; vinylmon's engine is made
  once, its analysis and repair of each clip counted).

    python scripts/bench_clean.py                        # docs/eval/clean.md
    python scripts/bench_clean.py --grooveclean /work/bench-env/bin/grooveclean --clips 16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vinylmon.audio.io import load  # noqa: E402
from vinylmon.audio.repair import repair_file  # noqa: E402
from vinylmon.grading.rubric import CLICK_FLOOR_DB  # noqa: E402
from vinylmon.simulate import ClickSpec, CrackleSpec, DamageSpec, NoiseSpec, simulate  # noqa: E402

SR = 44100
MS = SR // 1000
CHANGE_DB = -60.0  # re L: a change smaller than this is not a change


@dataclass
class Clip:
    name: str
    drum_heavy: bool
    path: Path
    ref: np.ndarray  # (frames, 2) float64
    audio: np.ndarray  # as written and read back
    level_db: float
    impulses: list  # simulate's Impulse records


@dataclass
class Tally:
    """One tool's figures, summed over clips."""

    ref_energy: float = 0.0
    err_in: float = 0.0
    err_out: float = 0.0
    drops: list = field(default_factory=list)
    left_db: list = field(default_factory=list)
    collateral_runs: int = 0
    collateral_db: list = field(default_factory=list)
    seconds: float = 0.0
    wall_s: float = 0.0
    failed: int = 0


def pick_sources(corpus: Path, n: int) -> list[dict]:
    """One manifest row per test-split song, half drum-heavy, in a fixed order."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    songs: dict[tuple, dict] = {}
    for r in rows:
        if r["split"] == "test":
            songs.setdefault((r["source"]["package"], r["source"]["file"]), r)
    drums = [r for r in songs.values() if r["drum_heavy"]]
    other = [r for r in songs.values() if not r["drum_heavy"]]
    rng = np.random.default_rng(19)
    rng.shuffle(drums)
    rng.shuffle(other)
    k = n // 2
    return drums[:k] + other[:n - len(drums[:k])]


def make_clips(sources: list[dict], music: Path, seconds: float, folder: Path) -> list[Clip]:
    clips = []
    for i, row in enumerate(sources):
        src = row["source"]
        song = next((music / src["package"]).rglob(src["file"]))
        x = load(song, start_s=src["offset_s"], duration_s=seconds).samples
        rng = np.random.default_rng(1000 + i)
        spec = DamageSpec(
            seed=2000 + i,
            clicks=ClickSpec(rate_per_min=float(rng.uniform(15, 180)), peak_db=(-12.0, 20.0)),
            crackle=CrackleSpec(rate_per_s=float(rng.uniform(0.5, 5.0)), peak_db=(-40.0, -15.0)),
            noise=NoiseSpec(hiss_db=float(rng.uniform(-65, -50))))
        d = simulate(x, spec, duration_s=min(seconds, x.shape[1] / SR))
        path = folder / f"clip{i:02d}.wav"
        sf.write(path, d.audio.T, SR, subtype="PCM_24")
        audio, _ = sf.read(path, dtype="float64")
        ref = (d.audio - d.impulses).T.astype(np.float64)
        clips.append(Clip(f"clip{i:02d}", bool(row["drum_heavy"]), path, ref, audio,
                          d.truth.program_level_dbfs, list(d.truth.impulses)))
    return clips


def _rows(imp) -> slice:
    return slice(None) if imp.channel is None else slice(imp.channel, imp.channel + 1)


def score(clip: Clip, out: np.ndarray, t: Tally) -> None:
    """Add one clip's figures to ``t``."""
    n = min(out.shape[0], clip.audio.shape[0])
    out, audio, ref = out[:n], clip.audio[:n], clip.ref[:n]
    t.ref_energy += float(np.sum(ref ** 2))
    t.err_in += float(np.sum((audio - ref) ** 2))
    t.err_out += float(np.sum((out - ref) ** 2))
    lvl = clip.level_db
    for imp in clip.impulses:
        if imp.kind not in ("click", "pop") or imp.peak_db < CLICK_FLOOR_DB or imp.end > n:
            continue
        rows, span = _rows(imp), slice(imp.start, imp.end)
        e_in = float(np.sum((audio[span, rows] - ref[span, rows]) ** 2))
        e_out = float(np.sum((out[span, rows] - ref[span, rows]) ** 2))
        t.drops.append(10 * np.log10((e_in + 1e-30) / (e_out + 1e-30)))
        peak = float(np.max(np.abs(out[span, rows] - ref[span, rows])))
        t.left_db.append(20 * np.log10(peak + 1e-12) - lvl)
    thr = 10 ** ((lvl + CHANGE_DB) / 20)
    diff = np.max(np.abs(out - audio), axis=1)
    changed = diff > thr
    truth = np.zeros(n, dtype=bool)
    for imp in clip.impulses:
        truth[max(0, imp.start - MS):min(n, imp.end + MS)] = True
    idx = np.flatnonzero(changed)
    if idx.size:
        breaks = np.flatnonzero(np.diff(idx) > MS)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
        for a, b in zip(starts, ends, strict=True):
            if not truth[a:b].any():
                t.collateral_runs += 1
                t.collateral_db.append(20 * np.log10(float(diff[a:b].max())) - lvl)
    t.seconds += n / SR


def run_vinylmon(clips, folder: Path, t: Tally, *, oracle: bool, engine=None) -> None:
    for c in clips:
        out = folder / f"{c.name}.vinylmon{'-true' if oracle else ''}.wav"
        t0 = time.perf_counter()
        if oracle:
            events = [(i.start / SR, i.end / SR, i.channel) for i in c.impulses]
        else:
            res = engine.grade_file(c.path)
            events = [(e.start_s, e.end_s, e.channel) for e in res.state.events]
        repair_file(c.path, out, events)
        t.wall_s += time.perf_counter() - t0
        score(c, sf.read(out, dtype="float64")[0], t)


def run_tool(clips, folder: Path, t: Tally, command) -> None:
    for c in clips:
        out = folder / f"{c.name}.{command.__name__}.wav"
        t0 = time.perf_counter()
        r = subprocess.run(command(c.path, out), capture_output=True, text=True)
        t.wall_s += time.perf_counter() - t0
        if r.returncode != 0 or not out.exists():
            print(f"{command.__name__} failed on {c.name}: {r.stderr[-400:]}", file=sys.stderr)
            t.failed += 1
            continue
        score(c, sf.read(out, dtype="float64")[0], t)


def table_row(name: str, t: Tally) -> str:
    gain = 10 * np.log10(t.err_in / max(t.err_out, 1e-30))
    drops = np.array(t.drops)
    runs = t.collateral_runs / (t.seconds / 60) if t.seconds else float("nan")
    coll = f"{np.median(t.collateral_db):+.0f}" if t.collateral_db else "-"
    fail = f" ({t.failed} clips failed)" if t.failed else ""
    return (f"| {name}{fail} | {gain:+.1f} | {np.mean(drops >= 20):.0%} | "
            f"{np.mean(drops >= 10):.0%} | {np.median(t.left_db):+.1f} | {runs:.1f} | {coll} | "
            f"{t.seconds / max(t.wall_s, 1e-9):.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--corpus", type=Path, default=REPO / "cache/corpus")
    ap.add_argument("--music", type=Path, default=REPO / "cache/music")
    ap.add_argument("--grooveclean", default=os.environ.get("GROOVECLEAN",
                                                           "/work/bench-env/bin/grooveclean"))
    ap.add_argument("--ffmpeg", default=shutil.which("ffmpeg"))
    ap.add_argument("--out", type=Path, default=REPO / "docs/eval/clean.md")
    ap.add_argument("--only-vinylmon", action="store_true", help="skip the other tools")
    args = ap.parse_args()

    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_clean_") as tmp:
        folder = Path(tmp)
        clips = make_clips(pick_sources(args.corpus, args.clips), args.music, args.seconds,
                           folder)
        n_clicks = [sum(1 for i in c.impulses if i.kind in ("click", "pop")
                        and i.peak_db >= CLICK_FLOOR_DB) for c in clips]
        peaks = [i.peak_db for c in clips for i in c.impulses
                 if i.kind in ("click", "pop") and i.peak_db >= CLICK_FLOOR_DB]
        print(f"{len(clips)} clips, {sum(n_clicks)} true clicks ({min(n_clicks)}-"
              f"{max(n_clicks)} a clip)", file=sys.stderr)
        rows: list[tuple[str, Tally]] = []

        from vinylmon.engine.engine import Engine
        engine = Engine(device="cpu", grader=False)
        for name, oracle in (("vinylmon clean", False), ("vinylmon repair on the true spans",
                                                          True)):
            t = Tally()
            run_vinylmon(clips, folder, t, oracle=oracle, engine=engine)
            rows.append((name, t))
            print(table_row(name, t), file=sys.stderr)
        if not args.only_vinylmon and args.grooveclean and Path(args.grooveclean).exists():
            def grooveclean(src, out):
                return [args.grooveclean, "clean", str(src), "-o", str(out), "--device", "cpu"]
            t = Tally()
            run_tool(clips, folder, t, grooveclean)
            rows.append(("grooveclean 1.2.1 clean (defaults)", t))
            print(table_row(rows[-1][0], t), file=sys.stderr)
        if not args.only_vinylmon and args.ffmpeg:
            def ffmpeg(src, out):
                return [args.ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(src),
                        "-af", "adeclick", "-c:a", "pcm_s24le", str(out)]
            version = subprocess.run([args.ffmpeg, "-version"], capture_output=True,
                                     text=True).stdout.split("\n")[0].split(" ")[2]
            t = Tally()
            run_tool(clips, folder, t, ffmpeg)
            rows.append((f"FFmpeg {version} adeclick (defaults)", t))
            print(table_row(rows[-1][0], t), file=sys.stderr)
    drums = sum(c.drum_heavy for c in clips)
    lines = [
        "# Click repair: vinylmon clean beside grooveclean and FFmpeg adeclick",
        "",
        f"{len(clips)} clips of {args.seconds:g} s of real music from the corpus's test-split "
        f"songs ({drums} drum-heavy), simulated damage (seeded), {sum(n_clicks)} true clicks "
        f"(>= L-10 dB; {min(n_clicks)}-{max(n_clicks)} a clip, median peak "
        f"{np.median(peaks):+.1f} dB re L) among crackle and hiss; 24-bit WAV in and out. "
        "Measured by `scripts/bench_clean.py` (its docstring defines every column) on the "
        "2-core CPU (shared); vinylmon's engine is made once for all clips. Whole run "
        f"{time.perf_counter() - t_all:.0f} s.",
        "",
        "    .venv/bin/python scripts/bench_clean.py " + " ".join(sys.argv[1:]),
        "",
        "| tool | SNR gain (dB) | clicks' error -20 dB | -10 dB | error left in a click's "
        "span (dB re L, median) | collateral runs / min | their level (dB re L) | "
        "x real time |",
        "|---|---|---|---|---|---|---|---|",
        *[table_row(name, t) for name, t in rows],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

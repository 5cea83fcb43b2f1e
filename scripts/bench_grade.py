#!/usr/bin/env python3
"""Speed and memory of grading a 20-minute side end to end (issue 5's target).

Builds (once) a 20-minute stereo 44.1 kHz FLAC from the corpus's test excerpts
(synthetic music when there is no corpus), then, each in its own process so peak
memory is its own:

- ``e2e``: ``Engine.grade_file`` + JSON report + HTML page, from model load to
  written report (what ``vinylmon grade --json --html`` does);
- ``baseline``: the detector alone on the same windows (read + model, no
  events, grader, skips or reports), the reference the end-to-end figure is
  compared with in the same command, since the machine is shared and noisy;
- ``cli``: the whole ``vinylmon grade FILE --json --html --quiet`` process, as a
  seller runs it (interpreter start, imports and model load included).

    python scripts/bench_grade.py [--minutes 20] [--device cpu|cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SR = 44100


def make_side(path: Path, minutes: float, corpus: Path) -> Path:
    import soundfile as sf

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(minutes * 60 * SR)
    parts, have = [], 0
    if (corpus / "test.jsonl").exists() or (corpus / "test").exists():
        from vinylmon.training.corpus import load_split
        for clip in load_split(corpus, "test"):
            x = clip.read()
            parts.append(x)
            have += x.shape[1]
            if have >= n:
                break
    if have < n:  # no corpus: seeded synthetic notes
        rng = np.random.default_rng(0)
        t = np.arange(n - have) / SR
        x = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=len(t))
        parts.append(np.stack([x, x]).astype(np.float32))
    audio = np.concatenate(parts, axis=1)[:, :n]
    sf.write(path, audio.T, SR, subtype="PCM_16")
    return path


def stage(name: str, path: Path, device: str, threads: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    if name == "e2e":
        from vinylmon.engine.engine import Engine
        from vinylmon.reports.html import render_html
        from vinylmon.reports.report import build_report, write_report
        engine = Engine(device=device)
        r = engine.grade_file(path)
        rep = build_report(r.state, r.windows, input_name=path.name, sample_rate=r.sample_rate,
                           channels=r.channels, duration_s=r.duration_s, models=engine.models())
        out = path.with_suffix(".json")
        write_report(rep, out)
        sp = r.spectrogram
        out.with_suffix(".html").write_text(render_html(
            rep, spectrogram_db=sp.db, spectrogram_freqs_hz=sp.freqs_hz,
            spectrogram_hop_s=sp.hop_s))
        extra = {"events": len(rep["events"]), "grade": rep["summary"]["grade"],
                 "duration_s": r.duration_s}
    else:
        from vinylmon.audio.windowing import file_windows
        from vinylmon.models.inference import Detector
        det = Detector(device=device)
        n = int(det.window_s * det.sample_rate)
        batch, count, dur = [], 0, 0.0
        for w in file_windows(path):
            x = w.samples if w.frames == n else np.pad(w.samples, ((0, 0), (0, n - w.frames)))
            batch.append(x)
            dur += w.duration_s
            if len(batch) == 8:
                det.run(batch)
                count += len(batch)
                batch = []
        if batch:
            det.run(batch)
            count += len(batch)
        extra = {"windows": count, "duration_s": dur}
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": name, "wall_s": wall, "peak_rss_mb": rss_mb, **extra}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--file", type=Path, help="grade this file instead of the built side")
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--stage", choices=("e2e", "baseline"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    path = args.file or make_side(Path(f"cache/bench/side_{args.minutes:g}min_44k.flac"),
                                  args.minutes, args.corpus)
    if args.stage:
        print(json.dumps(stage(args.stage, path, args.device, args.threads)))
        return 0
    results = {}
    t0 = time.perf_counter()
    out_dir = path.parent / "cli"
    out_dir.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "vinylmon.cli.main", "grade", str(path), "--quiet",
                    "--device", args.device, "--json", str(out_dir / "report.json"),
                    "--html", str(out_dir / "report.html")],
                   capture_output=True, text=True, check=True)
    cli_s = time.perf_counter() - t0
    cli_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for name in ("baseline", "e2e"):
        out = subprocess.run([sys.executable, __file__, "--stage", name, "--file", str(path),
                              "--device", args.device, "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    e2e, base = results["e2e"], results["baseline"]
    dur = e2e["duration_s"]
    print(f"side: {path} ({dur / 60:.1f} min), device {args.device}, {args.threads} threads")
    print(f"detector alone (read + model): {base['wall_s']:6.2f} s  {dur / base['wall_s']:6.0f}x "
          f"real time  peak RSS {base['peak_rss_mb']:6.0f} MB")
    print(f"graded end to end (+ report): {e2e['wall_s']:6.2f} s  {dur / e2e['wall_s']:6.0f}x "
          f"real time  peak RSS {e2e['peak_rss_mb']:6.0f} MB  "
          f"({e2e['events']} events, grade {e2e['grade']})")
    print(f"vinylmon grade (whole process): {cli_s:6.2f} s  {dur / cli_s:6.0f}x "
          f"real time  peak RSS {cli_rss:6.0f} MB")
    print(f"end to end / detector alone: {e2e['wall_s'] / base['wall_s']:.2f}; "
          f"vinylmon grade / detector alone: {cli_s / base['wall_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

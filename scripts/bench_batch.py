#!/usr/bin/env python3
"""Batch grading, files per minute: ``vinylmon grade FOLDER`` in one process, with
``--workers 2``, and with ``--ray`` on a local one-node Ray cluster started here
(``ray start --head`` on 127.0.0.1; skipped when Ray is not installed), on the same
folder of seeded synthetic recordings, in one run (the same machine state for all).

    python scripts/bench_batch.py [--files 8] [--seconds 60]

Each is a fresh ``vinylmon grade`` process (models loaded once per process, once per
worker); the ratio is against the one-process run of this same command.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100


def grade(folder: Path, *extra: str) -> float:
    cmd = [sys.executable, "-m", "vinylmon", "grade", str(folder), "--quiet", "--no-grader",
           "--device", "cpu", *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    from vinylmon.simulate import synthetic_music

    tmp = Path(tempfile.mkdtemp(prefix="vinylmon-batch-"))
    folder = tmp / "side"
    folder.mkdir()
    for i in range(args.files):  # a 60-s piece repeated (longer music is slow to make)
        piece = synthetic_music(np.random.default_rng(100 + i), min(60.0, args.seconds))
        reps = int(np.ceil(args.seconds / piece.shape[1] * SR))
        x = np.tile(piece, (1, reps))[:, :int(args.seconds * SR)]
        sf.write(folder / f"rec{i:02d}.flac", x.T, SR)
    rows = [("1 process", grade(folder)), ("--workers 2", grade(folder, "--workers", "2"))]
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    try:
        import ray  # noqa: F401
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        subprocess.run([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1",
                        f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                        "--disable-usage-stats", f"--temp-dir={tmp / 'ray'}"],
                       check=True, capture_output=True, timeout=180)
        try:
            rows.append(("--ray (local cluster, 2 CPUs)",
                         grade(folder, "--ray", f"127.0.0.1:{port}")))
        finally:
            subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120)
    except ImportError:
        rows.append(("--ray", float("nan")))
    base = rows[0][1]
    print(f"{args.files} files of {args.seconds:g} s (seeded synthetic music, a 60-s piece "
          "repeated), CPU, "
          "no learned grader\n")
    print("| run | wall (s) | files per minute | vs 1 process |")
    print("|---|---|---|---|")
    for name, wall in rows:
        if wall != wall:
            print(f"| {name} | - | Ray not installed | - |")
            continue
        print(f"| {name} | {wall:.1f} | {60 * args.files / wall:.1f} | {base / wall:.2f}x |")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

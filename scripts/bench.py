#!/usr/bin/env python3
"""vinylmon's benchmarks, written to BENCHMARKS.md (issue 8).

Every figure is measured on the machine this runs on, in this run, beside a
baseline measured in the same run (the machines are shared and noisy: the
ratio holds better than the figure):

1. per-window latency of the detector and the grader (one 5-s stereo window),
   on the CPU and, when there is one, on the CUDA GPU; baseline: the log-mel
   front-end alone on the same window;
2. batch grading of a side (``scripts/bench_grade.py``): x real time and peak
   memory; baseline: the detector alone over the same windows;
3. live monitoring (``scripts/screenshot.py`` under Xvfb, the demo at real
   time): repaint and spectrogram frame rate, the GUI thread's CPU share;
   baseline: the same window idle;
4. peak memory of each of those processes; baseline: a process that has
   only loaded the models;
5. the soak (``scripts/soak.py``): an hour of input through the live monitor
   at accelerated pace; baseline: its own first memory sample.

    python scripts/bench.py [--out BENCHMARKS.md] [--minutes 20] [--soak-hours 1]
                            [--soak-speed 40] [--skip gui,soak,...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
PARTS = ("latency", "grade", "gui", "memory", "soak")


def _run(cmd: list[str], *, timeout_s: float, env: dict | None = None) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=REPO,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return out.stdout


# ---- 1. latency ---------------------------------------------------------------------

LATENCY_CHILD = r"""
import json, sys, time
import numpy as np, torch
from vinylmon.models.inference import Detector, LearnedGrader
from vinylmon.simulate import synthetic_music
from vinylmon.audio.candidates import find_candidates
from vinylmon.audio.repetition import repeated_in_music
from vinylmon.models.inference import REPEAT_GIVE_UP
dev, reps = sys.argv[1], int(sys.argv[2])
det, gr = Detector(device=dev), LearnedGrader(device=dev)
x = synthetic_music(np.random.default_rng(0), 5.0).astype(np.float32)
xt = torch.from_numpy(x[None]).to(det.device)
def timed(fn):
    for _ in range(3):
        fn()
    out = []
    for _ in range(reps):
        if det.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter(); fn()
        if det.device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return [float(np.median(out)) * 1000, float(np.percentile(out, 95)) * 1000]
out0 = det.run([x])[0]
with torch.inference_mode():
    res = {"frontend": timed(lambda: det.model.frontend(xt)),
           "events": timed(lambda: det.events(x, out0)),
           "detector": timed(lambda: det.events(x, det.run([x])[0])),
           "grader": timed(lambda: gr.run([x])),
           "both": timed(lambda: (det.events(x, det.run([x])[0]), gr.run([x])))}
# the music's repeats looked for at the click-loud impulses a window is searched at before
# the search gives up (REPEAT_GIVE_UP, at candidate places spread over the window)
places = find_candidates(x).index
at = places[np.linspace(0, len(places) - 1, REPEAT_GIVE_UP).astype(int)]
spans = np.stack([at, at + 3], 1)
res["repeats"] = timed(lambda: repeated_in_music(x, spans, places=places, sample_rate=44100))
res["threads"] = torch.get_num_threads()
res["device_name"] = (torch.cuda.get_device_name(det.device) if det.device.type == "cuda"
                      else "CPU")
print(json.dumps(res))
"""


def bench_latency(reps: int) -> list[str]:
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = ["| device | torch threads | log-mel front-end (baseline) | click candidates + "
             "verifier | detector (CNN + verifier) | grader | detector + grader | "
             "detector / front-end | music's repeats, most impulses checked |",
             "|---|---|---|---|---|---|---|---|---|"]
    for dev in devices:
        r = json.loads(_run([sys.executable, "-c", LATENCY_CHILD, dev, str(reps)],
                            timeout_s=600).strip().splitlines()[-1])

        f = {k: f"{r[k][0]:.1f} ms (p95 {r[k][1]:.1f})"
             for k in ("frontend", "events", "detector", "grader", "both", "repeats")}
        lines.append(f"| {r['device_name']} | {r['threads']} | {f['frontend']} | "
                     f"{f['events']} | {f['detector']} | {f['grader']} | {f['both']} | "
                     f"{r['detector'][0] / r['frontend'][0]:.1f}x | {f['repeats']} |")
    if len(devices) == 1:
        lines.append("")
        lines.append("No CUDA GPU on this machine: the GPU row is missing (run it where "
                     "there is one).")
    lines.append("")
    lines.append(f"Median of {reps} calls on one 5-s stereo 44.1 kHz window (batch 1, after "
                 "3 warm-up calls). For scale, the issue quotes the original music-vs-noise "
                 "monitor at 150 ms (CPU) and 15 ms (GPU) per 5-s window (not measured here).")
    return lines


# ---- 2. batch grading -----------------------------------------------------------------

def bench_grade(minutes: float, device: str) -> list[str]:
    out = _run([sys.executable, str(SCRIPTS / "bench_grade.py"), "--minutes", f"{minutes:g}",
                "--device", device], timeout_s=1800)
    return ["```", *out.strip().splitlines(), "```"]


# ---- 3. live monitoring ------------------------------------------------------------------

def bench_gui(seconds: float) -> list[str]:
    if not shutil.which("xvfb-run"):
        return ["Not measured: `xvfb-run` is missing (`apt-get install xvfb xauth`)."]
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "gui.json"
        _run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable,
              str(SCRIPTS / "screenshot.py"), "--seconds", f"{seconds:g}", "--idle-seconds",
              "5", "--out", str(Path(tmp) / "shot.png"), "--json", str(js)],
             timeout_s=seconds + 300)
        r = json.loads(js.read_text())
    p, i = r["playing"], r["idle"]
    return ["| window | seconds | repaint ticks/s | spectrogram frames/s | GUI thread CPU "
            "(% of one core) | whole process CPU | longest gap between repaints |",
            "|---|---|---|---|---|---|---|",
            f"| idle (baseline) | {i['wall_s']:.1f} | {i['ticks_per_s']:.1f} | "
            f"{i['frames_per_s']:.1f} | {100 * i['gui_cpu_share']:.1f} % | "
            f"{100 * i['process_cpu_share']:.0f} % | {1000 * i['max_tick_gap_s']:.0f} ms |",
            f"| demo at real time | {p['wall_s']:.1f} | {p['ticks_per_s']:.1f} | "
            f"{p['frames_per_s']:.1f} | {100 * p['gui_cpu_share']:.1f} % | "
            f"{100 * p['process_cpu_share']:.0f} % | {1000 * p['max_tick_gap_s']:.0f} ms |",
            "",
            f"The paint timer runs every 33 ms (30/s). While playing, the engine analysed "
            f"{r['windows']} windows on {r['compute_device']} "
            f"(last {1000 * (r['last_inference_s'] or 0):.0f} ms/window), dropped "
            f"{r['dropped_windows']}, input overflows {r['overflows']}."]


# ---- 4. memory -------------------------------------------------------------------------

MEMORY_CHILD = r"""
import json, resource, sys
from vinylmon.engine.engine import Engine
Engine(device=sys.argv[1])
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_memory(device: str, grade_lines: list[str], soak: dict | None) -> list[str]:
    base = json.loads(_run([sys.executable, "-c", MEMORY_CHILD, device],
                           timeout_s=300).strip().splitlines()[-1])["peak_rss_mb"]
    lines = ["| process | peak RSS | over the baseline |", "|---|---|---|",
             f"| models loaded, nothing analysed (baseline) | {base:.0f} MB | |"]
    for ln in grade_lines:
        if "peak RSS" in ln:
            name = ln.split(":")[0].strip()
            mb = float(ln.split("peak RSS")[1].split("MB")[0])
            lines.append(f"| {name} | {mb:.0f} MB | +{mb - base:.0f} MB |")
    if soak:
        lines.append(f"| soak: {soak['audio_s'] / 3600:g} h of live input | "
                     f"{soak['rss_peak_mb']:.0f} MB | +{soak['rss_peak_mb'] - base:.0f} MB |")
    return lines


# ---- 5. soak ---------------------------------------------------------------------------

def bench_soak(hours: float, speed: float, device: str) -> tuple[list[str], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "soak.json"
        cmd = [sys.executable, str(SCRIPTS / "soak.py"), "--hours", f"{hours:g}", "--speed",
               f"{speed:g}", "--device", device, "--json", str(js)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                             timeout=hours * 3600 / max(speed, 1) * 4 + 600)
        if not js.exists():
            raise RuntimeError(f"soak failed:\n{out.stderr[-2000:]}")
        r = json.loads(js.read_text())
    samples = r.pop("samples")
    rss = np.array([s["rss_mb"] for s in samples])
    audio = np.array([s["audio_s"] for s in samples])
    marks = [0.1, 0.25, 0.5, 0.75, 1.0]
    table = ["| audio heard | RSS | windows analysed | dropped | pending |",
             "|---|---|---|---|---|"]
    for m in marks:
        j = int(np.argmin(np.abs(audio - m * audio[-1])))
        s = samples[j]
        table.append(f"| {s['audio_s'] / 60:.0f} min | {s['rss_mb']:.0f} MB | {s['analysed']} | "
                     f"{s['dropped']} | {s['pending']} |")
    lines = ["```", *out.stdout.strip().splitlines(), "```", "",
             f"Sampled {len(samples)} times; RSS ranged {rss.min():.0f}-{rss.max():.0f} MB.",
             "", *table]
    return lines, r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the graded side")
    ap.add_argument("--soak-hours", type=float, default=1.0)
    ap.add_argument("--soak-speed", type=float, default=40.0)
    ap.add_argument("--gui-seconds", type=float, default=25.0)
    ap.add_argument("--reps", type=int, default=30, help="calls per latency figure")
    ap.add_argument("--device", default="cpu", help="for grading, the GUI and the soak")
    ap.add_argument("--skip", default="", help=f"comma-separated parts to skip: {PARTS}")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(PARTS):
        ap.error(f"unknown parts {sorted(skip - set(PARTS))}; choose from {PARTS}")
    t0 = time.perf_counter()
    sections: list[tuple[str, list[str]]] = []
    grade_lines: list[str] = []
    soak: dict | None = None
    if "latency" not in skip:
        print("latency ...", flush=True)
        sections.append(("Per-window latency", bench_latency(args.reps)))
    if "grade" not in skip:
        print("batch grading ...", flush=True)
        grade_lines = bench_grade(args.minutes, args.device)
        sections.append((f"Batch grading: a {args.minutes:g}-minute side, "
                         f"`python scripts/bench_grade.py --minutes {args.minutes:g}`",
                         grade_lines))
    if "gui" not in skip:
        print("live monitoring ...", flush=True)
        sections.append(("Live monitoring (the window under Xvfb, the demo at real time)",
                         bench_gui(args.gui_seconds)))
    if "soak" not in skip:
        print("soak ...", flush=True)
        lines, soak = bench_soak(args.soak_hours, args.soak_speed, args.device)
        sections.append((f"Soak: {args.soak_hours:g} h of input at {args.soak_speed:g}x, "
                         f"`python scripts/soak.py --hours {args.soak_hours:g} --speed "
                         f"{args.soak_speed:g}`", lines))
    if "memory" not in skip:
        print("memory ...", flush=True)
        sections.append(("Peak memory", bench_memory(args.device, grade_lines, soak)))
    import torch

    cmd = "python scripts/bench.py" + (f" --skip {args.skip}" if args.skip else "")
    head = [
        "# vinylmon benchmarks", "",
        f"Measured by `{cmd}` on {datetime.date.today().isoformat()}: "
        f"{platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"CUDA {'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}"
        f"; the whole run took {time.perf_counter() - t0:.0f} s.",
        "", "Each figure stands beside a baseline measured in the same run; on a shared "
        "machine the ratio is the steadier number. Re-run the command to refresh this file.",
    ]
    body = []
    for title, lines in sections:
        body += ["", f"## {title}", "", *lines]
    args.out.write_text("\n".join(head + body) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

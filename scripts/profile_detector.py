#!/usr/bin/env python3
"""Where the detector's time goes, per 5-s stereo window, on a given number of threads.

Batch grading runs the detector on one torch thread beside the reader thread
(``threads_beside_reader``), with glibc keeping freed buffers
(``keep_freed_memory``): so does this script by default. Prints the best of
``--repeats`` timings (ms per window) of each stage of the shipped detector:

  log-mel front-end    MelFrontend (the baseline: what any mel model pays)
  sub-frame features   band and high-pass energies of 0.7-ms sub-frames
  features             both, with the level normalisation (DefectDetector.features)
  CNN                  stem, residual blocks and heads (DefectDetector.head)
  whole                DefectDetector.forward

With ``--side FILE`` it also times, over a whole recording, each stage of
``Engine.grade_file`` on its own, one after another (the reader thread's
decoding, gate, repeat buffer, picture, learned grader and repeat search; the
main thread's detector with its event placement), to show which thread's work
is the longer.

    python scripts/profile_detector.py [--threads 1] [--batch 8] [--repeats 5]
        [--side cache/bench/side_20min_44k.flac]
"""

from __future__ import annotations

import argparse
import time


def best_ms(fn, *, windows: int, repeats: int) -> float:
    fn()  # warm-up: first-call allocations
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times) / windows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fresh-pages", action="store_true",
                    help="leave glibc's malloc as it is (grade_file calls keep_freed_memory)")
    ap.add_argument("--side", help="also time grade_file's stages over this recording")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from vinylmon.audio.types import ANALYSIS_RATE
    from vinylmon.models.device import keep_freed_memory
    from vinylmon.models.inference import Detector

    if not args.fresh_pages:
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    model = Detector(device="cpu").model
    samples = int(5.0 * ANALYSIS_RATE)
    x = torch.from_numpy((0.1 * np.random.default_rng(0).standard_normal(
        (args.batch, 2, samples))).astype(np.float32))
    frames = model.config.mel.frames(samples)
    with torch.inference_mode():
        sig = torch.cat([x, 0.5 * (x[:, :1] - x[:, 1:])], dim=1)
        feats = model.features(x)
        stages = {
            "log-mel front-end": lambda: model.frontend(x),
            "sub-frame features": lambda: model._short_features(sig, frames),
            "features": lambda: model.features(x),
            "CNN": lambda: model.head(feats),
            "whole": lambda: model(x),
        }
        ms = {name: best_ms(fn, windows=args.batch, repeats=args.repeats)
              for name, fn in stages.items()}
    base = ms["log-mel front-end"]
    print(f"detector stages, ms per 5-s stereo window ({args.threads} thread(s), "
          f"batches of {args.batch}, best of {args.repeats}):")
    for name, v in ms.items():
        print(f"  {name:20s} {v:7.2f} ms   {v / base:5.2f}x the front-end")
    if args.side:
        side_stages(args.side)
    return 0


def side_stages(path: str) -> None:
    """Each stage of grade_file over ``path``, alone, in seconds (holds all windows)."""
    from vinylmon.audio.types import ANALYSIS_RATE
    from vinylmon.audio.windowing import file_windows
    from vinylmon.engine.engine import Engine, _batched, _SpectrogramBuilder
    from vinylmon.grading.skips import RepeatBuffer

    engine = Engine(device="cpu")
    t: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        t[name] = time.perf_counter() - t0
        return out

    windows = timed("reader: decode + windows",
                    lambda: list(file_windows(path, window_s=engine.detector.window_s)))
    batches = timed("reader: silence gate",
                    lambda: [engine._gated(b) for b in _batched(windows, engine.batch)])
    repeats, picture = RepeatBuffer(ANALYSIS_RATE), _SpectrogramBuilder(ANALYSIS_RATE)
    timed("reader: repeat buffer", lambda: [repeats.push(w.samples) for b in batches for w in b])
    timed("reader: picture", lambda: [picture.push(w.samples) for b in batches for w in b])
    grades = timed("reader: learned grader", lambda: [
        engine.grade_windows(b, grader_stride=engine.grader_stride) for b in batches])
    timed("reader: repeat search", repeats.find)
    timed("main: detector + events",
          lambda: [engine.analyse(b, grades=g) for b, g in zip(batches, grades, strict=True)])
    audio_s = windows[-1].end_s if windows else 0.0
    print(f"grade_file stages over {path} ({audio_s / 60:.1f} min), each alone:")
    for name, v in t.items():
        print(f"  {name:28s} {v:6.2f} s")
    reader = sum(v for k, v in t.items() if k.startswith("reader"))
    main_s = t["main: detector + events"]
    print(f"  reader thread in all {reader:6.2f} s; main thread {main_s:.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())

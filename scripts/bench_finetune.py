#!/usr/bin/env python3
"""Microphone fine-tuning: its wall time on a 2-minute take, and what it wins back.

In one command (the machine is shared and noisy, so the reference is measured
beside the figure):

- ``baseline``: the detector's inference over the take's 5-s windows;
- ``finetune``: :func:`vinylmon.training.finetune.run.finetune` with the shipped
  default configuration (detector and grader), from the take to the result;
  the issue's budget is 3 minutes on the 2-core CPU;
- the before/after table of the result (the take's held-out quarter with
  damage injected after the microphone, and base validation data: the corpus's
  val split when there is one);
- the bad-microphone check of the Done-when: the held-out quarter with damage
  put *before* the microphone, scored for the base models on the clean audio,
  the base models through the microphone, and the fine-tuned models through it.

The take: two minutes of a test-split song of the corpus's music (never heard in
training) when ``cache/`` has them, else seeded synthetic music; ``--synthetic``
uses synthetic music and synthetic base data (what the test and CI do). The
microphone: :func:`vinylmon.simulate.mic.bad_microphone`.

    python scripts/bench_finetune.py [--synthetic] [--threads 2] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TAKE_S = 120.0


def test_split_song(seconds: float) -> tuple[np.ndarray, str] | None:
    """``seconds`` of the first long, not drum-heavy test-split song of the corpus."""
    manifest = REPO / "cache" / "corpus" / "manifest.jsonl"
    music = REPO / "cache" / "music"
    if not manifest.is_file() or not music.is_dir():
        return None
    from vinylmon.audio import load
    from vinylmon.audio.io import audio_info

    songs: dict[tuple[str, str], bool] = {}
    for line in manifest.read_text().splitlines():
        r = json.loads(line)
        if r["split"] == "test":
            key = (r["source"]["package"], r["source"]["file"])
            songs[key] = songs.get(key, False) or bool(r["drum_heavy"])
    for (package, name), drums in sorted(songs.items()):
        path = next(iter((music / package).rglob(name)), None)
        if path is None or drums or audio_info(path).duration_s < seconds + 40:
            continue
        x = np.asarray(load(path, start_s=30.0, duration_s=seconds).samples, np.float32)
        return np.ascontiguousarray(np.repeat(x, 2, 0) if x.shape[0] == 1 else x[:2]), \
            f"{package}/{name} (test split), 30-{30 + seconds:.0f} s"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic", action="store_true",
                    help="synthetic take and synthetic base data (as the test and CI)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=TAKE_S, help="take length")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)

    import torch

    from vinylmon.models.inference import Detector, LearnedGrader
    from vinylmon.simulate.mic import bad_microphone
    from vinylmon.training.finetune.data import build_take_set, synthetic_take
    from vinylmon.training.finetune.inputs import FinetuneConfig, default_corpus
    from vinylmon.training.finetune.run import finetune
    from vinylmon.training.finetune.scoring import evaluate_detector

    if args.threads:
        torch.set_num_threads(args.threads)
    found = None if args.synthetic else test_split_song(args.seconds)
    take, source = found or (synthetic_take(args.seconds, seed=11),
                             f"synthetic music, seed 11, {args.seconds:.0f} s")
    corpus = None if args.synthetic else default_corpus()
    mic_take = bad_microphone(take, seed=3)
    detector = Detector(device=args.device)
    grader = LearnedGrader(device=args.device)
    config = FinetuneConfig(device=args.device)
    print(f"take: {source}, through bad_microphone(seed=3)")
    print(f"device: {detector.device}, torch threads {torch.get_num_threads()}; "
          f"base data: {'corpus ' + str(corpus) if corpus else 'synthetic'}")
    print(f"config: {config.to_dict()}", flush=True)

    n = int(config.window_s * 44100)
    windows = [mic_take[:, s:s + n] for s in range(0, mic_take.shape[1] - n + 1, n)]
    detector.run(windows[:2])  # warm-up: first-call set-up is not inference
    t0 = time.perf_counter()
    detector.run(windows)
    baseline_s = time.perf_counter() - t0
    threads = torch.get_num_threads()
    if config.threads is not None and config.threads != threads:
        torch.set_num_threads(config.threads)  # as fine-tuning runs
        t0 = time.perf_counter()
        detector.run(windows)
        baseline_ft_threads_s = time.perf_counter() - t0
        torch.set_num_threads(threads)
    else:
        baseline_ft_threads_s = baseline_s

    last = [0.0]

    def progress(frac: float, message: str) -> None:
        if time.perf_counter() - last[0] > 15 or frac >= 1.0:
            last[0] = time.perf_counter()
            print(f"  {frac:4.0%} {message}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    result = finetune(mic_take, grade="NM", detector=detector, grader=grader, config=config,
                      progress=progress, corpus=corpus)
    finetune_s = time.perf_counter() - t0
    print(f"\nbaseline (detector inference over the take's {len(windows)} windows): "
          f"{baseline_s:.1f} s with {threads} torch threads, {baseline_ft_threads_s:.1f} s "
          f"with {config.threads or threads} (fine-tuning's)")
    print(f"finetune (default config, detector + grader): {finetune_s:.1f} s "
          f"({finetune_s / baseline_ft_threads_s:.0f}x the baseline at the same threads); "
          f"phases {result.timings}")
    print(f"budget 180 s: {'met' if finetune_s <= 180 else 'NOT met'}")
    print(f"replay: {result.replay_source}; base validation: {result.val_source}; "
          f"click threshold {result.postprocess.threshold}\n")
    print(result.table())

    held = build_take_set(take, grade="NM", seed=99,
                          config=FinetuneConfig(held_out_variants=12, colour_damage=False)
                          ).held_out
    held_mic = held.transformed(lambda x, i: bad_microphone(x, seed=100 + i))
    scores = {"clean audio, base": evaluate_detector(detector, held),
              "bad mic, base": evaluate_detector(detector, held_mic),
              "bad mic, fine-tuned": evaluate_detector(detector, held_mic, result=result)}
    print(f"\nbad-microphone check: the take's held-out quarter, damage before the microphone "
          f"({len(held)} windows)")
    print(f"{'':22s} {'event F1':>8s} {'P':>5s} {'R':>5s} {'class acc':>9s}")
    for k, v in scores.items():
        print(f"{k:22s} {v['event_f1']:8.3f} {v['precision']:5.2f} {v['recall']:5.2f} "
              f"{v['class_accuracy']:9.3f}")
    recovered = {}
    for m in ("event_f1", "class_accuracy"):
        clean, base = scores["clean audio, base"][m], scores["bad mic, base"][m]
        tuned = scores["bad mic, fine-tuned"][m]
        recovered[m] = (tuned - base) / (clean - base) if clean != base else float("nan")
        print(f"{m}: the microphone costs {clean - base:+.3f}; fine-tuning wins back "
              f"{tuned - base:+.3f} ({recovered[m]:.0%})")
    for m in ("event_f1", "class_accuracy"):
        b, a = result.before["base_val"][m], result.after["base_val"][m]
        print(f"base validation {m}: {b:.3f} -> {a:.3f} ({a - b:+.3f})")
    if args.json:
        args.json.write_text(json.dumps({
            "take": source, "baseline_s": baseline_s,
            "baseline_same_threads_s": baseline_ft_threads_s, "finetune_s": finetune_s,
            "timings": result.timings, "before": result.before, "after": result.after,
            "bad_mic": scores, "recovered": recovered, "postprocess": result.postprocess,
            "replay": result.replay_source, "val": result.val_source,
            "config": config.to_dict()}, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

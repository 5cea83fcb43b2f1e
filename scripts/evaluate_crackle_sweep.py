#!/usr/bin/env python3
"""Crackle k over a sweep of densities, under unseen clean music, the way the app
measures a side: how much of it is heard, and what it does to c and the grade.

Every excerpt of the chosen clean music (the test split's control music by default:
unseen songs, drum-heavy and not) gets crackle alone at each density, over a quiet
hiss bed (-62 dB re L, NM), made by the simulator so that k is exact and nothing
else limits the grade. Two level ranges: the simulator's own (-45..-12 dB re L, as in
the corpus) and -32..-11 dB re L (louder crackle, as issue 17 describes its held-out
dense-crackle clips). The crackle's ticks never reach L - 10 dB, so every click
counted (c) is a tick read as a click.

    python scripts/evaluate_crackle_sweep.py [--split control] [--clips 8] [--out docs/eval]

``--split control_val`` runs on the validation songs' clean music instead (for any
choice made from the sweep; the table in docs/eval is the test songs').
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vinylmon.grading.rubric import GRADES, grade_quantities
from vinylmon.models.inference import Detector, analyse_excerpt
from vinylmon.simulate import CrackleSpec, DamageSpec, NoiseBank, NoiseSpec, simulate
from vinylmon.training.corpus import load_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_noise_sweep import pick_excerpts  # noqa: E402  (the same pick of excerpts)

SR = 44100
RATES_PER_S = (0.5, 2.0, 8.0, 30.0, 41.0, 80.0)
#: Tick level ranges (dB re L): the simulator's default, and issue 17's held-out clips'.
LEVELS_DB = {"-45..-12 dB re L (the simulator's)": (-45.0, -12.0),
             "-32..-11 dB re L (issue 17's held-out clips)": (-32.0, -11.0)}
BED_DB = -62.0


def run(det: Detector, clips, bank: NoiseBank) -> list[dict]:
    rows = []
    for name, peak_db in LEVELS_DB.items():
        for rate in RATES_PER_S:
            for i, clip in enumerate(clips):
                d = simulate(clip.read(), DamageSpec(
                    seed=3000 + i, noise=NoiseSpec(hiss_db=BED_DB),
                    crackle=CrackleSpec(rate_per_s=rate, peak_db=peak_db)),
                    sample_rate=SR, bank=bank)
                a = analyse_excerpt(d.audio.astype(np.float32), det, repeats=[])
                q = a.side.quantities
                rows.append({"levels": name, "rate": rate, "clip": clip.id,
                             "k_true": float(d.truth.quantities.crackle_per_s),
                             "k_est": float(q.crackle_per_s) if q else 0.0,
                             "c_true": float(d.truth.quantities.clicks_per_min),
                             "c_est": float(q.clicks_per_min) if q else 0.0,
                             "grade": d.truth.grade.grade,
                             "pred": grade_quantities(q).grade if q else "NM"})
            print(name, rate, flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for name in LEVELS_DB:
        for rate in RATES_PER_S:
            r = [x for x in rows if x["levels"] == name and x["rate"] == rate]
            kt = np.array([x["k_true"] for x in r])
            ke = np.array([x["k_est"] for x in r])
            ratio = ke / np.maximum(kt, 1e-9)
            off = [GRADES.index(x["pred"]) - GRADES.index(x["grade"]) for x in r]
            out.append({"levels": name, "rate": rate, "excerpts": len(r),
                        "k_true": float(np.median(kt)), "k_ratio": float(np.median(ratio)),
                        "k_within_25": float(np.mean(np.abs(ratio - 1) <= 0.25)),
                        "c_est": float(np.median([x["c_est"] for x in r])),
                        "grade_exact": float(np.mean([o == 0 for o in off])),
                        "graded_better": float(np.mean([o < 0 for o in off]))})
    return out


def markdown(s: list[dict], *, command: str, clips: int, split: str, seconds: float,
             method: str) -> str:
    lines = ["# Crackle over a sweep of densities", "",
             f"Made by `{command}`.", "",
             "| tick levels | crackle / s (true) | k measured / true (median) | "
             "k within +-25 % | c read (clicks/min, median; true 0) | grade exact | "
             "graded better than it is |",
             "|---|---|---|---|---|---|---|"]
    for r in s:
        lines.append(f"| {r['levels']} | {r['k_true']:.2f} | {r['k_ratio']:.2f} | "
                     f"{r['k_within_25']:.2f} | {r['c_est']:.1f} | {r['grade_exact']:.2f} | "
                     f"{r['graded_better']:.2f} |")
    lines += ["", f"- {clips} excerpts of the {split} split's clean music, each with crackle "
              f"alone at each density over a hiss bed at {BED_DB:g} dB re L (NM), made by the "
              f"simulator (k exact; its ticks stay under L - 10 dB, so c's truth is 0); "
              f"{len(s) * clips} analyses in {seconds:.0f} s on this CPU.",
              f"- k measured as the app measures a side: {method}.",
              "- The grade is the app's (every criterion): crackle alone decides the truth's."]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--split", default="control",
                    help="clean music to sweep under (control: the test songs'; control_val: "
                         "the validation songs')")
    ap.add_argument("--clips", type=int, default=8,
                    help="excerpts used (spread over the split, drum-heavy included)")
    ap.add_argument("--out", type=Path, default=None,
                    help="write crackle_sweep.md and crackle_sweep.json here")
    ap.add_argument("--crackle-gate", type=float, default=None, metavar="PER_S",
                    help="override the verifier's postprocess.crackle_gate_per_s (as "
                         "scripts/evaluate_grading.py does); a negative value: none")
    args = ap.parse_args()
    if args.clips < 1:
        sys.exit("--clips must be >= 1")
    torch.set_num_threads(1)
    command = "python scripts/evaluate_crackle_sweep.py " + " ".join(sys.argv[1:])
    det = Detector(device="cpu")
    if args.crackle_gate is not None:
        det.crackle_gate_per_s = args.crackle_gate if args.crackle_gate >= 0 else None
    try:
        clean = load_split(args.corpus, args.split)
    except (OSError, ValueError) as e:
        sys.exit(f"cannot read split {args.split!r} of {args.corpus}: {e}")
    if not clean:
        sys.exit(f"split {args.split!r} of {args.corpus} holds no excerpts")
    pick = pick_excerpts(clean, args.clips)
    bank = NoiseBank()
    t0 = time.perf_counter()
    rows = run(det, pick, bank)
    s = summary(rows)
    md = markdown(s, command=command, clips=len(pick), split=args.split,
                  seconds=time.perf_counter() - t0, method=det.crackle_method)
    print(md)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "crackle_sweep.md").write_text(md)
        (args.out / "crackle_sweep.json").write_text(json.dumps(
            {"command": command, "summary": s, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

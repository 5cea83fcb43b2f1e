#!/usr/bin/env python3
"""Surface noise n measured over a sweep of beds: each kind of bed, -70..-20 dB re L,
under the test split's clean control music, the way the app measures a side.

Every excerpt of clean music (unseen songs, drum-heavy and not) gets one bed at a
time, made by the simulator so that its n is exact: synthetic hiss of three
spectral tilts, hiss with mains hum, and each real turntable recording of
../shared/data/noise/vinyl alone (the one held out of every training split,
``make_corpus.HELD_OUT_NOISE['test']``, is marked). The excerpt is analysed as a
side (``analyse_excerpt``) and n's error is tabled by bed and level.

``--side LEAD GAP``: each excerpt becomes a short side instead: LEAD seconds of the
groove alone (the bed, no music) before it and after it (lead-in and run-out) and
GAP seconds between its two halves (the gap between two tracks), where the bed
shows with nothing over it. A second sweep then adds crackle (hiss beds at
-60..-40 dB re L, 0.5-60 ticks a second) and tables k: counted in the groove as the
app now does, and as the windows' estimates give it (the app before). The tables go
to noise_sweep_side.md/json.

    python scripts/evaluate_noise_sweep.py [--measures BUNDLE|none] [--out docs/eval]
    python scripts/evaluate_noise_sweep.py --side 8 3 --out docs/eval
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vinylmon.models.inference import Detector, analyse_excerpt
from vinylmon.simulate import CrackleSpec, DamageSpec, NoiseBank, NoiseSpec, simulate
from vinylmon.training.corpus import load_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_corpus  # noqa: E402  (which real beds are held out)

SR = 44100
LEVELS_DB = (-70.0, -60.0, -50.0, -40.0, -30.0, -20.0)
#: The NoiseSpec levels (dB re L) a run shifts to its level.
LEVEL_KEYS = ("hiss_db", "hum_db", "real_bed_db")


def beds(bank: NoiseBank) -> dict[str, dict]:
    """Bed name -> NoiseSpec keywords at 0 dB (levels are added per run)."""
    out = {"hiss, tilt -1 dB/oct": {"hiss_db": 0.0, "hiss_tilt_db_per_oct": -1.0},
           "hiss, tilt -3 dB/oct": {"hiss_db": 0.0, "hiss_tilt_db_per_oct": -3.0},
           "hiss, tilt -4.5 dB/oct": {"hiss_db": 0.0, "hiss_tilt_db_per_oct": -4.5},
           "hiss and hum (-6 dB)": {"hiss_db": -1.0, "hum_db": -7.0}}
    held = make_corpus.HELD_OUT_NOISE["test"]
    for path in sorted((bank.root / "vinyl").glob("*.flac")):
        name = path.stem.split("_")[0]
        tag = " (held out of training)" if name in held else ""
        out[f"real bed {name}{tag}"] = {"real_bed_db": 0.0, "only": path.stem}
    return out


def only(bank: NoiseBank, stem: str) -> NoiseBank:
    """``bank`` with one real turntable recording: every other one excluded."""
    others = {p.stem for p in (bank.root / "vinyl").glob("*.flac")} - {stem}
    return NoiseBank(bank.root, sample_rate=bank.sample_rate, exclude=others)


def as_side(music: np.ndarray, *, lead_s: float, gap_s: float) -> np.ndarray:
    """``music`` (2, frames) as a short side: ``lead_s`` of silence (the groove alone
    once the bed is added) before and after it, and ``gap_s`` between its halves."""
    lead = np.zeros((music.shape[0], int(round(lead_s * SR))), music.dtype)
    gap = np.zeros((music.shape[0], int(round(gap_s * SR))), music.dtype)
    half = music.shape[1] // 2
    return np.concatenate([lead, music[:, :half], gap, music[:, half:], lead], axis=1)


def run(det: Detector, clips, bank: NoiseBank, *, levels=LEVELS_DB,
        side: tuple[float, float] | None = None) -> list[dict]:
    rows = []
    for bed, kw in beds(bank).items():
        kw = dict(kw)
        stem = kw.pop("only", None)
        use = bank if stem is None else only(bank, stem)
        for level in levels:
            for i, clip in enumerate(clips):
                spec = NoiseSpec(**{k: v + level if k in LEVEL_KEYS else v
                                    for k, v in kw.items()})
                music = clip.read() if side is None else as_side(
                    clip.read(), lead_s=side[0], gap_s=side[1])
                d = simulate(music, DamageSpec(seed=1000 + i, noise=spec), sample_rate=SR,
                             bank=use)
                truth = float(d.truth.surface_noise_db)
                a = analyse_excerpt(d.audio.astype(np.float32), det, repeats=[])
                rows.append({"bed": bed, "level_db": level, "clip": clip.id, "truth_db": truth,
                             "measured_db": float(a.noise_db),
                             "groove_s": float(a.side.groove_s)})
            err = [r["measured_db"] - r["truth_db"] for r in rows[-len(clips):]]
            print(f"{bed} at {level:.0f} dB: median error {np.median(err):+.1f}", flush=True)
    return rows


CRACKLE_BEDS_DB = (-60.0, -50.0, -40.0)
CRACKLE_RATES = (0.5, 2.0, 5.0, 20.0, 60.0)


def crackle_run(det: Detector, clips, bank: NoiseBank, *, side: tuple[float, float]
                ) -> list[dict]:
    """k on short sides: hiss beds with crackle (the simulator's default levels, -45..-12
    dB re L), measured as the app measures a side (the groove's ticks), and as the
    windows' estimates give it (their length-weighted mean: the app before)."""
    rows = []
    for level in CRACKLE_BEDS_DB:
        for rate in CRACKLE_RATES:
            for i, clip in enumerate(clips):
                d = simulate(as_side(clip.read(), lead_s=side[0], gap_s=side[1]),
                             DamageSpec(seed=2000 + i, noise=NoiseSpec(hiss_db=level),
                                        crackle=CrackleSpec(rate_per_s=rate)),
                             sample_rate=SR, bank=bank)
                a = analyse_excerpt(d.audio.astype(np.float32), det, repeats=[])
                live = [w for w in a.windows if not w.silent and w.crackle_per_s is not None]
                dur = np.array([w.end_s - w.start_s for w in live])
                k_win = float(np.sum([w.crackle_per_s for w in live] * dur) / dur.sum())
                rows.append({"bed_db": level, "rate": rate, "clip": clip.id,
                             "truth": float(d.truth.quantities.crackle_per_s),
                             "measured": float(a.side.quantities.crackle_per_s),
                             "windows": k_win, "groove_s": float(a.side.groove_s)})
            sel = rows[-len(clips):]
            print(f"crackle {rate:g}/s on a {level:.0f}-dB bed: k "
                  f"{np.median([r['measured'] for r in sel]):.2f} (windows "
                  f"{np.median([r['windows'] for r in sel]):.2f}) for "
                  f"{np.median([r['truth'] for r in sel]):.2f}", flush=True)
    return rows


def crackle_markdown(rows: list[dict]) -> list[str]:
    lines = ["", "## Crackle k on the same short sides", "",
             "k measured / true (median over the excerpts), counted in the groove as the app "
             "does now, and (in brackets) as the windows' estimates give it (the app before); "
             "the share of sides whose k reads within +-25 % after each:", "",
             "| bed (dB re L) | " + " | ".join(f"{r:g}/s" for r in CRACKLE_RATES)
             + " | within 25 % |", "|---" * (len(CRACKLE_RATES) + 2) + "|"]
    for level in CRACKLE_BEDS_DB:
        cells, ok, ok_w, n = [], 0, 0, 0
        for rate in CRACKLE_RATES:
            sel = [r for r in rows if r["bed_db"] == level and r["rate"] == rate]
            m = np.median([r["measured"] / r["truth"] for r in sel if r["truth"] > 0])
            w = np.median([r["windows"] / r["truth"] for r in sel if r["truth"] > 0])
            cells.append(f"{m:.2f} ({w:.2f})")
            ok += sum(abs(r["measured"] / r["truth"] - 1) <= 0.25 for r in sel if r["truth"] > 0)
            ok_w += sum(abs(r["windows"] / r["truth"] - 1) <= 0.25 for r in sel
                        if r["truth"] > 0)
            n += sum(r["truth"] > 0 for r in sel)
        lines.append(f"| {level:.0f} | " + " | ".join(cells)
                     + f" | {ok / n:.2f} ({ok_w / n:.2f}) |")
    lines += ["", "- Crackle ticks at the simulator's levels (-45..-12 dB re L): the groove "
              "counts those that stand 15.6 dB or more over its bed, so a bed louder than "
              "-60 dB re L hides the quiet ones, which the truth counts."]
    return lines


def summary(rows: list[dict]) -> dict:
    def stats(sel):
        e = np.array([r["measured_db"] - r["truth_db"] for r in sel])
        return {"n": int(e.size), "median_err_db": float(np.median(e)),
                "mae_db": float(np.mean(np.abs(e)))}
    out = {"all": stats(rows), "beds": {}}
    groove = [r for r in rows if r.get("groove_s", 0.0) > 0]
    if groove:  # n read on the groove alone: its own spread (measured.GROOVE_NOISE_SD_DB)
        e = np.array([r["measured_db"] - r["truth_db"] for r in groove])
        out["groove"] = {**stats(groove), "rms_err_db": float(np.sqrt(np.mean(e ** 2)))}
    for bed in dict.fromkeys(r["bed"] for r in rows):
        sel = [r for r in rows if r["bed"] == bed]
        out["beds"][bed] = {"all": stats(sel),
                            "levels": {str(lv): stats([r for r in sel if r["level_db"] == lv])
                                       for lv in dict.fromkeys(r["level_db"] for r in sel)}}
    return out


def markdown(s: dict, *, command: str, clips: int, seconds: float, method: str,
             side: tuple[float, float] | None = None) -> str:
    levels = list(next(iter(s["beds"].values()))["levels"])
    head = "| bed | " + " | ".join(f"{float(lv):.0f} dB" for lv in levels) + \
        " | all: median error | all: MAE |"
    title = "# Surface noise over a sweep of beds" + (
        ", on short sides with a lead-in, a gap and a run-out" if side else "")
    lines = [title, "",
             f"Made by `{command}`.", "",
             "n's error (measured - true, dB), median over the excerpts, by bed and true n "
             "(dB re L):", "", head, "|" + "---|" * (len(levels) + 3)]
    for bed, b in s["beds"].items():
        cells = [f"{b['levels'][lv]['median_err_db']:+.1f}" for lv in levels]
        lines.append(f"| {bed} | " + " | ".join(cells) +
                     f" | {b['all']['median_err_db']:+.1f} | {b['all']['mae_db']:.1f} |")
    a = s["all"]
    lines += ["", "| over every bed and level | measured | target |", "|---|---|---|",
              f"| median error (dB) | {a['median_err_db']:+.2f} | within +-1 |",
              f"| mean absolute error (dB) | {a['mae_db']:.2f} | <= 2 |", ""]
    if "groove" in s:
        g = s["groove"]
        lines += [f"Read on the groove alone (heard in the lead-in, gap and run-out where "
                  f"the silence gate keeps them open): {g['n']} of {a['n']} analyses, "
                  f"median error {g['median_err_db']:+.2f} dB, MAE {g['mae_db']:.2f} dB, "
                  f"RMS {g['rms_err_db']:.2f} dB.", ""]
    lines += [f"- {clips} excerpts of the test split's clean control music (unseen songs), "
              f"each with one bed at a time made by the simulator (so n is exact), "
              f"{a['n']} analyses in {seconds:.0f} s on this CPU."]
    if side:
        lines.append(f"- Each excerpt made a short side: {side[0]:g} s of the groove alone "
                     f"(the bed, no music) before and after it, and {side[1]:g} s between "
                     "its two halves.")
    lines += [
              f"- n measured as the app measures a side: {method}."]
    return "\n".join(lines) + "\n"


def _spread(items: list, n: int) -> list:
    """``n`` of ``items`` (at most), evenly spaced over them."""
    return items[::max(1, len(items) // n)][:n] if n > 0 else []


def pick_excerpts(clips: list, n: int) -> list:
    """``n`` of ``clips``: half of them drum-heavy (at least one), each half spread evenly
    over its excerpts (:func:`_spread`)."""
    pick = _spread([c for c in clips if c.drum_heavy], max(1, n // 2))
    return pick + _spread([c for c in clips if not c.drum_heavy], n - len(pick))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--clips", type=int, default=6,
                    help="control excerpts used (spread over the split, drum-heavy included)")
    ap.add_argument("--measures", default=None,
                    help="window measures bundle for n (default: the shipped one, if any; "
                         "'none': the detector's noise head)")
    ap.add_argument("--side", type=float, nargs=2, default=None, metavar=("LEAD", "GAP"),
                    help="make each excerpt a side: LEAD s of groove alone before and after "
                         "it, GAP s between its halves")
    ap.add_argument("--out", type=Path, default=None,
                    help="write noise_sweep.md and noise_sweep.json here")
    args = ap.parse_args()
    if args.clips < 1:
        sys.exit("--clips must be >= 1")
    if args.side is not None and not all(0 < v <= 60 for v in args.side):
        sys.exit("--side LEAD GAP: seconds in (0, 60]")
    side = tuple(args.side) if args.side else None
    torch.set_num_threads(1)
    command = "python scripts/evaluate_noise_sweep.py " + " ".join(sys.argv[1:])
    det = Detector(device="cpu", measures=False if args.measures == "none" else args.measures)
    control = load_split(args.corpus, "control")
    pick = pick_excerpts(control, args.clips)
    bank = NoiseBank()
    if not bank.available:
        sys.exit("no real noise recordings (../shared/data/noise): the sweep needs them")
    t0 = time.perf_counter()
    rows = run(det, pick, bank, side=side)
    k_rows = crackle_run(det, pick, bank, side=side) if side else []
    s = summary(rows)
    md = markdown(s, command=command, clips=len(pick), seconds=time.perf_counter() - t0,
                  method=f"{det.noise_method}, read at the quietest-reading quarter of the "
                         "windows; where the side holds steady windows 20 dB or more under its "
                         "music (the groove alone), n is their level instead "
                         "(vinylmon.grading.measured.groove_noise_db)", side=side)
    if k_rows:
        md += "\n".join(crackle_markdown(k_rows)) + "\n"
    print(md)
    name = "noise_sweep_side" if side else "noise_sweep"
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.md").write_text(md)
        (args.out / f"{name}.json").write_text(json.dumps(
            {"command": command, "summary": s, "rows": rows, "crackle_rows": k_rows},
            indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""How the click verifier's settings are chosen, and what the choice is worth on test.

A probe for issue 16 (nothing here changes what ships). For one verifier bundle it
runs the app's analysis once over the validation split with its clean control music
and once over the test split with its own (``evaluate_clicks.tuning_events``: every
event down to the lowest acceptance, before offsets), keeps them under --cache, and
then, with ``evaluate_clicks``' own scorer:

- ``rule``: the selection as evaluate_clicks makes it (best validation click F1, less
  0.05 for each false event a minute past a budget on clean music; the damaged-window
  offset chosen over the best few), at false-event budgets of 1 (evaluate_clicks') and
  0.5 a minute;
- ``adaptive``: the same, with a second acceptance for windows that hold a one-channel
  impulse accepted at the first (a damaged record), lower than the first
  (``runs_for``'s ``accept_clicked``; evaluate_clicks chooses it since 2026-12-07);
- ``fixed``: the bundle's own settings (its meta.json's postprocess).

Each row: the settings chosen on validation, their validation figures, and the test
split's (an approximation of ``evaluate_clicks``' table: offsets and acceptances are
applied to the events after the analysis, as in its selection), and the click F1 they
gain over the bundle's own settings on each, with a 90 % interval over excerpts drawn
with replacement (how much of a difference one split's excerpts can tell).

    python scripts/probe_acceptance.py                      # the shipped verifier
    python scripts/probe_acceptance.py --verifier /tmp/B --name B
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

# a script beside this one (scripts/ is on the path when run as a script)
from evaluate_clicks import (
    ACCEPTS,
    BOTH_OFFSETS,
    CLICKED_ACCEPTS,
    MIN_PEAKS,
    TOP_BASES,
    Tally,
    choose_clicked,
    merge,
    objective_row,
    runs_for,
    score_vinylmon,
    tuning_events,
)

from vinylmon.models.inference import Detector
from vinylmon.training.corpus import load_split

BUDGETS = (1.0, 0.5)


def figures(clips, base, **settings) -> dict:
    """evaluate_clicks' scores of the events ``base`` at ``settings`` (runs_for's), with
    the few this probe prints."""
    s = score_vinylmon(clips, runs_for(base, **settings), 0.0)
    a = s["click_all"]
    return {**s, "f1": a["f1"], "precision": a["precision"], "recall": a["recall"],
            "drum_f1": s["click_drum"]["f1"]}


def clip_counts(clips, base, **settings) -> np.ndarray:
    """Per clip: click-loud detections, those on a true click, true clicks, those found
    (evaluate_clicks' Tally of each clip alone), shape (clips, 4)."""
    out = []
    for clip, (spans, scr) in zip(clips, runs_for(base, **settings), strict=True):
        t = Tally(0.0)
        t.add(clip, *merge(spans), scr)
        out.append([t.c.get(k, 0.0) for k in ("all.det", "all.det_ok", "all.truth",
                                               "all.truth_ok")])
    return np.array(out)


def f1_of(counts: np.ndarray) -> np.ndarray:
    """Click F1 of summed counts (..., 4)."""
    det, det_ok, truth, truth_ok = np.moveaxis(counts, -1, 0)
    p = np.divide(det_ok, det, out=np.zeros_like(det), where=det > 0)
    r = np.divide(truth_ok, truth, out=np.zeros_like(truth), where=truth > 0)
    return np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=p + r > 0)


def f1_gain(a: np.ndarray, b: np.ndarray, *, draws: int = 2000, seed: int = 0
            ) -> tuple[float, float, float]:
    """Click F1 of per-clip counts ``b`` less ``a``'s, and its 90 % interval over
    excerpts drawn with replacement (the same draws for both)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(draws, len(a)))
    d = f1_of(b[idx].sum(1)) - f1_of(a[idx].sum(1))
    return float(f1_of(b.sum(0)) - f1_of(a.sum(0))), *np.percentile(d, [5, 95]).tolist()


def objective(f: dict, budget: float) -> float:
    """evaluate_clicks' objective of the scores ``f`` at a false-event ``budget``."""
    return objective_row(f, budget=budget)["objective"]


def choose(clips, base, *, budget: float, adaptive: bool) -> tuple[dict, dict]:
    """The settings evaluate_clicks' rule picks on ``clips`` (and the figures there):
    accept, min peak and both-channel offset over the grid, then the damaged-window
    offset (and, ``adaptive``, acceptance) over the TOP_BASES best."""
    grid = [dict(accept=a, min_peak=mp, both=o) for o in BOTH_OFFSETS for a in ACCEPTS
            for mp in MIN_PEAKS]
    scored = sorted(((objective(f := figures(clips, base, **g), budget), g, f) for g in grid),
                    key=lambda r: -r[0])
    best = None
    for _, g, _ in scored[:TOP_BASES]:
        c, ac, rows = choose_clicked(clips, base, 0.0, accept=g["accept"],
                                     min_peak=g["min_peak"], both=g["both"], window_s=5.0,
                                     budget=budget, accepts=CLICKED_ACCEPTS if adaptive else ())
        top = next(r for r in rows
                   if r["both_logit_offset_clicked"] == c and r["accept_clicked"] == ac)
        if best is None or top["objective"] > best[0]:
            best = (top["objective"], dict(g, clicked=c, accept_clicked=ac))
    return best[1], figures(clips, base, **best[1])


def events(det: Detector, corpus: Path, splits: list[str], cache: Path | None) -> list:
    """tuning_events over ``splits`` (from ``cache`` when it holds them)."""
    if cache is not None and cache.exists():
        return pickle.loads(cache.read_bytes())
    out = []
    for sp in splits:
        t0 = time.perf_counter()
        clips = load_split(corpus, sp)
        out += tuning_events(clips, det)
        print(f"{sp}: {len(clips)} excerpts analysed in {time.perf_counter() - t0:.0f} s",
              flush=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(out))
    return out


def row(name: str, s: dict, v: dict, t: dict, gains: list[str]) -> str:
    st = ", ".join(f"{k} {s[k]}" for k in ("accept", "accept_clicked", "min_peak", "both",
                                            "clicked") if s.get(k) is not None)
    return (f"| {name} | {st} | {v['f1']:.3f} / {v['precision']:.3f} / "
            f"{v['false_per_min_clean']:.2f} | {t['f1']:.3f} | {t['precision']:.3f} | "
            f"{t['recall']:.3f} | {t['drum_f1']:.3f} | {t['false_per_min_clean']:.2f} | "
            + " | ".join(gains) + " |")


def gains(splits: list[tuple], s: dict) -> list[str]:
    """F1 gain over the bundle's own settings on each of ``splits`` (clips, events and
    :func:`clip_counts` at the bundle's own settings), with its 90 % interval over
    excerpts drawn with replacement."""
    out = []
    for clips, base, own in splits:
        g, lo, hi = f1_gain(own, clip_counts(clips, base, **s))
        out.append(f"{g:+.3f} ({lo:+.3f}..{hi:+.3f})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--verifier", type=Path, default=None, help="bundle (default shipped)")
    ap.add_argument("--name", default="shipped", help="names the cached events")
    ap.add_argument("--tune", default="val,control_val,control_tune")
    ap.add_argument("--test", default="test,control")
    ap.add_argument("--cache", type=Path, default=Path("cache/eval/acceptance"))
    args = ap.parse_args()

    det = Detector(device="cpu", verifier=args.verifier)
    if det.verifier is None:
        sys.exit("no click verifier bundle (vinylmon/weights/verifier): train one first")
    tune_splits = [s for s in args.tune.split(",") if s]
    test_splits = [s for s in args.test.split(",") if s]
    try:
        tune = [c for sp in tune_splits for c in load_split(args.corpus, sp)]
        test = [c for sp in test_splits for c in load_split(args.corpus, sp)]
    except FileNotFoundError as e:
        sys.exit(f"{e} (scripts/make_corpus.py builds the splits)")
    tb = events(det, args.corpus, tune_splits, args.cache / f"{args.name}_tune.pkl")
    xb = events(det, args.corpus, test_splits, args.cache / f"{args.name}_test.pkl")

    print(f"| {args.name}: rule | settings | validation F1 / precision / false a minute "
          "| test F1 | precision | recall | drum-heavy F1 | false a minute, clean "
          "| F1 gain on validation (90 %) | F1 gain on test (90 %) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    own = dict(accept=det.accept, min_peak=det.min_peak_db, both=det.both_offset,
               clicked=det.both_offset_clicked, accept_clicked=det.accept_clicked)
    print(row("the bundle's own", own, figures(tune, tb, **own), figures(test, xb, **own),
              ["0", "0"]))
    splits = [(clips, base, clip_counts(clips, base, **own))
              for clips, base in ((tune, tb), (test, xb))]
    for adaptive in (False, True):
        for budget in BUDGETS:
            s, v = choose(tune, tb, budget=budget, adaptive=adaptive)
            name = f"{'adaptive' if adaptive else 'rule'}, budget {budget:g}"
            print(row(name, s, v, figures(test, xb, **s), gains(splits, s)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

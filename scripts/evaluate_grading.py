#!/usr/bin/env python3
"""The measured grade on the corpus test split: n, k, scratches and the grade, one table.

Every excerpt goes through the app's own path (``analyse_excerpt``: the
detector, the click verifier and the window measures, when shipped, over 5-s
windows, then ``measure``: GRADING.md's rubric), with the windows' k as the app
averages it. Against the
simulator's exact truth:

- n (surface noise, dB re L): median error, mean absolute error, 95th percentile,
  and by band of true n;
- k (crackle per second): the share of excerpts with k >= 1/s measured within
  +-25 %, and the median ratio measured / true;
- repeating scratches: recall (true trains of >= 3 ticks found: a reported train
  with >= 2 ticks within 20 ms of the true train's ticks, where the simulator placed
  them) and precision (reported trains that are true), over all excerpts and over
  excerpts with >= 100 clicks/min;
  recall also over the trains with >= 3 ticks that stand over the music (their
  energy above 8 kHz >= 0 dB over the music's, as the click table counts audible
  clicks); reported on clean control music;
- the grade: exact and within one; clean control music graded NM;
- reliability: per band of the probability the grade states, how often it is right.
  The probabilities allow for n's error spread, measured on the validation split
  first (``--update-meta`` stores it in the detector's meta.json);
- the learned grader alone: grade exact and within one (``--update-meta`` stores
  its validation skill, the weight the fused grade gives it).


    python scripts/evaluate_grading.py --update-meta   # docs/eval/grading.md + grading.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vinylmon.grading.fusion import (
    CLICK_ERROR_FROM_PER_MIN,
    CRACKLE_FLOOR_PER_S,
    click_log_error,
    crackle_log_error,
    measured_probs,
)
from vinylmon.grading.measured import CLICK_DENSITY_MIN_EVENTS
from vinylmon.grading.rubric import CLICK_FLOOR_DB, GRADES, grade_quantities
from vinylmon.models.bundle import WEIGHTS_DIR
from vinylmon.models.grader import aggregate
from vinylmon.models.inference import Detector, LearnedGrader, analyse_excerpt
from vinylmon.training.corpus import Clip, load_split

SR = 44100
WINDOW_S = 5.0
N_BANDS = ((-80, -60), (-60, -50), (-50, -40), (-40, -30), (-30, -15))


def learned_grade(x: np.ndarray, a, grader: LearnedGrader) -> str:
    """The learned grader alone on an excerpt: its 5-s windows' probabilities,
    aggregated over the windows the gate passed, as the app does."""
    n = int(WINDOW_S * SR)
    wins = [x[:, s:s + n] for s in range(0, x.shape[1] - n + 1, n)]
    probs = grader.run(wins)
    live = np.array([not s for s in a.silent[:len(wins)]], float)
    return GRADES[int(np.argmax(aggregate(probs, weights=live if live.any() else None)))]


def run(clips: list[Clip], det: Detector, *, noise_sd_db: float = 0.0,
        crackle_sd_log: float = 0.0, click_sd_log: float = 0.0,
        grader: LearnedGrader | None = None) -> list[dict]:
    rows = []
    for clip in clips:
        x = clip.read()
        a = analyse_excerpt(x, det)
        q = a.side.quantities
        g = grade_quantities(q) if q is not None else None
        true_scr = [s for s in clip.row["scratches"] if s["count"] >= 3]
        conf = None
        if g is not None:
            probs = measured_probs(q, clicks=a.side.clicks, crackle=a.side.crackle,
                                   false_clicks_per_min=det.false_clicks_per_min,
                                   noise_sd_db=noise_sd_db, crackle_sd_log=crackle_sd_log,
                                   click_sd_log=click_sd_log)
            conf = float(probs[GRADES.index(g.grade)])
        found = [[e.start_s for e in a.events if e.scratch_id == t.id] for t in a.side.scratches]
        rows.append({
            "id": clip.id, "split": clip.split, "grade": clip.grade,
            "pred": g.grade if g else "NM", "confidence": conf,
            "n_true": clip.surface_noise_db, "n_est": a.noise_db,
            "k_true": float(clip.row["quantities"]["crackle_per_s"]),
            "k_est": q.crackle_per_s if q else 0.0,
            "k_audible": audible_crackle(clip),
            "c_true": float(clip.row["quantities"]["clicks_per_min"]),
            "c_est": q.clicks_per_min if q else 0.0,
            "c_learned": bool(a.side.clicks_learned),
            "scr_true": [true_ticks(clip, s) for s in true_scr],
            "scr_audible": [audible_ticks(clip, s) >= 3 for s in true_scr],
            "scr_found": found,
            "learned": learned_grade(x, a, grader) if grader is not None else None,
        })
    return rows


def _methods(det: Detector) -> str:
    """How n and k were measured (as in the app), for the notes."""
    if "log1p_crackle_per_s" in det.measured:
        return f"- n and k come from {det.measures.source}, as in the app"
    k = (f"{det.crackle_method}; the truth's k counts every tick" if det.counts_crackle
         else "its impulse-count heads (impulses less click-loud events)")
    return (f"- n comes from {det.noise_method}, read at the quietest-reading quarter of the "
            f"windows, and k from {k}, as in the app")


def audible_crackle(clip: Clip) -> float:
    """The true crackle per second that stands over the music tick by tick: impulses
    under L - 10 dB whose energy above 8 kHz is >= 0 dB over the music's within
    +-10 ms (the clicks' detectability); the truth's k also counts the masked ones."""
    q = clip.row["quantities"]
    audible = (clip.peak_db < CLICK_FLOOR_DB) & (np.nan_to_num(clip.detect_db, nan=-np.inf)
                                                 >= 0.0)
    return float(np.count_nonzero(audible) / q["analysed_s"]) if q["analysed_s"] else 0.0


def true_ticks(clip: Clip, scratch: dict) -> np.ndarray:
    """The start times (s) of a true scratch's ticks, as the simulator placed them (wow
    moves them off a regular grid: after ten revolutions by more than 20 ms)."""
    return np.sort(clip.starts[clip.scratch_id == scratch["id"]]) / SR


def audible_ticks(clip: Clip, scratch: dict) -> int:
    """How many of a true scratch's ticks stand over the music: energy above 8 kHz
    >= 0 dB over the music's within +-10 ms (the clicks' detectability; before a
    microphone path's room noise)."""
    mine = clip.scratch_id == scratch["id"]
    return int(np.count_nonzero(np.nan_to_num(clip.detect_db[mine], nan=-np.inf) >= 0.0))


def same_train(true_s: np.ndarray, found_s: list[float]) -> bool:
    """Whether a reported train is a true one: >= 2 of its ticks within 20 ms of the
    true train's ticks."""
    return sum(np.min(np.abs(true_s - t)) < 0.02 for t in found_s) >= 2


def scratch_scores(rows: list[dict], *, audible_only: bool = False) -> dict:
    tp_t = n_t = tp_f = n_f = 0
    for r in rows:
        for want, audible in zip(r["scr_true"], r["scr_audible"], strict=True):
            if audible_only and not audible:
                continue
            n_t += 1
            tp_t += any(same_train(want, f) for f in r["scr_found"])
        for f in r["scr_found"]:
            n_f += 1
            tp_f += any(same_train(want, f) for want in r["scr_true"])
    return {"recall": tp_t / n_t if n_t else float("nan"),
            "precision": tp_f / n_f if n_f else float("nan"), "true": n_t, "reported": n_f}


CONF_BINS = (0.0, 0.5, 0.7, 0.9, 0.99, 1.0001)


def reliability(rows: list[dict]) -> list[dict]:
    """Per band of the grade's stated probability: excerpts, the mean stated
    probability and how often the grade was right (a calibrated grade says 0.9 where
    it is right 9 times in 10)."""
    out = []
    conf = np.array([r["confidence"] if r["confidence"] is not None else np.nan
                     for r in rows], float)
    right = np.array([r["pred"] == r["grade"] for r in rows])
    for lo, hi in zip(CONF_BINS[:-1], CONF_BINS[1:], strict=True):
        m = (conf >= lo) & (conf < hi)
        out.append({"band": f"{lo:g}..{min(hi, 1.0):g}", "n": int(m.sum()),
                    "stated": float(conf[m].mean()) if m.any() else None,
                    "right": float(right[m].mean()) if m.any() else None})
    return out


def _rms(e: np.ndarray) -> float:
    """The RMS of the finite errors ``e`` (0 when there are none)."""
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e ** 2))) if e.size else 0.0


def crackle_spread(rows: list[dict]) -> float:
    """The RMS of k's log error (:func:`vinylmon.grading.fusion.crackle_log_error`) over
    the excerpts: the spread the grade allows for."""
    return _rms(crackle_log_error([r["k_est"] for r in rows], [r["k_true"] for r in rows]))


def click_spread(rows: list[dict]) -> float:
    """The RMS of c's log error (:func:`vinylmon.grading.fusion.click_log_error`) where
    the true c is at least CLICK_ERROR_FROM_PER_MIN: the spread the grade allows for."""
    return _rms(click_log_error([r["c_est"] for r in rows], [r["c_true"] for r in rows]))


def noise_spread(rows: list[dict]) -> float:
    """The RMS error of n (dB) over the excerpts: the spread the grade allows for."""
    return _rms(np.array([r["n_est"] - r["n_true"] for r in rows], float))


def learned_scores(rows: list[dict]) -> dict | None:
    """The learned grader alone: grade exact and within one (None without one)."""
    rows = [r for r in rows if r.get("learned")]
    if not rows:
        return None
    gt = np.array([GRADES.index(r["grade"]) for r in rows])
    gl = np.array([GRADES.index(r["learned"]) for r in rows])
    return {"exact": float(np.mean(gt == gl)), "within_one": float(np.mean(np.abs(gt - gl) <= 1)),
            "n": len(rows)}


def summary(rows: list[dict], control: list[dict]) -> dict:
    n_t = np.array([r["n_true"] for r in rows])
    n_e = np.array([r["n_est"] for r in rows])
    ok = np.isfinite(n_t) & np.isfinite(n_e)
    err = n_e[ok] - n_t[ok]
    bands = {}
    for lo, hi in N_BANDS:
        m = (n_t[ok] >= lo) & (n_t[ok] < hi)
        bands[f"{lo}..{hi} dB"] = {"n": int(m.sum()),
                                   "median_err_db": float(np.median(err[m])) if m.any() else None,
                                   "mae_db": float(np.mean(np.abs(err[m]))) if m.any() else None}
    k_t = np.array([r["k_true"] for r in rows])
    k_e = np.array([r["k_est"] for r in rows])
    big = k_t >= 1.0
    gt = np.array([GRADES.index(r["grade"]) for r in rows])
    gp = np.array([GRADES.index(r["pred"]) for r in rows])
    heavy = [r for r in rows if r["c_true"] >= 100]
    c_t = np.array([r["c_true"] for r in rows])
    c_e = np.array([r["c_est"] for r in rows])
    clicked = c_t >= CLICK_ERROR_FROM_PER_MIN
    return {
        "learned": learned_scores(rows),
        "excerpts": len(rows),
        "noise": {"median_err_db": float(np.median(err)), "mae_db": float(np.mean(np.abs(err))),
                  "within_3db": float(np.mean(np.abs(err) <= 3.0)),
                  "p95_abs_db": float(np.percentile(np.abs(err), 95)), "n": int(ok.sum()),
                  "bands": bands},
        "crackle": {"within_25pct": float(np.mean(np.abs(k_e[big] - k_t[big]) <= 0.25 * k_t[big])),
                    "median_ratio": float(np.median(k_e[big] / k_t[big])), "n": int(big.sum()),
                    "audible": crackle_scores(k_e, np.array([r["k_audible"] for r in rows]))},
        "clicks": {"within_25pct": float(np.mean(np.abs(c_e[clicked] - c_t[clicked])
                                                 <= 0.25 * c_t[clicked])),
                   "median_ratio": float(np.median(c_e[clicked] / c_t[clicked])),
                   "n": int(clicked.sum()),
                   "learned": int(sum(r["c_learned"] for r in rows))},
        "scratches": scratch_scores(rows), "scratches_heavy_clicks": scratch_scores(heavy),
        "scratches_audible": scratch_scores(rows, audible_only=True),
        "scratches_on_clean_control": int(sum(len(r["scr_found"]) for r in control)),
        "grade": {"exact": float(np.mean(gt == gp)),
                  "within_one": float(np.mean(np.abs(gt - gp) <= 1))},
        "reliability": reliability(rows),
        "control": {"excerpts": len(control),
                    "graded_nm": int(sum(r["pred"] == "NM" for r in control)),
                    "grades": {g: int(sum(r["pred"] == g for r in control)) for g in GRADES}},
    }


def crackle_scores(k_e: np.ndarray, k_a: np.ndarray) -> dict:
    """k measured against the audible crackle (:func:`audible_crackle`): within +-25 %
    and the median ratio where it is >= 1/s; how often it is < 0.2/s where that is."""
    big, none = k_a >= 1.0, k_a < 0.2
    return {"within_25pct": float(np.mean(np.abs(k_e[big] - k_a[big]) <= 0.25 * k_a[big]))
            if big.any() else None,
            "median_ratio": float(np.median(k_e[big] / k_a[big])) if big.any() else None,
            "n": int(big.sum()),
            "under_nm_limit": float(np.mean(k_e[none] < 0.2)) if none.any() else None,
            "n_none": int(none.sum())}


def f(v, d=2):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{d}f}" if isinstance(v, float) else str(v)


def table(s: dict, command: str, notes: list[str]) -> str:
    n, k, g, c = s["noise"], s["crackle"], s["grade"], s["control"]
    sc, sh = s["scratches"], s["scratches_heavy_clicks"]
    lines = [f"Made by `{command}`.", "", "| quantity | measured | target |", "|---|---|---|",
             f"| n: median error (dB) | {f(n['median_err_db'])} | within +-1 |",
             f"| n: mean absolute error (dB) | {f(n['mae_db'])} | <= 2 |",
             f"| n: 95th percentile of the absolute error (dB) | {f(n['p95_abs_db'])} | |",
             f"| n: excerpts within 3 dB | {f(n['within_3db'])} | |",
             f"| k: excerpts with k >= 1/s measured within +-25 % | {f(k['within_25pct'])} "
             f"({k['n']} excerpts) | >= 0.70 |",
             f"| k: median ratio measured / true | {f(k['median_ratio'])} | |",
             f"| k against the audible crackle (ticks >= 0 dB over the music above 8 kHz): "
             f"excerpts with >= 1/s within +-25 % | {f(k['audible']['within_25pct'])} "
             f"({k['audible']['n']} excerpts) | |",
             f"| k against the audible crackle: median ratio measured / audible | "
             f"{f(k['audible']['median_ratio'])} | |",
             f"| k < 0.2/s where the audible crackle is | {f(k['audible']['under_nm_limit'])} "
             f"({k['audible']['n_none']} excerpts) | |",
             f"| c: excerpts with c >= {CLICK_ERROR_FROM_PER_MIN:g}/min measured within +-25 % | "
             f"{f(s['clicks']['within_25pct'])} ({s['clicks']['n']} excerpts) | |",
             f"| c: median ratio measured / true | {f(s['clicks']['median_ratio'])} | |",
             f"| c with the models' click counts (windows that show clicks) | "
             f"{s['clicks']['learned']} of {s['excerpts']} excerpts | |",
             f"| repeating scratches: recall | {f(sc['recall'])} ({sc['true']} true) | >= 0.95 |",
             f"| repeating scratches: precision | {f(sc['precision'])} ({sc['reported']} "
             f"reported) | >= 0.95 |",
             f"| repeating scratches with >= 3 ticks over the music (>= 0 dB above 8 kHz): "
             f"recall | {f(s['scratches_audible']['recall'])} "
             f"({s['scratches_audible']['true']} true) | |",
             f"| repeating scratches, excerpts >= 100 clicks/min: recall / precision | "
             f"{f(sh['recall'])} / {f(sh['precision'])} | >= 0.95 |",
             f"| repeating scratches reported on clean control music | "
             f"{s['scratches_on_clean_control']} | 0 |",
             f"| grade exact | {f(g['exact'])} | >= 0.80 |",
             f"| grade within one | {f(g['within_one'])} | >= 0.98 |",
             f"| clean control music graded NM | {c['graded_nm']} of {c['excerpts']} "
             f"({f(c['graded_nm'] / max(1, c['excerpts']))}) | >= 11 of 12 |",
             *([f"| the wav2vec2 grader alone: grade exact | {f(s['learned']['exact'])} | "
                f">= 0.50 |", f"| the wav2vec2 grader alone: grade within one | "
                f"{f(s['learned']['within_one'])} | |"] if s.get("learned") else []),
             "", "n by band of the true n:", "", "| true n | excerpts | median error | MAE |",
             "|---|---|---|---|"]
    for band, v in n["bands"].items():
        lines.append(f"| {band} | {v['n']} | {f(v['median_err_db'])} | {f(v['mae_db'])} |")
    lines += ["", "Reliability: the probability the grade states, against how often it is "
              "right:", "", "| stated probability | excerpts | mean stated | right |",
              "|---|---|---|---|"]
    for v in s["reliability"]:
        lines.append(f"| {v['band']} | {v['n']} | {f(v['stated'])} | {f(v['right'])} |")
    lines += ["", "Grades of the clean control music: " + ", ".join(
        f"{g} {v}" for g, v in c["grades"].items() if v), ""] + notes
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--control", default="control")
    ap.add_argument("--out", type=Path, default=Path("docs/eval"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--scratch-accept", type=float, default=None,
                    help="verifier probability down to which an impulse may be a scratch tick "
                         "(default: the bundle's postprocess.scratch_accept)")
    ap.add_argument("--tune-split", default="val",
                    help="split on which n's error spread is measured (never the test split)")
    ap.add_argument("--measures", default=None,
                    help="window measures bundle (a measures or a stereo grader bundle; "
                         "default: the shipped one, if any; 'none': the detector's heads)")
    ap.add_argument("--grader", type=Path, default=WEIGHTS_DIR / "grader",
                    help="the learned grader, scored alone (a missing folder: none)")
    ap.add_argument("--k-from-heads", action="store_true",
                    help="k from the detector's impulse-count heads, as before the verifier "
                         "counted crackle (for comparison)")
    ap.add_argument("--crackle-gate", type=float, default=None, metavar="PER_S",
                    help="override the verifier's postprocess.crackle_gate_per_s (crackle "
                         "ticks a second in a window from which the count heads' density "
                         "may raise its k); a negative value: none")
    ap.add_argument("--update-meta", action="store_true",
                    help="store n's error spread in the detector's meta (postprocess) and the "
                         "learned grader's skill on the tuning split in its meta (metrics)")
    args = ap.parse_args()
    command = "python scripts/evaluate_grading.py " + " ".join(sys.argv[1:])
    det = Detector(device="cpu", measures=False if args.measures == "none" else args.measures)
    if args.k_from_heads:
        det.crackle_floor_db = None
    if args.crackle_gate is not None:
        det.crackle_gate_per_s = args.crackle_gate if args.crackle_gate >= 0 else None
    if args.scratch_accept is not None:
        det.scratch_accept = min(args.scratch_accept, det.accept)
    grader = LearnedGrader(args.grader, device="cpu") if (args.grader / "meta.json").exists() \
        else None
    t0 = time.perf_counter()
    tune = run(load_split(args.corpus, args.tune_split)[:args.limit], det, grader=grader)
    sd = noise_spread(tune)
    ksd = crackle_spread(tune)
    csd = click_spread(tune)
    skill = learned_scores(tune)
    print(f"n's error spread on {args.tune_split}: {sd:.2f} dB (RMS); k's: {ksd:.2f}, c's: "
          f"{csd:.2f} (RMS of the log errors); the learned grader there: {skill}", flush=True)
    if args.update_meta:
        path = det.folder / "meta.json"
        meta = json.loads(path.read_text())
        meta["postprocess"] = {**meta.get("postprocess", {}), "noise_sd_db": round(sd, 2),
                               "crackle_sd_log": round(ksd, 3), "click_sd_log": round(csd, 3)}
        path.write_text(json.dumps(meta, indent=1))
        if skill is not None:  # the fused grade weighs it by this (validation) skill
            path = args.grader / "meta.json"
            meta = json.loads(path.read_text())
            meta["metrics"] = {**meta.get("metrics", {}), "validation": {
                "grade": skill, "split": args.tune_split, "command": command}}
            path.write_text(json.dumps(meta, indent=1))
    rows = run(load_split(args.corpus, args.split)[:args.limit], det, noise_sd_db=sd,
               crackle_sd_log=ksd, click_sd_log=csd, grader=grader)
    control = run(load_split(args.corpus, args.control)[:args.limit], det,
                  noise_sd_db=sd, crackle_sd_log=ksd, click_sd_log=csd) \
        if args.control else []
    s = summary(rows, control)
    notes = [f"- {args.split} split: {len(rows)} excerpts of 30 s; clean control music "
             f"({args.control}): {len(control)} excerpts of the test songs; "
             f"{time.perf_counter() - t0:.0f} s on this CPU.",
             f"- The grade's probabilities allow for n's error spread, {sd:.2f} dB RMS on "
             f"the {args.tune_split} split, for k's, {ksd:.2f} RMS in ln((k + "
             f"{CRACKLE_FLOOR_PER_S:g}) / (true k + {CRACKLE_FLOOR_PER_S:g})) there, for c's, "
             f"{csd:.2f} RMS in ln((c + 1) / (true c + 1)) where the true c is >= "
             f"{CLICK_ERROR_FROM_PER_MIN:g}/min, and for the click detector's "
             f"{det.false_clicks_per_min:g} false click-loud events per minute on clean "
             "validation music (c is counted net of them).",
             "- c is the click-loud events per minute, counting in each window that holds "
             f"{CLICK_DENSITY_MIN_EVENTS} or more of them the models' click count for it "
             "instead where higher (learned from exact simulated counts, so it includes the "
             "clicks the music masks); the truth's c counts every impulse >= L - 10 dB.",
             _methods(det)
             + ", events from the candidate stage and the click verifier "
             "(vinylmon/weights/verifier)."]
    text = "# The measured grade\n\n" + table(s, command, notes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grading.md").write_text(text)
    per = [{k: r[k] for k in ("id", "grade", "pred", "confidence", "n_true", "n_est", "k_true",
                              "k_est", "c_true", "c_est", "learned")} for r in rows + control]
    (args.out / "grading.json").write_text(json.dumps({"command": command, **s,
                                                       "rows": per}, indent=1, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

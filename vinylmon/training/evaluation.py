"""Scoring the detector against exact truth: event matching and window classes.

Shared by ``scripts/evaluate.py`` (the corpus test split) and
:mod:`vinylmon.training.finetune` (before/after a microphone profile), so both
count events and classes the same way:

- a detection matches a truth impulse if their sample spans overlap within
  +-1 ms (:data:`TOL`), one-to-one, nearest first (:func:`match`);
- click events are truth impulses with peak >= L - 10 dB: recall is the share of
  them matched by a detection; precision is the share of detections the
  detector calls click-loud that match a real impulse (:class:`EventTally`);
- false events per minute: detections matching no truth impulse, on clean
  music (NM excerpts), separately for drum-heavy and other clean music;
- window classes: the rubric applied to each 5-s window (:func:`window_truth`),
  scored by :func:`class_scores`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.grading.rubric import CLICK_FLOOR_DB
from vinylmon.training.corpus import Clip, window_class

TOL = 44  # 1 ms at 44.1 kHz
WINDOW_S = 5.0
SR = 44100


def match(det: np.ndarray, truth: np.ndarray, *, tol: int = TOL) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of spans (rows of start, end in samples).

    Returns boolean arrays: which detections and which truth spans are matched.
    """
    dm = np.zeros(len(det), bool)
    tm = np.zeros(len(truth), bool)
    if len(det) == 0 or len(truth) == 0:
        return dm, tm
    order = np.argsort(truth[:, 0])
    ts, te = truth[order, 0], truth[order, 1]
    maxlen = int((te - ts).max())
    pairs = []
    for i, (s, e) in enumerate(det):
        lo = np.searchsorted(ts, s - tol - maxlen)
        hi = np.searchsorted(ts, e + tol)
        for j in range(lo, hi):
            if ts[j] < e + tol and te[j] > s - tol:
                pairs.append((abs(int(ts[j]) - int(s)), i, j))
    for _, i, j in sorted(pairs):
        if not dm[i] and not tm[j]:
            dm[i] = tm[j] = True
    out = np.zeros(len(truth), bool)
    out[order] = tm
    return dm, out


def prf(tp_p: int, n_p: int, tp_r: int, n_r: int) -> dict:
    p = tp_p / n_p if n_p else 1.0
    r = tp_r / n_r if n_r else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "detections": n_p, "truth": n_r}


class EventTally:
    """Click precision/recall and false events, summed over excerpts."""

    def __init__(self):
        self.c = defaultdict(float)

    def add(self, clip: Clip, det: np.ndarray, det_click: np.ndarray, minutes: float):
        truth = np.stack([clip.starts, clip.ends], 1) if len(clip.starts) else np.zeros((0, 2))
        dm, tm = match(det, truth)
        click_truth = clip.peak_db >= CLICK_FLOOR_DB
        for tag in ("all", "drum") if clip.drum_heavy else ("all",):
            self.c[tag + ".det_click"] += det_click.sum()
            self.c[tag + ".det_click_ok"] += (det_click & dm).sum()
            self.c[tag + ".truth_click"] += click_truth.sum()
            self.c[tag + ".truth_click_ok"] += (click_truth & tm).sum()
        if clip.grade == "NM":
            tag = "clean_drum" if clip.drum_heavy else "clean_other"
            self.c[tag + ".false"] += (~dm).sum()
            self.c[tag + ".false_click"] += (~dm & det_click).sum()
            self.c[tag + ".minutes"] += minutes

    def summary(self) -> dict:
        c = self.c
        out = {}
        for tag in ("all", "drum"):
            out["click_" + tag] = prf(int(c[tag + ".det_click_ok"]), int(c[tag + ".det_click"]),
                                      int(c[tag + ".truth_click_ok"]),
                                      int(c[tag + ".truth_click"]))
        mins = {t: c[t + ".minutes"] for t in ("clean_drum", "clean_other")}
        for t, m in mins.items():
            out[f"false_per_min_{t}"] = c[t + ".false"] / m if m else float("nan")
            out[f"false_click_per_min_{t}"] = c[t + ".false_click"] / m if m else float("nan")
        total = sum(mins.values())
        out["false_per_min_clean"] = (c["clean_drum.false"] + c["clean_other.false"]) / total \
            if total else float("nan")
        out["clean_minutes"] = total
        return out


def confusion(t, p, k):
    m = np.zeros((k, k), int)
    for a, b in zip(t, p, strict=True):
        m[a, b] += 1
    return m


def class_scores(t, p) -> dict:
    m = confusion(t, p, len(WINDOW_CLASSES))
    per = {}
    for i, name in enumerate(WINDOW_CLASSES):
        tp = m[i, i]
        prec = tp / m[:, i].sum() if m[:, i].sum() else float("nan")
        rec = tp / m[i].sum() if m[i].sum() else float("nan")
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[name] = {"precision": prec, "recall": rec, "f1": f1, "support": int(m[i].sum())}
    return {"accuracy": float(np.trace(m) / m.sum()), "per_class": per, "confusion": m.tolist()}


def window_truth(clip: Clip) -> list[int]:
    """The class of each 5-s window of ``clip`` (the last one may be shorter)."""
    n = int(WINDOW_S * SR)
    return [window_class(clip, s, min(n, clip.frames - s)) for s in range(0, clip.frames, n)]

"""The click settings' selection on known events: the acceptance for windows that
click (evaluate_clicks.runs_for) and the probe's F1 gain with its interval."""

import sys
from pathlib import Path

import numpy as np
import pytest

from vinylmon.grading.events import DefectEvent

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import evaluate_clicks  # noqa: E402
import probe_acceptance  # noqa: E402


def ev(start_s, channel, confidence, peak_db=0.0):
    return DefectEvent.at_level(start_s, start_s + 0.001, channel, peak_db, confidence)


def kept(runs) -> list[float]:
    spans, _ = runs[0]
    return sorted(round(float(s) / 44100, 3) for s in spans[:, 0])


def test_a_window_that_clicks_accepts_at_its_own_acceptance():
    """Window 0 holds a sure one-channel click (0.9), window 1 none: a 0.75 impulse
    passes in window 0 only with accept_clicked 0.7, and never in window 1; a
    both-channel one there takes the clicked window's offset too."""
    base = [[ev(1.0, 0, 0.9), ev(2.0, 1, 0.75), ev(3.0, None, 0.75),
             ev(6.0, 0, 0.75), ev(7.0, None, 0.99)]]
    plain = evaluate_clicks.runs_for(base, accept=0.8, min_peak=-15.0, both=0.0)
    assert kept(plain) == [1.0, 7.0]
    lower = evaluate_clicks.runs_for(base, accept=0.8, min_peak=-15.0, both=0.0,
                                     accept_clicked=0.7)
    assert kept(lower) == [1.0, 2.0, 3.0, 7.0]
    strict_both = evaluate_clicks.runs_for(base, accept=0.8, min_peak=-15.0, both=-4.0,
                                           clicked=-1.0, accept_clicked=0.7)
    # 0.75 at -1 is 0.52 < 0.7; 0.99 at -4 (window 1, not clicked) is 0.64 < 0.8
    assert kept(strict_both) == [1.0, 2.0]
    # without a sure click the window keeps the first acceptance
    quiet = [[ev(1.0, 0, 0.79), ev(2.0, 1, 0.75)]]
    assert kept(evaluate_clicks.runs_for(quiet, accept=0.8, min_peak=-15.0, both=0.0,
                                         accept_clicked=0.7)) == []


def test_f1_of_summed_counts():
    # detections, those right, true clicks, those found
    counts = np.array([[10, 8, 10, 8], [0, 0, 5, 0]], float)
    p, r = 8 / 10, 8 / 15
    assert probe_acceptance.f1_of(counts.sum(0)) == pytest.approx(2 * p * r / (p + r))
    assert probe_acceptance.f1_of(np.zeros(4)) == 0.0


def test_the_f1_gain_and_its_interval():
    rng = np.random.default_rng(3)
    truth = rng.integers(5, 20, 60).astype(float)
    a = np.stack([truth, truth * 0.7, truth, truth * 0.7], 1)
    same = probe_acceptance.f1_gain(a, a, draws=200)
    assert same == (0.0, 0.0, 0.0)
    right = truth * rng.uniform(0.75, 0.95, truth.size)  # better on every excerpt
    b = np.stack([truth, right, truth, right], 1)
    g, lo, hi = probe_acceptance.f1_gain(a, b, draws=200)
    assert g == pytest.approx(right.sum() / truth.sum() - 0.7)
    assert 0 < lo < g < hi

"""The soak of scripts/soak.py, shortened: minutes of looped input through the live
monitor at accelerated pace (the benchmark script runs the full hour)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import soak  # noqa: E402

pytestmark = pytest.mark.slow


def test_minutes_of_input_hold_memory_queue_and_every_event(cpu_engine, tmp_path):
    res = soak.run_soak(cpu_engine, total_s=180.0, speed=20.0, sample_s=0.25,
                        journal_dir=tmp_path, timeout_s=240)
    # 90 s of audio is too short for a per-hour slope (a few MB of noise is 100 MB/h):
    # the memory check here is the second half's absolute growth
    assert res.problems(max_growth_mb_per_hour=float("inf")) == [], res.summary()
    assert soak.second_half_growth_mb(res.samples) < 40, res.summary()
    assert res.windows_expected == 36
    assert res.windows_analysed > 0 and len(res.samples) > 10
    assert res.max_queue <= 2
    assert res.events > 0 and res.impulses >= res.events
    # memory sampled all along, no run-away growth between the first and the last sample
    assert res.rss_end_mb - res.rss_start_mb < 300, res.summary()


def test_a_flooding_source_is_dropped_not_queued(throttled_engine, tmp_path):
    """As fast as the source goes, into a detector slowed to 0.2 s a window: the engine
    cannot keep up on any machine (the shipped models alone can, on a fast one), the
    queue stays bounded and every window is analysed or counted as dropped."""
    engine, _ = throttled_engine(0.2)
    res = soak.run_soak(engine, total_s=120.0, speed=None, sample_s=0.05,
                        journal_dir=tmp_path, timeout_s=240)
    assert res.accounted, res.summary()
    assert res.windows_dropped > 0
    assert res.max_queue <= res.max_pending


def test_the_result_flags_what_failed():
    res = soak.SoakResult(
        audio_s=60, wall_s=1, speed=None, max_pending=2, windows_expected=12,
        windows_analysed=10, windows_silent=0, windows_dropped=1, max_queue=3,
        rss_start_mb=100, rss_peak_mb=900, rss_end_mb=900, growth_mb_per_hour=800,
        impulses=5, impulses_not_in_events=1, events=4, recall_first=None, recall_last=None,
        inference_first_ms=None, inference_last_ms=None)
    problems = " ".join(res.problems())
    for word in ("windows", "queue", "impulses", "memory"):
        assert word in problems

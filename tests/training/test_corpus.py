"""Training targets from corpus truth: window classes and frame targets."""

from pathlib import Path

import numpy as np
import pytest

from vinylmon.training.corpus import Clip, frame_targets, window_class, window_counts

SR = 44100
N = 5 * SR


def clip(starts=(), peaks=(), *, noise_db=-70.0, scratch=(), skips=()):
    starts = np.array(starts, np.int64)
    return Clip(id="t", split="test", path=Path("/nonexistent"), frames=6 * N, sample_rate=SR,
                grade="NM", surface_noise_db=noise_db, drum_heavy=False, silent_windows=(),
                skip_times_s=tuple(skips), starts=starts, ends=starts + 40,
                channel=np.full(len(starts), -1, np.int8),
                peak_db=np.array(peaks, np.float32), kind=np.zeros(len(starts), np.int8),
                scratch_tick=np.array([i in scratch for i in range(len(starts))], bool), row={})


def test_clean():
    assert window_class(clip(), 0, N) == 0


def test_one_click_is_click():
    assert window_class(clip([1000], [0.0]), 0, N) == 1
    assert window_class(clip([1000], [0.0]), N, N) == 0  # not in the next window


def test_crackle_needs_rate_and_audibility():
    starts = list(range(1000, N, N // 30))  # 30 ticks in 5 s = 6/s -> G+ for k
    assert window_class(clip(starts, [-30.0] * len(starts)), 0, N) == 2
    # too faint for a listener (below -40 dB re L): the window stays clean
    assert window_class(clip(starts, [-45.0] * len(starts)), 0, N) == 0


def test_worst_criterion_wins():
    starts = list(range(1000, N, N // 30))
    loud = clip(starts + [N - 10], [-30.0] * len(starts) + [0.0])
    assert window_class(loud, 0, N) == 2  # k=6/s is G+, one click (12/min) only VG
    assert window_class(clip([1000], [0.0], noise_db=-30.0), 0, N) == 4  # n -30 dB: G


def test_scratch_and_skip():
    assert window_class(clip([1000], [0.0], scratch=(0,)), 0, N) == 3
    assert window_class(clip(skips=(2.0,)), 0, N) == 3


def test_frame_targets():
    c = clip([10_000, 20_000, 30_000], [0.0, -30.0, -45.0])
    t = frame_targets(c, 0, N, hop=256, n_frames=N // 256 + 1)
    f = (10_000 + 128) // 256
    assert t["impulse"][f] == 1 and t["click"][f] == 1 and t["level_db"][f] == 0.0
    g = (20_000 + 128) // 256
    assert t["impulse"][g] == 1 and t["click"][g] == 0
    h = (30_000 + 128) // 256
    assert t["impulse"][h] == 0 and t["impulse_mask"][h] == 0  # too faint: ignored
    assert t["impulse"].sum() == 2
    # levels re the window: a window 15 dB quieter than the excerpt hears -30 as -15
    shifted = frame_targets(c, 0, N, hop=256, n_frames=N // 256 + 1, offset_db=15.0)
    assert shifted["level_db"][g] == pytest.approx(-15.0)
    assert window_counts(c, 0, N) == (1, 3)
    assert window_counts(c, 0, N, offset_db=25.0) == (2, 3)

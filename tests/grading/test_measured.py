"""The measured grader: c, k, n, s from events, then the rubric."""

import numpy as np
import pytest

from vinylmon.grading.measured import (
    Event,
    find_scratches,
    measure,
    side_noise_db,
)


def _click(t, peak=0.0):
    return Event(t, t + 0.001, None, peak)


def test_counts_and_grade():
    events = [_click(t) for t in np.linspace(1, 50, 10)]  # 10 clicks in 60 s
    events += [_click(t, -30.0) for t in np.linspace(0.5, 59, 30)]  # 0.5 crackle/s
    m = measure(events, analysed_s=60.0, noise_db=-65.0)
    assert m.quantities.clicks_per_min == pytest.approx(10.0)
    assert m.quantities.crackle_per_s == pytest.approx(0.5)
    assert m.grade.grade == "VG"
    assert m.grade.limited_by == "clicks_per_min"
    assert "VG+ allows < 4" in m.grade.reason


def test_noise_limits():
    m = measure([], analysed_s=30.0, noise_db=-35.0)
    assert m.grade.grade == "G+" and m.grade.limited_by == "surface_noise_db"


def test_crackle_override():
    m = measure([], analysed_s=30.0, noise_db=-70.0, crackle_per_s=7.0)
    assert m.quantities.crackle_per_s == 7.0
    assert m.grade.grade == "G+"


def test_repeating_scratch_found(rng):
    period = 60 / (100 / 3) * 1.01  # 1 % fast
    ticks = [3.0 + i * period for i in range(5)]
    noise = [_click(t, -5.0) for t in rng.uniform(0, 30, 6)]
    events = sorted([_click(t, -2.0 + rng.uniform(-1, 1)) for t in ticks] + noise,
                    key=lambda e: e.start_s)
    found = find_scratches(events)
    assert len(found) == 1
    s = found[0]
    assert s.rpm == pytest.approx(100 / 3)
    assert s.period_s == pytest.approx(period, rel=1e-3)
    assert len(s.ticks) >= 5
    m = measure(events, analysed_s=30.0, noise_db=-70.0)
    assert m.quantities.scratches == 1


def test_no_scratch_from_random_clicks(rng):
    events = [_click(t) for t in np.sort(rng.uniform(0, 60, 8))]
    assert find_scratches(events) == ()


def test_two_ticks_are_not_a_scratch():
    assert find_scratches([_click(1.0), _click(2.8)]) == ()


def test_bad_arguments():
    with pytest.raises(ValueError):
        measure([], analysed_s=0.0, noise_db=-60)
    with pytest.raises(ValueError):
        measure([], analysed_s=10.0, noise_db=float("nan"))


def test_a_sides_noise_reads_where_the_music_leaks_least():
    """Windows whose estimates the music has pushed up do not move n: the quietest
    quarter of the audio decides, weighted by duration."""
    est = [-62.0, -61.5, -48.0, -45.0, -40.0, -61.0, -52.0, -50.0]
    assert side_noise_db(est, [5.0] * 8) == pytest.approx(-61.5)
    # a long window counts for its length: 30 s at -55 dB is most of the side
    assert side_noise_db([-62.0, -55.0, -40.0], [2.0, 30.0, 5.0]) == pytest.approx(-55.0)
    assert side_noise_db([-58.0], [3.0]) == -58.0
    # windows without an estimate are left out; none at all: -inf
    assert side_noise_db([float("-inf"), -50.0], [5.0, 5.0]) == -50.0
    assert side_noise_db([], []) == float("-inf")

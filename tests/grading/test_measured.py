"""The side's measurement (events -> c, k, n, s, x) and the scratch finder."""

import numpy as np
import pytest

from vinylmon.grading.events import AnalysedWindow, DefectEvent, Impulse
from vinylmon.grading.measured import (
    groove_noise_db,
    groove_windows,
    measure_side,
    merge_impulses,
    side_noise_db,
)
from vinylmon.grading.rubric import grade_quantities
from vinylmon.grading.scratches import find_scratches
from vinylmon.grading.skips import Repeat

LEVEL_DBFS = -20.0


def _click(t, peak=0.0):
    return DefectEvent.at_level(t, t + 0.001, None, peak)


def _side(impulses, *, seconds=60.0, window_s=5.0, noise_db=-65.0, crackle_per_s=None,
          silent=(), learned_clicks=None):
    """Back-to-back windows at LEVEL_DBFS holding ``impulses`` ((time, peak re L))."""
    out = []
    for i, t0 in enumerate(np.arange(0.0, seconds, window_s)):
        t1 = min(seconds, t0 + window_s)
        if i in silent:
            out.append(AnalysedWindow(i, t0, t1, True, -80.0, None, None, float("nan"), (), 0.0))
            continue
        imps = tuple(Impulse(t, t + 0.001, None, LEVEL_DBFS + p, 0.99)
                     for t, p in impulses if t0 <= t < t1)
        out.append(AnalysedWindow(i, t0, t1, False, LEVEL_DBFS, None, None, noise_db, imps, 0.0,
                                  crackle_per_s, learned_clicks=learned_clicks))
    return out


def test_counts_and_grade():
    imps = [(t, 0.0) for t in np.linspace(1, 50, 10)]  # 10 clicks in 60 s
    imps += [(t, -30.0) for t in np.linspace(0.5, 59, 30)]  # 0.5 crackle/s
    m = measure_side(_side(imps))
    q = m.quantities
    assert m.program_level_db == pytest.approx(LEVEL_DBFS)
    assert q.clicks_per_min == pytest.approx(10.0)
    assert q.crackle_per_s == pytest.approx(0.5)
    assert q.surface_noise_db == pytest.approx(-65.0)
    assert (m.clicks, m.crackle) == (10, 30)
    assert [e.kind for e in m.events].count("click") == 10
    g = grade_quantities(q)
    assert g.grade == "VG" and g.limited_by == "clicks_per_min"
    assert "VG+ allows < 4" in g.reason


def test_false_clicks_come_off_c():
    imps = [(t, 0.0) for t in np.linspace(1, 50, 10)]
    m = measure_side(_side(imps), false_clicks_per_min=4.0)
    assert m.quantities.clicks_per_min == pytest.approx(6.0)


def test_windows_that_show_clicks_take_their_learned_click_count():
    """A window that holds a detected click-loud event counts the heads' click count for
    it when that is higher (the music masks clicks); the count behind c's probabilities
    follows it, the false rate taken off as before; events stay the detected ones."""
    imps = [(1.0, 0.0), (2.0, 0.0), (17.0, 0.0), (33.0, 0.0)]  # in windows 0, 3 and 6
    m = measure_side(_side(imps, learned_clicks=3.0))
    assert m.clicks_learned and m.clicks == 9  # 3 + 3 + 3 in the three windows
    assert m.quantities.clicks_per_min == pytest.approx(9.0)
    m = measure_side(_side(imps, learned_clicks=3.0), false_clicks_per_min=1.0)
    assert m.quantities.clicks_per_min == pytest.approx(8.0) and m.clicks == 9
    assert [e.kind for e in m.events].count("click") == 4
    # a count under the detected one leaves it: window 0 keeps its 2
    m = measure_side(_side(imps, learned_clicks=1.5))
    assert m.clicks_learned and m.clicks == round(2 + 1.5 + 1.5)
    m = measure_side(_side(imps, learned_clicks=0.5))
    assert not m.clicks_learned and m.quantities.clicks_per_min == pytest.approx(4.0)


def test_windows_without_a_detected_click_keep_none():
    """The heads' imagined clicks in windows with no detected click do not count (one
    false click raises one window, not the side); nor does anything when a window has
    no learned count."""
    m = measure_side(_side([], learned_clicks=3.0))
    assert not m.clicks_learned and m.quantities.clicks_per_min == 0.0 and m.clicks == 0
    m = measure_side(_side([(10.0, 0.0)], learned_clicks=3.0), false_clicks_per_min=0.8)
    assert m.clicks_learned and m.clicks == 3
    assert m.quantities.clicks_per_min == pytest.approx(3.0 - 0.8)
    m = measure_side(_side([(10.0, -30.0)], learned_clicks=3.0))  # a crackle tick: no click
    assert not m.clicks_learned and m.clicks == 0
    w = _side([(t, 0.0) for t in (1.0, 17.0, 33.0, 49.0)], learned_clicks=2.0)
    w[5] = AnalysedWindow(5, 25.0, 30.0, False, LEVEL_DBFS, None, None, -65.0, (), 0.0)
    m = measure_side(w)
    assert not m.clicks_learned and m.quantities.clicks_per_min == pytest.approx(4.0)


def test_noise_limits():
    m = measure_side(_side([], seconds=30.0, noise_db=-35.0))
    g = grade_quantities(m.quantities)
    assert g.grade == "G+" and g.limited_by == "surface_noise_db"


def test_window_measures_give_k_weighted_by_length():
    """k is the windows' density, each window weighing by its length (a short last one
    counts for its seconds); the count behind k's probabilities follows it."""
    w = _side([], seconds=12.0, crackle_per_s=7.0)
    w[-1] = AnalysedWindow(2, 10.0, 12.0, False, LEVEL_DBFS, None, None, -65.0, (), 0.0, 1.0)
    m = measure_side(w)
    assert m.quantities.crackle_per_s == pytest.approx((7.0 * 10 + 1.0 * 2) / 12)
    assert m.crackle == round(m.quantities.crackle_per_s * 12.0)


def test_silent_windows_are_heard_not_analysed():
    m = measure_side(_side([(2.0, 0.0), (7.0, 0.0)], seconds=20.0, silent=(1,)))
    assert m.heard_s == 20.0 and m.analysed_s == 15.0
    assert [e.start_s for e in m.events] == [2.0]  # the silent window's impulse is not heard
    assert measure_side(_side([], seconds=10.0, silent=(0, 1))).quantities is None


def test_scratch_ticks_are_events_of_kind_scratch(rng):
    period = 60 / (100 / 3)
    ticks = [(3.0 + i * period, -2.0 + rng.uniform(-1, 1)) for i in range(6)]
    m = measure_side(_side(ticks + [(41.3, 0.0)]))
    assert m.quantities.scratches == 1 and m.rpm == pytest.approx(100 / 3)
    kinds = {e.start_s: e.kind for e in m.events}
    assert [kinds[t] for t, _ in ticks] == ["scratch"] * 6 and kinds[41.3] == "click"
    assert {e.scratch_id for e in m.events if e.kind == "scratch"} == {0}


def test_a_skip_needs_its_landing_tick():
    repeats = [Repeat(start_s=20.0, end_s=21.8, period_s=1.8, similarity=0.99)]
    assert measure_side(_side([(20.1, 0.0)]), repeats=repeats).quantities.skips == 1
    assert measure_side(_side([(30.0, 0.0)]), repeats=repeats).quantities.skips == 0


def test_split_detections_merge_into_one_event():
    imps = [Impulse(1.0, 1.0005, 0, -20.0, 0.9), Impulse(1.0012, 1.002, 1, -18.0, 0.95),
            Impulse(3.0, 3.001, 0, -20.0, 0.9)]
    merged = merge_impulses(imps)
    assert len(merged) == 2
    assert merged[0].channel is None and merged[0].peak_dbfs == -18.0
    assert merged[0].end_s == 1.002 and merged[0].confidence == 0.95


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


def test_no_scratch_from_random_clicks(rng):
    events = [_click(t) for t in np.sort(rng.uniform(0, 60, 8))]
    assert find_scratches(events) == ()


def test_two_ticks_are_not_a_scratch():
    assert find_scratches([_click(1.0), _click(2.8)]) == ()


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


# ----------------------------------------------------------------------------- the groove alone
def _groove_side(music_s=60.0, *, lead_s=10.0, bed_db=-45.0, head_db=-70.0, quiet=None,
                 ticks=(), music_k=None):
    """A lead-in and a run-out of the groove alone (steady, at ``bed_db`` re the music's
    level) around music windows whose noise estimates read ``head_db`` re L (a head that
    under-reads the bed); ``quiet``: (index, level re L) of a steady quiet music window."""
    out, t = [], 0.0
    spans = [(lead_s, True), (music_s, False), (lead_s, True)]
    for seconds, groove in spans:
        for t0 in np.arange(t, t + seconds, 5.0):
            i = len(out)
            level = LEVEL_DBFS + bed_db if groove else LEVEL_DBFS
            floor = level if groove else float("nan")
            if quiet is not None and i == quiet[0]:
                level = floor = LEVEL_DBFS + quiet[1]
            out.append(AnalysedWindow(i, t0, t0 + 5.0, False, level, None, None,
                                      head_db + LEVEL_DBFS - level, (), 0.0, music_k, floor,
                                      tuple(LEVEL_DBFS + p for p in ticks) if groove else ()))
        t += seconds
    return out


def test_the_groove_alone_gives_n_and_stays_out_of_L():
    m = measure_side(_groove_side())
    assert m.noise_db == pytest.approx(-45.0, abs=1e-6)  # read, not the head's -70
    assert m.groove_s == pytest.approx(20.0)
    assert m.program_level_db == pytest.approx(LEVEL_DBFS)  # the groove is not music
    assert m.analysed_s == pytest.approx(80.0)  # still heard and analysed
    assert grade_quantities(m.quantities).per_criterion["surface_noise_db"] == "VG"


def test_a_steady_quiet_passage_does_not_outvote_the_groove():
    # a steady passage 25 dB under the music looks like groove; the real groove, 45 dB
    # under, is quieter still, and n is read there
    m = measure_side(_groove_side(quiet=(6, -25.0)))
    assert m.groove_s == pytest.approx(20.0)
    # the quiet passage is music: it stays in L (11 windows at the music's level, one 25
    # dB under), and the groove is read against that L
    music = 10 * np.log10((11 + 10 ** -2.5) / 12)
    assert m.program_level_db == pytest.approx(LEVEL_DBFS + music)
    assert m.noise_db == pytest.approx(-45.0 - music)


def test_without_the_groove_n_comes_from_the_estimates_as_before():
    m = measure_side(_groove_side(lead_s=0.0))
    assert m.groove_s == 0.0
    assert m.noise_db == pytest.approx(-70.0)
    # a bed only 15 dB under the music is not taken for the groove alone: music can be
    # that quiet (18.7 dB under L at most in the corpus's excerpts)
    m = measure_side(_groove_side(bed_db=-15.0))
    assert m.groove_s == 0.0


def test_groove_windows_find_L_without_them():
    floor = np.array([-70.0, np.nan, np.nan, -66.0, -45.0])
    level = np.array([-70.0, -20.0, -20.0, -66.0, -45.0])
    groove, program = groove_windows(floor, level, np.full(5, 5.0))
    # the groove: steady, 20 dB under L and within GROOVE_AGREE_DB of the quietest
    # (-45 dB is a steady quiet passage of music: it stays in L)
    assert groove.tolist() == [True, False, False, True, False]
    assert program == pytest.approx(10 * np.log10((2 * 10 ** -2.0 + 10 ** -4.5) / 3))
    n = groove_noise_db(floor[groove], np.full(2, 5.0), program)
    assert n == pytest.approx(10 * np.log10((10 ** -7.0 + 10 ** -6.6) / 2) - program)


def test_the_groove_alone_gives_k_tick_by_tick():
    """Each groove window holds ticks at -40, -30 and -5 dB re L: two crackle ticks and
    a click; 4 windows of groove (20 s): k = 8 / 20 s, whatever the windows under the
    music estimate (here 9/s: the density the music's windows would give)."""
    m = measure_side(_groove_side(ticks=(-40.0, -30.0, -5.0), music_k=9.0))
    assert m.groove_s == pytest.approx(20.0)
    assert m.quantities.crackle_per_s == pytest.approx(8 / 20.0)
    assert m.crackle == 8
    no_groove = measure_side(_groove_side(lead_s=0.0, music_k=9.0))
    assert no_groove.quantities.crackle_per_s == pytest.approx(9.0)

"""The scratch tracker on event lists: periods, members, rpm estimate, wow."""

import numpy as np
import pytest

from vinylmon.grading.events import DefectEvent
from vinylmon.grading.scratches import every_revolution, track_scratches


def _train(rng, *, period_s, count, start_s=3.0, wow=0.004, peak_db=2.0):
    t, out = start_s, []
    for _ in range(count):
        out.append(DefectEvent.at_level(t, t + 0.0005, None, peak_db + rng.normal(0, 1.0), 0.9))
        t += period_s * (1 + rng.normal(0, wow))
    return out


def _distractors(rng, n, duration_s):
    return [DefectEvent.at_level(float(t), float(t) + 0.0004, 0, float(rng.uniform(-30, 10)), 0.8)
            for t in rng.uniform(0, duration_s, n)]


def test_1p8_s_train_is_one_scratch_with_its_members(rng):
    train = _train(rng, period_s=1.8, count=12)
    events = sorted(train + _distractors(rng, 15, 30.0), key=lambda e: e.start_s)
    tracks, members, rpm = track_scratches(events, rpm=100 / 3)
    assert len(tracks) == 1
    s = tracks[0]
    assert s.period_s == pytest.approx(1.8, rel=0.01)
    assert s.count == 12 and s.first_s == train[0].start_s and s.last_s == train[-1].start_s
    ids = {events[i].start_s for i, tid in members.items() if tid == s.id}
    assert ids == {e.start_s for e in train}
    assert rpm == pytest.approx(100 / 3)
    assert 0.5 < s.confidence <= 1.0


def test_45_rpm_train_found_without_rpm_and_speed_estimated(rng):
    train = _train(rng, period_s=60 / 45 * 1.02, count=9)  # 2 % fast turntable
    events = sorted(train + _distractors(rng, 10, 20.0), key=lambda e: e.start_s)
    tracks, members, rpm = track_scratches(events)
    assert rpm == 45.0
    assert len(tracks) == 1
    assert tracks[0].period_s == pytest.approx(60 / 45 * 1.02, rel=0.01)
    assert sorted(members) == sorted(events.index(e) for e in train)


def test_no_train_no_scratch_and_rpm_unknown(rng):
    events = sorted(_distractors(rng, 20, 60.0), key=lambda e: e.start_s)
    tracks, members, rpm = track_scratches(events)
    assert tracks == [] and members == {} and rpm is None


def test_two_ticks_are_not_a_scratch(rng):
    tracks, _, _ = track_scratches(_train(rng, period_s=1.8, count=2), rpm=100 / 3)
    assert tracks == []


def test_wrong_rpm_given_finds_nothing(rng):
    tracks, _, _ = track_scratches(_train(rng, period_s=1.8, count=8), rpm=78.0)
    assert tracks == []


def test_bad_rpm():
    with pytest.raises(ValueError, match="rpm"):
        track_scratches([], rpm=0.0)


def test_irregular_steps_lower_the_confidence(rng):
    steady, _, _ = track_scratches(_train(np.random.default_rng(1), period_s=1.8, count=8,
                                          wow=0.001), rpm=100 / 3)
    wobbly, _, _ = track_scratches(_train(np.random.default_rng(1), period_s=1.8, count=8,
                                          wow=0.012), rpm=100 / 3)
    assert steady and wobbly
    assert wobbly[0].confidence < steady[0].confidence


def test_a_beat_every_other_revolution_is_not_a_scratch(rng):
    # clicks on a beat two revolutions apart (0.75 s at 78 rpm every 1.5 s): each step
    # bridges one revolution, so no three ticks come at consecutive revolutions
    beat = _train(rng, period_s=1.5, count=10, wow=0.0005)
    assert track_scratches(beat, rpm=78.0)[0] == []
    assert track_scratches(beat)[0] == []


def test_a_scratch_with_a_missed_revolution_is_still_found(rng):
    train = _train(rng, period_s=1.8, count=9)
    events = train[:4] + train[5:]  # one revolution's tick went undetected
    tracks, members, _ = track_scratches(events, rpm=100 / 3)
    assert len(tracks) == 1 and tracks[0].count == 8
    assert len(members) == 8


def test_a_scratch_missing_every_other_tick_for_a_while_is_still_found(rng):
    train = _train(rng, period_s=1.8, count=7)
    events = train[:3] + [train[4], train[6]]  # steps: 1, 1, 2, 2 revolutions
    tracks, _, _ = track_scratches(events, rpm=100 / 3)
    assert len(tracks) == 1 and tracks[0].count == 5


def test_every_revolution_weighs_single_steps_against_bridged_ones():
    assert every_revolution(np.array([0.0, 1.8, 3.6]), period_s=1.8, min_ticks=3)
    assert every_revolution(np.array([0.0, 1.8, 5.4, 7.2]), period_s=1.8, min_ticks=3)
    assert not every_revolution(np.array([0.0, 1.8, 5.4, 9.0]), period_s=1.8, min_ticks=3)
    assert not every_revolution(np.array([0.0, 3.6, 7.2, 10.8]), period_s=1.8, min_ticks=3)
    assert not every_revolution(np.array([0.0, 1.8]), period_s=1.8, min_ticks=3)


def test_two_scratches_that_tick_together_once_are_both_found(rng):
    # two trains of slightly different periods (the simulator gives each scratch its
    # own speed error) drift across each other: where their ticks land within the
    # merge gap they are one event
    a = _train(rng, period_s=1.79, count=8, start_s=2.0, wow=0.0)
    b = [DefectEvent.at_level(t, t + 0.0005, 0, -1.0, 0.95)
         for t in (a[3].start_s - 3 * 1.82 + 1.82 * k for k in range(8))]
    shared = {3: a[3].start_s}  # b's fourth tick is a's fourth: one event
    b = [e if i not in shared else a[i] for i, e in enumerate(b)]
    events = sorted({e.start_s: e for e in a + b}.values(), key=lambda e: e.start_s)
    tracks, members, _ = track_scratches(events, rpm=100 / 3)
    assert len(tracks) == 2
    periods = sorted(t.period_s for t in tracks)
    assert periods[0] == pytest.approx(1.79, rel=0.005)
    assert periods[1] == pytest.approx(1.82, rel=0.005)
    assert sorted(t.count for t in tracks) == [8, 8]
    # the shared event is a member of one of them
    assert members[events.index(a[3])] in {t.id for t in tracks}


def test_a_train_inside_a_longer_one_is_not_a_second_scratch(rng):
    train = _train(rng, period_s=1.8, count=10, wow=0.0)
    tracks, _, _ = track_scratches(train, rpm=100 / 3)
    assert len(tracks) == 1 and tracks[0].count == 10

"""The session's incremental measurement equals a measurement of the whole side from
scratch after every window: events, kinds, scratches, skips, L, n, c, k."""

import dataclasses

import numpy as np

from vinylmon.grading.events import AnalysedWindow, DefectEvent, Impulse
from vinylmon.grading.measured import SideMeter, measure_side, merge_impulses, side_noise_db
from vinylmon.grading.rubric import CLICK_FLOOR_DB, RPMS
from vinylmon.grading.scratches import track_scratches
from vinylmon.grading.skips import Repeat, confirm_skips


def from_scratch(windows, *, rpm, repeats):
    """The side measured in one go, the plain way (no state kept between windows)."""
    live = [w for w in windows if not w.silent]
    dur = np.array([w.end_s - w.start_s for w in live])
    lv = np.array([w.level_db for w in live])
    program = float(10 * np.log10(np.sum(10 ** (lv / 10) * dur) / dur.sum()))
    noise = side_noise_db([w.noise_db + w.level_db - program for w in live], dur)
    placed = [DefectEvent.at_level(i.start_s, i.end_s, i.channel, i.peak_dbfs - program,
                                   i.confidence)
              for i in merge_impulses([i for w in live for i in w.impulses])]
    tracks, members, rpm_out = track_scratches(placed, rpm=rpm)
    events = tuple(dataclasses.replace(
        e, kind="scratch" if n in members else e.kind, peak_db=round(e.peak_db, 2),
        confidence=round(e.confidence, 4), scratch_id=members.get(n))
        for n, e in enumerate(placed))
    clicks = sum(1 for e in placed if e.peak_db >= CLICK_FLOOR_DB)
    return dict(events=events, tracks=tuple(tracks), rpm=rpm_out, program=program, noise=noise,
                clicks=clicks, skips=tuple(confirm_skips(repeats, placed)))


def _stream(rng, n_windows, *, scratch_rpm, crackle=True):
    """Windows of a side: levels drifting, some silent, clicks, crackle, a scratch."""
    period = 60 / scratch_rpm
    ticks = 30.0 + period * np.arange(25)
    out = []
    for i in range(n_windows):
        t0, t1 = 5.0 * i, 5.0 * i + 5.0
        if rng.random() < 0.08:
            out.append(AnalysedWindow(i, t0, t1, True, -70.0, None, None, float("nan"), (), 0.0))
            continue
        level = -22 + 3 * np.sin(i / 7) + rng.normal(0, 1)
        ts = list(rng.uniform(t0, t1, rng.poisson(4)))
        ps = list(level + rng.uniform(-30, 12, len(ts)))
        ts += [t for t in ticks if t0 <= t < t1]
        ps += [level - 5 + rng.normal(0, 1) for t in ticks if t0 <= t < t1]
        if rng.random() < 0.2:  # a detection split across channels, a few samples on
            ts.append(ts[-1] + 0.0004)
            ps.append(ps[-1] - 3)
        imps = tuple(sorted((Impulse(t, t + 0.0008, int(rng.integers(0, 2)) if rng.random() < 0.5
                                     else None, p, float(rng.uniform(0.9, 1.0)))
                             for t, p in zip(ts, ps, strict=True)), key=lambda m: m.start_s))
        out.append(AnalysedWindow(i, t0, t1, False, level, (0.2,) * 5, None,
                                  -55 + rng.normal(0, 4), imps, 0.0,
                                  float(rng.uniform(0, 3)) if crackle else None))
    return out


def test_the_meter_equals_the_whole_side_measured_from_scratch(rng):
    for rpm, scratch_rpm, crackle in ((None, 45.0, True), (100 / 3, 100 / 3, False),
                                      (None, 78.0, True)):
        windows = _stream(rng, 60, scratch_rpm=scratch_rpm, crackle=crackle)
        repeats = [Repeat(start_s=w.impulses[0].start_s - 0.1, end_s=0.0, period_s=1.8,
                          similarity=0.99) for w in windows[5::17] if w.impulses]
        meter = SideMeter()
        saw_scratch = False
        for n, w in enumerate(windows, 1):
            meter.add(w)
            if all(x.silent for x in windows[:n]):
                continue
            got = meter.measure(rpm=rpm, repeats=repeats)
            want = from_scratch(windows[:n], rpm=rpm, repeats=repeats)
            assert got.program_level_db == want["program"]
            assert got.noise_db == want["noise"]
            assert tuple(got.events) == want["events"]
            assert got.scratches == want["tracks"] and got.rpm == want["rpm"]
            assert got.clicks == want["clicks"] and got.skips == want["skips"]
            saw_scratch |= bool(want["tracks"])
        assert saw_scratch
        if rpm is None:
            assert got.rpm in RPMS


def test_a_window_out_of_order_is_measured_from_scratch(rng):
    windows = _stream(rng, 12, scratch_rpm=45.0)
    meter = SideMeter()
    for w in windows[:6] + windows[8:] + windows[6:8]:
        meter.add(w)
    got = meter.measure()
    want = from_scratch(windows[:6] + windows[8:] + windows[6:8], rpm=None, repeats=[])
    assert tuple(got.events) == want["events"]
    assert [e.start_s for e in got.events] == sorted(e.start_s for e in got.events)


def test_learned_click_counts_do_not_depend_on_the_order_windows_came_in(rng):
    windows = [w if w.silent else dataclasses.replace(w, learned_clicks=float(rng.uniform(2, 8)))
               for w in _stream(rng, 12, scratch_rpm=45.0)]
    in_order = measure_side(windows)
    meter = SideMeter()
    for w in windows[:6] + windows[8:] + windows[6:8]:
        meter.add(w)
    got = meter.measure()
    assert in_order.clicks_learned and got.clicks_learned
    assert got.clicks == in_order.clicks
    assert got.quantities.clicks_per_min == in_order.quantities.clicks_per_min


def test_faint_detections_are_events_only_as_ticks_of_a_scratch():
    """Below ``accept`` an impulse is not an event of its own, but it can complete a
    repeating scratch: the train's ticks are reported (kind scratch) and counted."""
    period = 60 / 45
    ticks = [10.0 + k * period for k in range(5)]
    windows = []
    for i in range(6):
        t0, t1 = 5.0 * i, 5.0 * i + 5.0
        imps = [Impulse(t, t + 0.0008, None, -20.0, 0.75) for t in ticks if t0 <= t < t1]
        imps += [Impulse(t, t + 0.0008, 0, -22.0, c) for t, c in ((2.0, 0.99), (3.0, 0.75))
                 if t0 <= t < t1]
        windows.append(AnalysedWindow(i, t0, t1, False, -20.0, (0.2,) * 5, None, -60.0,
                                      tuple(sorted(imps, key=lambda m: m.start_s)), 0.0, 0.5))
    meter = SideMeter()
    for w in windows:
        meter.add(w)
    m = meter.measure(rpm=45.0, accept=0.98)
    assert m.quantities.scratches == 1
    assert [e.start_s for e in m.events] == [2.0] + ticks  # 3.0 s: faint and alone
    assert [e.kind for e in m.events] == ["click"] + ["scratch"] * 5
    assert m.clicks == 6  # scratch ticks >= L - 10 dB count in c
    everything = meter.measure(rpm=45.0, accept=0.0)
    assert len(everything.events) == 7

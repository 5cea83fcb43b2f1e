"""The disc map's geometry: angles from the (refined) revolution, radii from the groove."""

import math

import numpy as np
import pytest

from vinylmon.grading.discmap import (
    DEFAULT_RPM,
    DISC_SIZES,
    STANDARD_PITCH_MM,
    angle_deg,
    angle_spread_deg,
    disc_map,
    mark_size,
    radius_mm,
    rotation,
    time_at,
)
from vinylmon.grading.events import DefectEvent, ScratchTrack

NOMINAL = 60.0 / DEFAULT_RPM  # 1.8 s


def scratch(rng, *, first_s, count, period_s, wow=0.002, sid=0, missing=()):
    """Ticks one ``period_s`` apart with ``wow`` (relative, random) jitter, some left out;
    the events and their track."""
    n = np.arange(count)
    ticks = first_s + n * period_s + rng.normal(0.0, wow * period_s, count)
    ticks = np.delete(ticks, list(missing))
    events = [DefectEvent("scratch", float(t), float(t) + 0.001, None, -4.0, 0.9, sid)
              for t in ticks]
    steps = np.diff(ticks)
    track = ScratchTrack(sid, float(np.median(steps / np.round(steps / period_s))),
                         float(ticks[0]), float(ticks[-1]), len(ticks), 0.9, DEFAULT_RPM, -4.0)
    return events, track


def test_a_scratch_at_a_drifted_speed_lies_on_one_radial_line(rng):
    """A turntable 1 % slow (ticks at period * 1.01) with small random wow: fitted, the
    ticks' angles span a few degrees; at the nominal period they would fan out."""
    events, track = scratch(rng, first_s=412.3, count=14, period_s=NOMINAL * 1.01, missing=(5,))
    rot = rotation(rpm=DEFAULT_RPM, scratches=[track], events=events)
    assert rot.period_s == pytest.approx(NOMINAL * 1.01, rel=1e-3)
    assert rot.speed_error == pytest.approx(-0.0099, abs=0.001)
    assert rot.anchor_id == 0 and rot.fitted_ticks == 13 and not rot.assumed
    ticks = [e.start_s for e in events]
    angles = angle_deg(ticks, rot)
    assert angle_spread_deg(angles) <= 5.0
    # anchored: the scratch points up (angle 0)
    assert all(min(a, 360.0 - a) < 3.0 for a in angles)
    # at the nominal period the same ticks drift 3.6 degrees a revolution
    nominal = rotation(rpm=DEFAULT_RPM)
    assert angle_spread_deg(angle_deg(ticks, nominal)) > 30.0
    # and so does the map's line: at the scratch's angle, from its first tick inward
    m = disc_map(events, [track], rpm=DEFAULT_RPM)
    (line,) = m.lines
    assert min(line.angle_deg, 360.0 - line.angle_deg) < 3.0
    assert line.r_first_mm > line.r_last_mm and line.count == 13


def test_two_trains_share_one_period_each_on_its_own_line(rng):
    a, ta = scratch(rng, first_s=60.0, count=20, period_s=NOMINAL * 0.992, sid=0)
    b, tb = scratch(rng, first_s=700.45, count=6, period_s=NOMINAL * 0.992, sid=1)
    events = sorted(a + b, key=lambda e: e.start_s)
    m = disc_map(events, [ta, tb], rpm=None)
    assert m.rotation.anchor_id == 0 and m.rotation.fitted_ticks == 26
    assert m.rotation.period_s == pytest.approx(NOMINAL * 0.992, rel=5e-4)
    for sid in (0, 1):
        sel = [i for i, e in enumerate(events) if e.scratch_id == sid]
        assert angle_spread_deg(m.angle_deg[sel]) <= 5.0


def test_no_rpm_no_scratch_assumes_33_and_says_so():
    rot = rotation(rpm=None)
    assert rot.assumed and rot.period_s == pytest.approx(1.8) and rot.phase_s == 0.0
    assert "33⅓ rpm assumed" in rot.note()
    rot45 = rotation(rpm=45.0)
    assert not rot45.assumed and rot45.period_s == pytest.approx(60 / 45)
    assert "assumed" not in rot45.note()
    assert angle_deg([0.0, 0.45, 0.9, 1.8 + 0.45], rot).tolist() == pytest.approx(
        [0.0, 90.0, 180.0, 90.0])


def test_an_implausible_fit_keeps_the_nominal_period(rng):
    # ticks 20 % off the nominal period cannot be this speed's: the nominal stays
    events, track = scratch(rng, first_s=10.0, count=8, period_s=NOMINAL * 1.2)
    rot = rotation(rpm=DEFAULT_RPM, scratches=[track], events=events)
    assert rot.period_s == pytest.approx(NOMINAL) and rot.fitted_ticks == 0


def test_a_20_minute_side_falls_monotonically_from_lead_in_to_run_out():
    size = DISC_SIZES[12]
    t = np.linspace(0.0, 1200.0, 2001)
    r = radius_mm(t, period_s=NOMINAL, side_s=1200.0)
    assert r[0] == pytest.approx(size.outer_mm) and r[-1] == pytest.approx(size.inner_mm)
    assert np.all(np.diff(r) < 0)
    assert size.outer_mm == pytest.approx(146.3) and size.inner_mm == pytest.approx(60.3)
    # linear in revolutions: the middle of the side is half-way across the recorded area
    assert r[1000] == pytest.approx((size.outer_mm + size.inner_mm) / 2)
    # side length unknown: the standard pitch, stopping at the run-out
    r = radius_mm(t, period_s=NOMINAL)
    assert np.all(np.diff(r) <= 0) and np.all(np.diff(r)[:100] < 0)
    revs = 1200.0 / NOMINAL
    assert r[-1] == pytest.approx(max(size.outer_mm - STANDARD_PITCH_MM[12] * revs,
                                      size.inner_mm))
    long = radius_mm([0.0, 3600.0], period_s=NOMINAL)
    assert long[-1] == pytest.approx(size.inner_mm)


@pytest.mark.parametrize("size_in", [12, 10, 7])
def test_sizes_have_their_own_recorded_area(size_in):
    s = DISC_SIZES[size_in]
    assert s.edge_mm > s.outer_mm > s.inner_mm > s.finish_mm > s.label_mm
    r = radius_mm([0.0, 300.0], period_s=NOMINAL, size_in=size_in, side_s=300.0)
    assert r.tolist() == pytest.approx([s.outer_mm, s.inner_mm])
    with pytest.raises(ValueError, match="size_in"):
        radius_mm([0.0], period_s=NOMINAL, size_in=8)


def test_map_places_events_and_gives_their_xy(rng):
    events = [DefectEvent("click", 0.0, 0.001, 0, -3.0, 0.9),
              DefectEvent("crackle", 0.45, 0.451, 1, -30.0, 0.9),
              DefectEvent("pop", 900.0, 900.01, None, 2.0, 0.9)]
    m = disc_map(events, rpm=DEFAULT_RPM, size_in=12, side_s=1200.0)
    assert m.kinds.tolist() == ["click", "crackle", "pop"]
    assert m.x_mm[0] == pytest.approx(0.0, abs=1e-9) and m.y_mm[0] == pytest.approx(146.3)
    # a quarter revolution later: counterclockwise, on the left
    assert m.x_mm[1] < 0 and m.y_mm[1] == pytest.approx(0.0, abs=0.1)
    assert math.hypot(m.x_mm[2], m.y_mm[2]) == pytest.approx(m.radius_mm[2])
    assert m.radius_mm[2] == pytest.approx(146.3 - 86.0 * 0.75)
    assert "20:00" in m.radius_note() and "run-out" in m.radius_note()
    assert "standard pitch" in disc_map(events).radius_note()
    assert m.pitch_mm == pytest.approx(86.0 * NOMINAL / 1200.0)


def test_a_point_on_the_disc_gives_back_the_time_of_its_groove():
    """Play from here: the time whose place is nearest the point clicked."""
    events = [DefectEvent("click", t, t + 0.001, 0, -3.0, 0.9) for t in (3.3, 412.7, 1100.2)]
    m = disc_map(events, rpm=DEFAULT_RPM, size_in=12, side_s=1200.0)
    for i, t in enumerate((3.3, 412.7, 1100.2)):
        assert time_at(m, m.x_mm[i], m.y_mm[i], duration_s=1200.0) == \
            pytest.approx(t, abs=NOMINAL / 360)
    # beyond what was heard: the nearest groove heard; nothing heard: none
    assert time_at(m, m.x_mm[2], m.y_mm[2], duration_s=500.0) <= 500.0
    assert time_at(m, 0.0, 100.0, duration_s=0.0) is None


def test_mark_size_grows_with_level():
    s = mark_size([-80.0, -40.0, -20.0, 10.0, 20.0, float("nan")])
    assert s[0] == s[1] == s[5] and s[3] == s[4]
    assert s[1] < s[2] < s[3]


def test_thousands_of_events_place_quickly(rng):
    import time

    n = 50_000
    t = np.sort(rng.uniform(0, 1500, n))
    events = [DefectEvent("crackle", float(x), float(x) + 0.001, None, -30.0, 0.5) for x in t]
    t0 = time.perf_counter()
    m = disc_map(events, rpm=45.0)
    assert time.perf_counter() - t0 < 1.0
    assert m.angle_deg.shape == (n,) and np.all(np.diff(m.radius_mm) <= 0)

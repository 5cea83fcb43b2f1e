"""The disc map pane: marks per kind and level, scratch lines, hover, click, lazy repaint,
and its place beside the timeline in the main window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QSplitter

from vinylmon.engine.session import SessionState
from vinylmon.grading.discmap import DISC_SIZES, angle_spread_deg
from vinylmon.grading.events import AnalysedWindow, DefectEvent, ScratchTrack
from vinylmon.gui import style
from vinylmon.gui.discmap import DiscMapView

RPM = 100.0 / 3.0
PERIOD = 1.8 * 1.01  # the turntable runs 1 % slow


def side(rng, n=300, duration=900.0):
    """Random clicks, pops and crackle, and a 13-tick scratch at the slow speed."""
    starts = np.sort(rng.uniform(0.0, duration, n))
    kinds = rng.choice(["click", "pop", "crackle"], n)
    events = [DefectEvent(str(k), float(t), float(t) + 0.001, int(rng.integers(2)),
                          float(rng.uniform(-45.0, 5.0)), 0.9)
              for k, t in zip(kinds, starts, strict=True)]
    ticks = 300.3 + PERIOD * np.arange(13) + rng.normal(0.0, 0.002 * PERIOD, 13)
    events += [DefectEvent("scratch", float(t), float(t) + 0.001, None, -4.0, 0.9, 0)
               for t in ticks]
    events.sort(key=lambda e: e.start_s)
    track = ScratchTrack(0, PERIOD, float(ticks[0]), float(ticks[-1]), 13, 0.9, RPM, -4.0)
    return events, [track]


@pytest.fixture
def view(qtbot):
    w = DiscMapView()
    qtbot.addWidget(w)
    w.resize(320, 360)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_set_session_draws_one_item_per_kind_and_a_line_per_scratch(view, rng):
    events, tracks = side(rng)
    view.set_session(events=events, scratches=tracks, rpm=RPM, duration_s=900.0)
    assert view.refresh()
    for kind in ("click", "pop", "crackle", "scratch"):
        n = sum(e.kind == kind for e in events)
        assert len(view._dots[kind].data) == n, kind
        brush = view._dots[kind].opts["brush"].color().name()
        assert brush == style.KIND_COLORS[kind]
    # a louder event is drawn larger
    clicks = [e for e in events if e.kind == "click"]
    sizes = view._dots["click"].data["size"]
    loud, quiet = int(np.argmax([e.peak_db for e in clicks])), \
        int(np.argmin([e.peak_db for e in clicks]))
    assert sizes[loud] > sizes[quiet]
    # the scratch: one radial line (connect='pairs'), labelled with its tick count
    assert len(view._line_item.xData) == 2
    assert [lb.textItem.toPlainText() for lb in view._labels] == ["×13"]
    # fitted to the slow speed, its ticks lie on that line
    ticks = [i for i, e in enumerate(events) if e.scratch_id == 0]
    assert angle_spread_deg(view.map.angle_deg[ticks]) <= 5.0
    assert view.map.rotation.fitted_ticks == 13
    assert "fitted to scratch ticks (-1.0 %)" in view.note_label.text()
    assert not view._placeholder.isVisible() and view._now_item.isVisible()


def test_no_rpm_says_33_is_assumed_and_an_empty_side_says_so(view):
    view.set_session(events=[], scratches=[], rpm=None, duration_s=0.0)
    view.refresh()
    assert view._placeholder.isVisible() and not view._now_item.isVisible()
    assert "33⅓ rpm (assumed)" in view.note_label.text()
    assert "assumed" in view.note_label.toolTip() and "standard pitch" in view.note_label.toolTip()
    assert "Angle" in view.title_label.toolTip() and view.size_combo.toolTip()


def test_hover_shows_time_kind_and_level_and_the_scratch(view):
    target = DefectEvent("click", 192.481, 192.482, 0, -4.2, 0.9)
    other = DefectEvent("pop", 192.481 + 0.9, 192.49, 1, 3.0, 0.9)  # half a turn on
    view.set_session(events=[target, other], scratches=[], rpm=RPM, duration_s=600.0)
    view.refresh()
    x, y = view.position_of(target)
    text = view.hover_at(x + 0.5, y)
    assert text.startswith("click  3:12.481  L  -4.2 dB re L")
    assert "° into the turn" in text and "mm from the centre" in text
    assert view.hover_text == text and len(view._hover_item.data) == 1
    assert view.hover_at(0.0, 0.0) == ""  # the spindle: nothing near
    assert len(view._hover_item.data) == 0
    ox, oy = view.position_of(other)
    assert np.hypot(ox + x, oy + y) < 1.0  # opposite sides of the disc
    assert view.hover_at(ox, oy).startswith("pop")


def test_hovering_a_scratch_line_names_it(view, rng):
    events, tracks = side(rng, n=0)
    view.set_session(events=events, scratches=tracks, rpm=RPM, duration_s=400.0)
    view.refresh()
    line = view.map.lines[0]
    r = (line.r_first_mm + line.r_last_mm) / 2 + 4.0  # on the line, off its ticks
    a = np.radians(line.angle_deg)
    x, y = -r * np.sin(a), r * np.cos(a)
    assert view.track_near(x, y, tolerance_mm=2.0) is tracks[0]
    assert view.track_near(-x, -y, tolerance_mm=2.0) is None
    # near its ticks, a tick's text names its scratch
    assert "(scratch #0)" in view.hover_at(x, y)
    # a scratch given without its ticks (a track alone) is still a line, named on hover
    view.set_session(events=[], scratches=tracks, rpm=RPM, duration_s=400.0)
    assert view.hover_at(x, y).startswith("scratch #0: every 1.82 s")


def test_click_emits_the_event_and_nothing_off_the_marks(view, qtbot):
    target = DefectEvent("pop", 100.0, 100.01, None, 2.0, 0.9)
    view.set_session(events=[target], scratches=[], rpm=45.0, duration_s=200.0)
    view.refresh()
    x, y = view.position_of(target)
    with qtbot.waitSignal(view.eventClicked, timeout=1000) as blocker:
        assert view.click_at(x, y) is target
    assert blocker.args == [target]
    with qtbot.assertNotEmitted(view.eventClicked):
        assert view.click_at(-x, -y) is None


def test_a_mouse_click_on_a_mark_emits_it(view, qtbot):
    target = DefectEvent("click", 250.0, 250.001, 0, 0.0, 0.9)
    view.set_session(events=[target], scratches=[], rpm=RPM, duration_s=300.0)
    view.refresh()
    vb = view.plot.getViewBox()
    scene_pt = vb.mapViewToScene(QPointF(*view.position_of(target)))
    pos = view.plot_widget.mapFromScene(scene_pt)
    with qtbot.waitSignal(view.eventClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [target]


def test_refresh_redraws_only_when_the_data_changed(view, rng):
    events, tracks = side(rng)
    drawn = view.frames_drawn
    assert not view.refresh()
    view.set_session(events=events, scratches=tracks, rpm=RPM, duration_s=900.0)
    assert view.frames_drawn == drawn  # stored, not drawn
    assert view.refresh() and view.frames_drawn == drawn + 1
    assert not view.refresh() and not view.refresh()
    assert view.frames_drawn == drawn + 1
    view.set_session(events=events[:10], scratches=[], rpm=RPM, duration_s=900.0)
    assert view.refresh() and view.frames_drawn == drawn + 2
    with pytest.raises(ValueError, match="duration_s"):
        view.set_session(events=[], scratches=[], rpm=RPM, duration_s=float("nan"))


def test_size_and_side_length_move_the_radius(view):
    ev = DefectEvent("click", 600.0, 600.001, 0, 0.0, 0.9)
    view.set_session(events=[ev], scratches=[], rpm=RPM, duration_s=1200.0,
                     side_complete=True)
    view.refresh()
    mid = (DISC_SIZES[12].outer_mm + DISC_SIZES[12].inner_mm) / 2
    assert view.map.radius_mm[0] == pytest.approx(mid)
    view.set_size(7)
    assert view.size_combo.currentData() == 7
    assert view.map.radius_mm[0] == pytest.approx((DISC_SIZES[7].outer_mm
                                                   + DISC_SIZES[7].inner_mm) / 2)
    view.size_combo.setCurrentIndex(view.size_combo.findData(12))
    assert view.size_in == 12 and view.map.size.size_in == 12


def test_thousands_of_events_redraw_quickly(view, rng):
    import time

    events, tracks = side(rng, n=20_000, duration=1500.0)
    view.set_session(events=events, scratches=tracks, rpm=RPM, duration_s=1500.0)
    t0 = time.perf_counter()
    view.refresh()
    view.grab()
    assert time.perf_counter() - t0 < 2.0
    assert len(view._dots) == 4  # one item per kind, not per event


def test_main_window_has_the_pane_beside_the_timeline_and_live_updates(make_window, qtbot,
                                                                       rng):
    w = make_window(offer_restore=False)
    splitter = w.discmap.parent()
    assert isinstance(splitter, QSplitter) and splitter is w.timeline.parent()
    assert splitter.orientation() == Qt.Orientation.Horizontal
    assert splitter.indexOf(w.timeline) == 0 and splitter.indexOf(w.discmap) == 1
    events, tracks = side(rng, n=40, duration=60.0)
    state = SessionState(events, tuple(tracks), (), RPM, -20.0, -60.0, 60.0, 60.0, None, 0)
    window = AnalysedWindow(11, 55.0, 60.0, False, -20.0, (0.6, 0.1, 0.1, 0.1, 0.1), None,
                            -60.0, (), 0.01)
    drawn = w.discmap.frames_drawn
    w._on_window(window, state)
    assert w.discmap.frames_drawn == drawn  # drawn on the timer, not in the handler
    w._tick()
    assert w.discmap.frames_drawn == drawn + 1 and len(w.discmap.map.times) == len(events)
    w._tick()
    assert w.discmap.frames_drawn == drawn + 1
    # a click opens the event as the timeline's does (here: no audio, so it says why)
    w.discmap.eventClicked.emit(events[0])
    assert any(m.startswith("Cannot show this event") for m in w.error_messages)

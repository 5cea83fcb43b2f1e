"""Zooming the live spectrogram (wheel, Shift/Ctrl+wheel, double-click, the public
methods) and closing the event zoom pop-up with Esc, driven like a user would."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from vinylmon.grading.events import DefectEvent
from vinylmon.gui.spectrogram import (
    MIN_FREQ_OCTAVES,
    MIN_TIME_SPAN_S,
    WHEEL_ZOOM,
    ScrollingSpectrogram,
    frequency_ticks,
    hz_label,
)
from vinylmon.gui.zoom import EventZoomDialog

BANDS = 64
HOP_S = 0.05


@pytest.fixture
def spec(qtbot):
    w = ScrollingSpectrogram(freqs_hz=np.geomspace(30.0, 16000.0, BANDS), column_hop_s=HOP_S,
                             visible_s=20.0)
    qtbot.addWidget(w)
    w.resize(800, 400)
    w.show()
    qtbot.waitExposed(w)
    return w


def x_range(w):
    return tuple(w.plot.getViewBox().viewRange()[0])


def y_range(w):
    return tuple(w.plot.getViewBox().viewRange()[1])


def octaves(lo_hz, hi_hz):
    return np.log2(hi_hz / lo_hz)


def wheel(w, notches=1, *, modifiers=Qt.KeyboardModifier.NoModifier, at=None):
    """A mouse-wheel turn over the plot (``notches`` > 0: away from the user, zoom in)."""
    view = w.plot_widget.viewport()
    pos = QPointF(at if at is not None else view.rect().center())
    ev = QWheelEvent(pos, QPointF(view.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                     QPoint(0, 120 * notches), Qt.MouseButton.NoButton, modifiers,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)


def left_labels(w):
    return [label for _, label in w.plot.getAxis("left")._tickLevels[0]]


def test_wheel_zooms_time_keeping_now_at_the_right(spec, rng):
    w = spec
    assert w.time_span_s == pytest.approx(20.0) and not w.zoomed
    freq_before = w.frequency_range_hz
    wheel(w, 2)
    assert w.time_span_s == pytest.approx(20.0 / WHEEL_ZOOM ** 2)
    lo, hi = x_range(w)
    assert lo == pytest.approx(-w.time_span_s) and 0.0 <= hi < 0.01 * w.time_span_s
    assert w.frequency_range_hz == pytest.approx(freq_before)  # time only
    bottom = w.plot.getAxis("bottom")._tickLevels[0]
    assert bottom[0] == (0, "now") and all(lo <= v <= 0.0 for v, _ in bottom)
    wheel(w, -1)  # towards the user: out again
    assert w.time_span_s == pytest.approx(20.0 / WHEEL_ZOOM)


def test_live_scrolling_continues_while_zoomed(spec, rng):
    w = spec
    w.zoom_time(8.0)
    drawn = w.frames_drawn
    assert w.refresh() and w.frames_drawn == drawn + 1  # the timer's repaint draws as ever
    for _ in range(5):
        cols = rng.uniform(-90.0, -10.0, (7, BANDS)).astype(np.float32)
        w.append(cols)
        assert w.refresh()
        np.testing.assert_array_equal(w.image_item.image[-7:], cols)  # newest at the right
        assert x_range(w)[0] == pytest.approx(-2.5)  # the zoom stays
        rect = w.image_item.mapRectToParent(w.image_item.boundingRect())
        assert rect.right() == pytest.approx(0.0, abs=1e-6)  # the image's end is "now"


def test_zooming_moves_the_view_without_redrawing_the_image(spec):
    w = spec
    w.refresh()
    drawn = w.frames_drawn
    w.zoom_time(2.0)
    w.zoom_frequency(2.0)
    w.reset_zoom()
    assert w.frames_drawn == drawn and w.refresh() is False


@pytest.mark.parametrize("modifier", [Qt.KeyboardModifier.ShiftModifier,
                                      Qt.KeyboardModifier.ControlModifier])
def test_shift_or_ctrl_wheel_zooms_frequency_around_the_cursor(spec, modifier):
    w = spec
    full = w.full_frequency_range_hz
    view = w.plot_widget.viewport()
    vb = w.plot.getViewBox()
    # the cursor on the plot at 1 kHz
    y_1k = w._hz_to_y(1000.0)
    scene = vb.mapViewToScene(QPointF(-10.0, y_1k))
    at = QPointF(w.plot_widget.mapFromScene(scene))
    wheel(w, 3, modifiers=modifier, at=at)
    lo, hi = w.frequency_range_hz
    assert octaves(lo, hi) == pytest.approx(octaves(*full) / WHEEL_ZOOM ** 3, rel=1e-6)
    assert lo < 1000.0 < hi
    # 1 kHz stays under the cursor (at the same fraction of the height)
    frac_before = (y_1k - 0.0) / BANDS
    y0, y1 = y_range(w)
    # (to a pixel: the cursor is at a whole pixel)
    assert (w._hz_to_y(1000.0) - y0) / (y1 - y0) == pytest.approx(frac_before, abs=0.01)
    assert w.time_span_s == pytest.approx(20.0)  # frequency only
    assert view is w.plot_widget.viewport()


def test_zoom_limits_and_reset(spec):
    w = spec
    full_hz = w.full_frequency_range_hz
    full_y = y_range(w)
    # in: not below half a second, not below an octave
    assert w.zoom_time(1e6) == pytest.approx(MIN_TIME_SPAN_S)
    assert x_range(w)[0] == pytest.approx(-MIN_TIME_SPAN_S)
    lo, hi = w.zoom_frequency(1e6)
    assert octaves(lo, hi) == pytest.approx(MIN_FREQ_OCTAVES)
    assert w.zoomed
    # out: not beyond the data
    assert w.zoom_time(1e-6) == pytest.approx(20.0)
    assert w.zoom_frequency(1e-6) == pytest.approx(full_hz)
    assert not w.zoomed
    # reset restores both
    w.zoom_time(3.0)
    w.zoom_frequency(4.0, center_hz=12000.0)
    lo, hi = w.frequency_range_hz
    assert full_hz[0] < lo < 12000.0 < hi < full_hz[1]
    lo, hi = w.zoom_frequency(0.6, center_hz=lo)  # out, from the bottom edge: pushed inside
    assert hi == pytest.approx(full_hz[1]) and lo > full_hz[0]
    w.reset_zoom()
    assert w.time_span_s == pytest.approx(20.0) and x_range(w)[0] == pytest.approx(-20.0)
    assert w.frequency_range_hz == pytest.approx(full_hz)
    assert y_range(w) == pytest.approx(full_y)
    with pytest.raises(ValueError, match="positive"):
        w.zoom_time(0.0)
    with pytest.raises(ValueError, match="positive"):
        w.zoom_frequency(float("nan"))


def test_double_click_shows_everything(spec):
    w = spec
    w.zoom_time(4.0)
    w.zoom_frequency(4.0)
    view = w.plot_widget.viewport()
    pos = QPointF(view.rect().center())
    ev = QMouseEvent(QEvent.Type.MouseButtonDblClick, pos, QPointF(view.mapToGlobal(
        pos.toPoint())), Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, ev)
    assert not w.zoomed and w.time_span_s == pytest.approx(20.0)


def test_history_length_change_keeps_a_zoom_that_fits(spec):
    w = spec
    w.zoom_time(4.0)  # 5 s
    w.set_visible_s(30.0)
    assert w.time_span_s == pytest.approx(5.0) and w.visible_s == pytest.approx(30.0)
    w.set_visible_s(4.0)  # shorter than the zoom: all of it
    assert w.time_span_s == pytest.approx(4.0) and not w.zoomed


ROUND = re.compile(r"^(\d+(\.5)?) (k?Hz)$")


def _value(label):
    m = ROUND.match(label)
    assert m, label
    return float(m.group(1)) * (1000 if m.group(3) == "kHz" else 1)


def test_frequency_axis_shows_round_values_at_every_zoom(spec):
    w = spec
    assert left_labels(w) == ["50 Hz", "100 Hz", "200 Hz", "500 Hz", "1 kHz", "2 kHz",
                              "5 kHz", "10 kHz"]
    for center in (40.0, 700.0, 1500.0, 9000.0):
        w.reset_zoom()
        w.zoom_frequency(1e6, center_hz=center)  # one octave
        labels = left_labels(w)
        lo, hi = w.frequency_range_hz
        assert len(labels) >= 2, (center, labels)
        for (y, label) in w.plot.getAxis("left")._tickLevels[0]:
            hz = _value(label)
            assert lo <= hz <= hi
            assert w._y_to_hz(y) == pytest.approx(hz)  # placed where that frequency is


def test_frequency_ticks_and_labels():
    assert frequency_ticks(30, 16000) == [50, 100, 200, 500, 1000, 2000, 5000, 10000]
    assert frequency_ticks(700, 1400) == [700, 800, 900, 1000]
    assert frequency_ticks(1100, 2200) == [1500, 2000]
    assert [hz_label(v) for v in (50, 100, 1000, 1500, 10000)] == [
        "50 Hz", "100 Hz", "1 kHz", "1.5 kHz", "10 kHz"]


# ------------------------------------------------------------------ the event zoom pop-up
def _click_excerpt(rng, sample_rate=44100, start_s=192.381):
    n = int(0.2 * sample_rate)
    x = rng.normal(0.0, 0.01, (2, n))
    i0 = n // 2
    x[0, i0:i0 + 90] += 0.5
    event = DefectEvent("click", start_s + i0 / sample_rate,
                        start_s + (i0 + 90) / sample_rate, 0, -4.2, 0.93)
    return event, x


@pytest.mark.parametrize("focus", ["dialog", "plots"])
def test_esc_closes_the_event_zoom(qtbot, rng, focus):
    event, x = _click_excerpt(rng)
    d = EventZoomDialog(event, x, sample_rate=44100, start_s=192.381)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    target = d.graphics if focus == "plots" else d
    target.setFocus()
    with qtbot.waitSignal(d.rejected, timeout=5000):
        qtbot.keyClick(target, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not d.isVisible())

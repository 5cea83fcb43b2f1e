"""The display widgets: data in through setters, drawn by refresh(), state checked offscreen."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from vinylmon.grading.events import KINDS, DefectEvent, ScratchTrack
from vinylmon.grading.rubric import GRADES, Quantities
from vinylmon.gui import style
from vinylmon.gui.bars import ConfidenceBars, GradeBadge
from vinylmon.gui.meter import LevelMeter
from vinylmon.gui.spectrogram import ScrollingSpectrogram
from vinylmon.gui.timeline import LANES, ScratchTimeline, event_tooltip
from vinylmon.gui.zoom import EventZoomDialog, stft_db

CLASSES = ("clean", "click", "crackle", "scratch", "noise")
MY_MODULES = ("style", "spectrogram", "meter", "bars", "timeline", "zoom")


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def random_events(rng, n, *, duration_s=600.0):
    starts = np.sort(rng.uniform(0.0, duration_s, n))
    kinds = rng.choice(["click", "pop", "crackle"], n)
    chans = rng.choice([0, 1, -1], n)
    return [DefectEvent(str(k), float(t), float(t) + 0.002, None if c < 0 else int(c),
                        float(rng.uniform(-50.0, 5.0)), 0.9)
            for k, t, c in zip(kinds, starts, chans, strict=True)]


# ------------------------------------------------------------------ imports, style
def test_gui_modules_import_no_torch_or_sounddevice():
    code = ("import sys\n"
            + "".join(f"import vinylmon.gui.{m}\n" for m in MY_MODULES)
            + "bad = [m for m in sys.modules if m.split('.')[0] in "
              "('torch', 'torchaudio', 'sounddevice')]\n"
              "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(("seconds", "millis", "text"), [
    (192.4812, True, "3:12.481"), (59.6, False, "1:00"), (3725.0, False, "62:05"),
    (-5.0, False, "-0:05"), (0.0004, True, "0:00.000"), (float("nan"), False, "--:--"),
])
def test_format_time(seconds, millis, text):
    assert style.format_time(seconds, millis=millis) == text


def test_colour_tables_cover_kinds_classes_grades():
    assert set(style.KIND_COLORS) == set(KINDS)
    assert set(style.CLASS_COLORS) == set(CLASSES)
    assert tuple(style.GRADE_COLORS) == GRADES
    assert style.format_level_db(-4.24) == "-4.2 dB re L"


# ------------------------------------------------------------------ spectrogram
@pytest.fixture
def spectrogram(qtbot):
    freqs = np.geomspace(30.0, 16000.0, 64)
    w = ScrollingSpectrogram(freqs_hz=freqs, column_hop_s=0.05, visible_s=2.0)
    qtbot.addWidget(w)
    return w


def test_spectrogram_append_then_refresh_draws_newest_on_the_right(spectrogram, rng):
    w = spectrogram
    assert w.visible_columns == 40
    assert w.refresh() is True  # the first frame: the empty image and its placeholder
    drawn = w.frames_drawn
    cols = rng.uniform(-90.0, -10.0, (3, 64)).astype(np.float32)
    w.append(cols)
    assert w.frames_drawn == drawn  # the setter does not draw
    assert w.refresh() is True
    assert w.frames_drawn == drawn + 1
    np.testing.assert_array_equal(w.image_item.image[-3:], cols)
    assert np.all(w.image_item.image[:-3] == w.floor_db)
    assert w.refresh() is False  # nothing new: nothing drawn
    assert w.frames_drawn == drawn + 1


def test_spectrogram_ring_wraps_without_reallocating(spectrogram, rng):
    w = spectrogram
    view0 = w.image_db()
    chunks = [rng.uniform(-99.0, -1.0, (int(k), 64)).astype(np.float32)
              for k in rng.integers(1, 9, 30)]
    for chunk in chunks:
        w.append(chunk)
        w.refresh()
    expected = np.concatenate(chunks)[-40:]
    np.testing.assert_array_equal(w.image_db(), expected)
    np.testing.assert_array_equal(w.image_item.image, expected)
    assert np.shares_memory(view0, w.image_db())  # same preallocated ring
    assert w.columns_total == sum(c.shape[0] for c in chunks)


def test_spectrogram_clips_nan_and_range_and_checks_bands(spectrogram):
    w = spectrogram
    col = np.full(64, -50.0, np.float32)
    col[0], col[1], col[2] = np.nan, 20.0, -300.0
    w.append(col)
    newest = w.image_db()[-1]
    assert newest[0] == w.floor_db and newest[1] == w.ceiling_db and newest[2] == w.floor_db
    with pytest.raises(ValueError, match="shape"):
        w.append(np.zeros((2, 63), np.float32))


def test_spectrogram_axis_ticks_log_frequency(spectrogram):
    ticks = spectrogram.plot.getAxis("left")._tickLevels[0]
    labels = [t[1] for t in ticks]
    assert labels == ["50 Hz", "100 Hz", "200 Hz", "500 Hz", "1 kHz", "2 kHz", "5 kHz",
                      "10 kHz"]
    positions = [t[0] for t in ticks]
    assert all(np.diff(positions) > 0) and 0 < positions[0] < positions[-1] < 64


def test_spectrogram_visible_s_and_clear(spectrogram, rng):
    w = spectrogram
    cols = rng.uniform(-80.0, -20.0, (50, 64)).astype(np.float32)
    w.append(cols)
    w.set_visible_s(1.0)
    assert w.visible_columns == 20
    np.testing.assert_array_equal(w.image_db(), cols[-20:])
    w.clear()
    w.refresh()
    assert np.all(w.image_item.image == w.floor_db)
    assert w._placeholder.isVisible()


# ------------------------------------------------------------------ meter
@pytest.fixture
def meter(qtbot):
    clock = FakeClock()
    w = LevelMeter(clock=clock)
    w.clock = clock
    qtbot.addWidget(w)
    return w


def test_meter_clip_lamp_holds_two_seconds_then_goes_out(meter):
    w, clock = meter, meter.clock
    w.set_levels(peak_dbfs=[0.0, -6.0], rms_dbfs=[-8.0, -12.0], clipped=True, overflows=0)
    w.refresh()
    assert w.clip_lit
    clock.t += 1.0
    w.set_levels(peak_dbfs=[-10.0, -9.0], rms_dbfs=[-18.0, -20.0], clipped=False, overflows=0)
    w.refresh()
    assert w.clip_lit
    clock.t += 1.1
    w.refresh()
    assert not w.clip_lit
    assert "e53935" not in w.clip_label.styleSheet()


def test_meter_clip_between_refreshes_is_not_lost_and_reset_clears(meter):
    w = meter
    w.set_levels(peak_dbfs=[0.0, 0.0], rms_dbfs=[-3.0, -3.0], clipped=True, overflows=2)
    w.set_levels(peak_dbfs=[-20.0, -20.0], rms_dbfs=[-30.0, -30.0], clipped=False, overflows=3)
    w.refresh()
    assert w.clip_lit
    assert w.overflow_label.text() == "overflow 3"
    w.reset()
    assert not w.clip_lit and w.overflow_label.text() == "overflow 0"


def test_meter_peak_hold_then_fall(meter):
    w, clock = meter, meter.clock
    w.set_levels(peak_dbfs=[-3.0, -40.0], rms_dbfs=[-10.0, -50.0], clipped=False, overflows=0)
    w.refresh()
    clock.t += 1.0
    w.set_levels(peak_dbfs=[-30.0, -40.0], rms_dbfs=[-35.0, -50.0], clipped=False, overflows=0)
    w.refresh()
    assert w.peak_hold_dbfs[0] == -3.0  # held
    clock.t += 1.5  # 1 s past the hold: falls 20 dB/s
    w.refresh()
    assert w.peak_hold_dbfs[0] == pytest.approx(-23.0)
    clock.t += 5.0
    w.refresh()
    assert w.peak_hold_dbfs[0] == -30.0  # not below the current peak


def test_meter_channel_count_follows_the_input_and_silence_maps_to_floor(meter):
    with pytest.raises(ValueError, match="1 or 2 peak"):
        meter.set_levels(peak_dbfs=[-3.0], rms_dbfs=[-6.0, -6.0], clipped=False, overflows=0)
    meter.set_levels(peak_dbfs=[-3.0], rms_dbfs=[-6.0], clipped=False, overflows=0)
    meter.refresh()
    assert meter.channels == 1 and meter.channel_names == ("M",)
    assert meter.levels_dbfs == ((-3.0,), (-6.0,))
    meter.set_levels(peak_dbfs=[float("-inf"), float("nan")], rms_dbfs=[-80.0, -70.0],
                     clipped=False, overflows=0)
    meter.refresh()
    peak, rms = meter.levels_dbfs
    assert peak == (-60.0, -60.0) and rms == (-80.0, -70.0)


# ------------------------------------------------------------------ bars, badge
def test_confidence_bars_values_percentages_and_silence(qtbot):
    w = ConfidenceBars(CLASSES, title="this window")
    qtbot.addWidget(w)
    assert w.greyed and w.note == "waiting for audio…"
    w.set_values([0.62, 0.21, 0.09, 0.05, 0.03])
    assert w.values() == (0.62, 0.21, 0.09, 0.05, 0.03)
    assert w.percent_texts() == ("62 %", "21 %", "9 %", "5 %", "3 %")
    assert not w.greyed and not w.note_label.isVisibleTo(w)
    w.set_values(None)
    assert w.values() is None and w.greyed
    assert w.note == "silent" and w.percent_texts() == ("—",) * 5
    with pytest.raises(ValueError, match="need 5 values"):
        w.set_values([0.5, 0.5])
    with pytest.raises(ValueError, match="finite"):
        w.set_values([0.5, float("nan"), 0, 0, 0])


def test_confidence_bars_colours_per_name(qtbot):
    w = ConfidenceBars(("a", "b"), colors=("#112233", "#445566"))
    qtbot.addWidget(w)
    assert [b.color for b in w._bars] == ["#112233", "#445566"]
    w2 = ConfidenceBars(CLASSES)
    qtbot.addWidget(w2)
    assert w2._bars[3].color == style.CLASS_COLORS["scratch"]


def test_grade_badge_shows_grade_confidence_reason(qtbot):
    w = GradeBadge()
    qtbot.addWidget(w)
    assert w.grade_text() == "—" and w.reason_text() == "" and w.grade is None
    reason = "VG: 11.2 clicks/min; VG+ allows < 4"
    w.set_grade("VG+", confidence=0.78, reason=reason)
    assert (w.grade_text(), w.confidence_text(), w.reason_text()) == ("VG+", "78 %", reason)
    assert style.GRADE_COLORS["VG+"] in w.grade_label.styleSheet()
    w.set_grade(None, confidence=None, reason="")
    assert w.grade_text() == "—" and w.confidence_text() == ""
    with pytest.raises(ValueError, match="grade must be one of"):
        w.set_grade("A+", confidence=0.5, reason="")


# ------------------------------------------------------------------ timeline
@pytest.fixture
def timeline(qtbot):
    w = ScratchTimeline()
    w.resize(1000, 320)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def lane_points(w, lane):
    return sum(len(item.xData) for (ln, _), item in w._tick_items.items()
               if ln == lane and item.xData is not None)


def test_timeline_receives_events_per_lane(timeline, rng):
    w = timeline
    assert w._placeholder.isVisible()
    events = random_events(rng, 3000)
    w.set_session(events=events, scratches=[], silent_spans=[(10.0, 20.0), (300.0, 305.5)],
                  duration_s=600.0)
    assert w.refresh() is True and w.refresh() is False
    np.testing.assert_array_equal(w.event_times(), sorted(e.start_s for e in events))
    n_left = sum(e.channel in (0, None) for e in events)
    n_right = sum(e.channel in (1, None) for e in events)
    assert w.event_times(lane="L").size == n_left
    assert lane_points(w, "L") == 2 * n_left  # one (bottom, top) pair per tick
    assert lane_points(w, "R") == 2 * n_right
    assert len(w._tick_items) <= 2 * 4  # one item per lane and kind, not per event
    assert not w._placeholder.isVisible()
    assert w._silent_item.isVisible() and len(w._silent_item.opts["x0"]) == 2
    w.set_session(events=events, scratches=[], duration_s=600.0,
                  silent_spans=[(10.0, 12.0), (11.0, 14.0), (14.0, 20.0), (40.0, 41.0)])
    w.refresh()
    np.testing.assert_array_equal(w.silent_spans_merged(), [[10.0, 20.0], [40.0, 41.0]])
    assert "silent&nbsp;0:11" in w.legend_label.text()
    assert "click&nbsp;&nbsp;" in w.legend_label.text() or "click&nbsp;" in w.legend_label.text()
    n_loud = sum(e.peak_db >= -10.0 for e in events)
    assert f"c&nbsp;{n_loud}&nbsp;clicks&nbsp;≥&nbsp;L−10&nbsp;dB" in w.legend_label.text()


def test_the_legend_says_when_c_holds_the_clicks_the_music_masks(timeline):
    """c's rate and the events beside it: when c also counts the clicks the music masks
    near the detected ones, the legend says so, else the rate would not follow from the
    events shown."""
    events = [DefectEvent("click", 2.0 + i, 2.001 + i, 0, -3.0, 0.9) for i in range(3)]
    q = Quantities(clicks_per_min=17.0, crackle_per_s=0.0, surface_noise_db=-60.0,
                   analysed_s=30.0)
    timeline.set_session(events=events, scratches=[], silent_spans=[], duration_s=30.0,
                         quantities=q)
    timeline.refresh()
    plain = timeline.legend_label.text()
    assert "<b>17.0</b>&nbsp;clicks/min (3&nbsp;events&nbsp;≥&nbsp;L−10&nbsp;dB)" in plain
    timeline.set_session(events=events, scratches=[], silent_spans=[], duration_s=30.0,
                         quantities=q, clicks_masked=True)
    timeline.refresh()
    said = timeline.legend_label.text()
    assert "(3&nbsp;events&nbsp;≥&nbsp;L−10&nbsp;dB, plus&nbsp;masked&nbsp;ones)" in said
    assert "masked" not in plain


def test_timeline_tick_height_grows_with_level(timeline):
    quiet = DefectEvent("click", 5.0, 5.001, 0, -45.0, 0.9)
    loud = DefectEvent("click", 9.0, 9.001, 0, 2.0, 0.9)
    timeline.set_session(events=[quiet, loud], scratches=[], silent_spans=[], duration_s=12.0)
    timeline.refresh()
    y = timeline._tick_items[("L", "click")].yData
    y0 = LANES["L"][0]
    assert y[1] - y0 < y[3] - y0 <= LANES["L"][1]


def test_timeline_hover_and_click_pick_the_nearest_event(timeline, qtbot):
    target = DefectEvent("click", 192.4812, 192.483, 0, -4.2, 0.95)
    other = DefectEvent("crackle", 250.0, 250.001, 1, -30.0, 0.6)
    timeline.set_session(events=[target, other], scratches=[], silent_spans=[],
                         duration_s=400.0)
    timeline.refresh()
    assert timeline.hover_at(192.6, lane="L") == "click  3:12.481  L  -4.2 dB re L"
    assert timeline.hover_at(250.0, lane="L") == ""  # other is on R only
    assert timeline.event_near(150.0, tolerance_s=1.0) is None
    assert timeline.event_near(249.5, lane="R", tolerance_s=1.0) is other
    with qtbot.waitSignal(timeline.eventClicked, timeout=1000) as blocker:
        assert timeline.click_at(192.5, lane="L") is target
    assert blocker.args == [target]
    with qtbot.assertNotEmitted(timeline.eventClicked):
        assert timeline.click_at(100.0, lane="L") is None


def test_timeline_mouse_click_on_a_tick_emits_event(timeline, qtbot):
    target = DefectEvent("pop", 120.0, 120.004, None, -2.0, 0.99)
    timeline.set_session(events=[target], scratches=[], silent_spans=[], duration_s=300.0)
    timeline.refresh()
    qtbot.wait(50)
    vb = timeline.plot.getViewBox()
    y0, h = LANES["R"]
    scene_pt = vb.mapViewToScene(QPointF(120.0, y0 + h / 2))
    view_pt = timeline.plot_widget.mapFromScene(scene_pt)
    with qtbot.waitSignal(timeline.eventClicked, timeout=2000) as blocker:
        qtbot.mouseClick(timeline.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(view_pt.x(), view_pt.y()))
    assert blocker.args == [target]


def test_timeline_scratch_lane_spans_markers_labels(timeline):
    track = ScratchTrack(id=0, period_s=1.8, first_s=60.0, last_s=60.0 + 1.8 * 6, count=7,
                         confidence=0.9, rpm=100.0 / 3.0, peak_db=-6.0)
    ticks = [DefectEvent("scratch", 60.0 + 1.8 * k, 60.003 + 1.8 * k, None, -6.0, 0.9, 0)
             for k in range(7)]
    bare = ScratchTrack(id=1, period_s=1.333, first_s=200.0, last_s=204.0, count=4,
                        confidence=0.7, rpm=45.0, peak_db=-12.0)
    timeline.set_session(events=ticks, scratches=[track, bare], silent_spans=[],
                         duration_s=300.0)
    timeline.refresh()
    assert len(timeline._marker_item.data) == 7 + 4  # member ticks + ticks from the period
    assert len(timeline._span_item.xData) == 4  # two spans, connect='pairs'
    texts = [label.textItem.toPlainText() for label in timeline._labels]
    assert texts[0].startswith("#0  1.80 s · 33⅓ rpm") and "45 rpm" in texts[1]
    assert timeline.event_times(lane="scratches").size == 7
    assert timeline.hover_at(130.0, lane="scratches") == ""
    assert timeline.hover_at(202.0, lane="scratches").startswith("scratch #1: every 1.33 s")
    assert not timeline._no_scratch.isVisible()


def test_timeline_thousands_of_events_refresh_quickly(timeline, rng):
    import time

    events = random_events(rng, 20000, duration_s=1500.0)
    timeline.set_session(events=events, scratches=[], silent_spans=[], duration_s=1500.0)
    t0 = time.perf_counter()
    timeline.refresh()
    assert time.perf_counter() - t0 < 1.0
    assert event_tooltip(events[0]).startswith(events[0].kind)
    with pytest.raises(ValueError, match="duration_s"):
        timeline.set_session(events=[], scratches=[], silent_spans=[], duration_s=-1.0)


# ------------------------------------------------------------------ zoom
def click_excerpt(rng, *, sample_rate=44100, start_s=192.381):
    n = int(0.2 * sample_rate)
    t = np.arange(n) / sample_rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)])
    x += rng.normal(0.0, 0.002, x.shape)
    i0 = n // 2
    x[0, i0:i0 + 90] += np.exp(-np.arange(90) / 15.0) * rng.normal(0.0, 0.6, 90)
    event = DefectEvent("click", start_s + i0 / sample_rate, start_s + (i0 + 90) / sample_rate,
                        0, -4.2, 0.93)
    return event, x


def test_zoom_dialog_shows_event_waveforms_and_spectrogram(qtbot, rng):
    event, x = click_excerpt(rng)
    d = EventZoomDialog(event, x, sample_rate=44100, start_s=192.381)
    qtbot.addWidget(d)
    assert len(d.waveform_plots) == 2
    assert "click at 3:12.481" in d.title_label.text() and "-4.2 dB re L" in d.title_label.text()
    assert d.spectrogram_db.shape[1] == 129 and d.freqs_hz[-1] == 22050.0
    high = d.freqs_hz > 5000.0
    at_click = np.argmin(np.abs(d.spectrogram_times_ms - 1.0))
    far = np.argmin(np.abs(d.spectrogram_times_ms + 60.0))
    assert d.spectrogram_db[at_click, high].mean() > d.spectrogram_db[far, high].mean() + 20.0
    assert d.spectrogram_times_ms[0] == pytest.approx(-100.0, abs=0.1)


def test_stft_db_full_scale_sine_reads_0_db():
    sr, k = 8000, 32  # bin 32 of 256 points
    x = np.sin(2 * np.pi * (k * sr / 256) * np.arange(4096) / sr)
    spec, centres = stft_db(x)
    assert spec.shape == (4096 // 32 + 1, 129) and centres[1] == 32
    assert spec[len(spec) // 2, k] == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda x: x[0], "2-D"),
    (lambda x: x.T.copy(), "channels"),
    (lambda x: np.where(np.arange(x.shape[1]) == 5, np.nan, x), "finite"),
])
def test_zoom_dialog_rejects_bad_samples(qtbot, rng, mutate, match):
    event, x = click_excerpt(rng)
    with pytest.raises(ValueError, match=match):
        EventZoomDialog(event, mutate(x), sample_rate=44100, start_s=192.381)


def test_zoom_dialog_rejects_event_outside_excerpt(qtbot, rng):
    event, x = click_excerpt(rng)
    with pytest.raises(ValueError, match="outside the excerpt"):
        EventZoomDialog(event, x, sample_rate=44100, start_s=10.0)
    with pytest.raises(ValueError, match="sample_rate"):
        EventZoomDialog(event, x, sample_rate=0, start_s=192.381)

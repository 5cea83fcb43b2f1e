"""render_html refuses what it cannot draw: a ValueError naming the bad argument, for a
report, a spectrogram or event close-ups (``event_strips``) that are not what they say."""

import dataclasses

import numpy as np
import pytest

from vinylmon.grading.rubric import GRADES
from vinylmon.reports.html import MAX_STRIPS, render_html
from vinylmon.reports.strips import event_strips

SR = 44100


@pytest.fixture
def report():
    """A small valid report: one click, one window."""
    probs = dict.fromkeys(GRADES, 1.0 / len(GRADES))
    return {
        "schema": "vinylmon.report/1", "input": "side.flac", "sample_rate": SR,
        "channels": 2, "duration_s": 5.0, "rpm": None,
        "models": {"detector": "d@1", "grader": None, "device": "cpu"},
        "events": [{"kind": "click", "start_s": 1.0, "end_s": 1.0005, "channel": 0,
                    "peak_db": 3.0, "confidence": 0.9, "scratch_id": None}],
        "scratches": [],
        "windows": [{"start_s": 0.0, "end_s": 5.0, "silent": False, "defect_probs": None,
                     "grade_probs": probs}],
        "summary": {"grade": "VG+", "grade_probs": probs, "limited_by": "clicks_per_min",
                    "reasons": ["VG+: 1.0 clicks/min; NM allows < 0.5"],
                    "measured": {"clicks_per_min": 1.0, "crackle_per_s": 0.0,
                                 "surface_noise_db": -60.0, "scratches": 0, "skips": 0,
                                 "analysed_s": 5.0},
                    "learned_grade": None, "measured_grade": "VG+"},
    }


@pytest.fixture
def strip(report):
    """A good close-up of the report's click."""
    x = np.zeros((2, 5 * SR), np.float32)
    x[0, SR:SR + 20] = 0.5
    (s,) = event_strips(lambda a, b: x[:, int(a * SR):int(b * SR)], report["events"],
                        sample_rate=SR)
    return s


def test_a_good_strip_draws(report, strip):
    assert "close up" in render_html(report, event_strips=[strip])
    assert "close up" in render_html(report, event_strips=(strip,))


@pytest.mark.parametrize(("strips", "match"), [
    ("strip", "event_strips must be a list of EventStrip"),
    ({"a": 1}, "event_strips must be a list of EventStrip"),
    (np.zeros(3), "event_strips must be a list of EventStrip"),
    ([{"kind": "click"}], r"event_strips\[0\] must be an EventStrip; got dict"),
    ([None], r"event_strips\[0\] must be an EventStrip; got NoneType"),
])
def test_event_strips_that_are_not_strips(report, strips, match):
    with pytest.raises(ValueError, match=match):
        render_html(report, event_strips=strips)


def test_too_many_strips(report, strip):
    with pytest.raises(ValueError, match=f"at most {MAX_STRIPS}"):
        render_html(report, event_strips=[strip] * (MAX_STRIPS + 1))


@pytest.mark.parametrize(("change", "match"), [
    ({"event_start_s": float("nan")}, "event_start_s must be a finite number"),
    ({"view_end_s": float("inf")}, "view_end_s must be a finite number"),
    ({"samples_start_s": None}, "samples_start_s must be a finite number"),
    ({"hop_s": "1 ms"}, "hop_s must be a finite number"),
    ({"hop_s": 0.0}, "hop_s must be > 0"),
    ({"view_start_s": 2.0}, "view_end_s must be after view_start_s"),
    ({"event_end_s": 0.5}, "event_end_s is before event_start_s"),
    ({"sample_rate": 0}, "sample_rate must be a positive integer"),
    ({"sample_rate": 44100.0}, "sample_rate must be a positive integer"),
    ({"kind": None}, "kind must be a string"),
    ({"peak_db": float("nan")}, "peak_db must be a finite number or None"),
    ({"samples": np.zeros((2, 100))}, "samples must be a non-empty 1-D array"),
    ({"samples": np.zeros(0)}, "samples must be a non-empty 1-D array"),
    ({"samples": np.array(["a", "b"])}, "samples must be a non-empty 1-D array"),
    ({"samples": np.array([0.0, np.nan])}, "samples hold NaN or infinity"),
    ({"db": np.zeros(65)}, "db must be a non-empty 2-D array"),
    ({"db": np.zeros((65, 0))}, "db must be a non-empty 2-D array"),
    ({"freqs_hz": np.arange(64.0)}, "freqs_hz must be 65 real numbers"),
    ({"freqs_hz": np.arange(65.0)[::-1].copy()}, "freqs_hz must be finite and strict"),
    ({"freqs_hz": np.full(65, np.nan)}, "freqs_hz must be finite and strictly"),
    ({"others": ((1.0, 1.1),)}, "others must be"),
    ({"others": ((1.0, "x", "click"),)}, "others must be"),
    ({"others": "click"}, "others must be"),
])
def test_bad_strip_fields(report, strip, change, match):
    bad = dataclasses.replace(strip, **change)
    with pytest.raises(ValueError, match=r"event_strips\[1\]: " + match):
        render_html(report, event_strips=[strip, bad])


def test_bad_strips_are_refused_before_the_report_is_read(strip):
    """The argument is checked first, as the spectrogram is: the message names it."""
    with pytest.raises(ValueError, match="event_strips must be a list"):
        render_html({}, event_strips="x")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sample_rate": 0}, "sample_rate must be a whole number"),
    ({"sample_rate": 44100.5}, "sample_rate must be a whole number"),
    ({"sample_rate": float("nan")}, "sample_rate must be a whole number"),
    ({"sample_rate": SR, "max_events": -1}, "max_events must be an integer >= 0"),
    ({"sample_rate": SR, "max_events": 2.5}, "max_events must be an integer >= 0"),
    ({"sample_rate": SR, "half_width_s": 0.0}, "half_width_s must be 0.002 to 1 s"),
    ({"sample_rate": SR, "half_width_s": float("nan")}, "half_width_s must be 0.002 to 1 s"),
])
def test_event_strips_bad_arguments(report, kwargs, match):
    with pytest.raises(ValueError, match=match):
        event_strips(lambda a, b: np.zeros((2, 10)), report["events"], **kwargs)


def test_event_strips_bad_events_and_reader(report):
    with pytest.raises(ValueError, match="events must be a list"):
        event_strips(lambda a, b: np.zeros((2, 10)), "click", sample_rate=SR)
    with pytest.raises(ValueError, match="read must be a callable"):
        event_strips("file.flac", report["events"], sample_rate=SR)
    for given in (np.array(["a"] * 10), np.zeros((2, 2, 10)), "samples"):
        with pytest.raises(ValueError, match=r"read\(\) must give \(channels, frames\)"):
            event_strips(lambda a, b, g=given: g, report["events"], sample_rate=SR)


@pytest.mark.parametrize(("db", "freqs", "hop", "match"), [
    (np.zeros(10), np.arange(10.0), 0.1, "must be 2-D"),
    (np.zeros((2, 3, 4)), np.arange(2.0), 0.1, "must be 2-D"),
    (np.zeros((0, 4)), np.arange(0.0), 0.1, "empty"),
    (np.zeros((4, 5)), None, 0.1, "needs spectrogram_freqs_hz"),
    (np.zeros((4, 5)), np.arange(4.0), None, "needs spectrogram_freqs_hz"),
    (np.zeros((4, 5)), np.arange(5.0), 0.1, "must be 4 real numbers"),
    (np.zeros((4, 5)), np.array([0.0, 2.0, 1.0, 3.0]), 0.1, "strictly increasing"),
    (np.zeros((4, 5)), np.array([0.0, np.nan, 1.0, 3.0]), 0.1, "NaN"),
    (np.zeros((4, 5)), np.arange(4.0), 0.0, "finite number > 0"),
    (np.zeros((4, 5)), np.arange(4.0), float("nan"), "finite number > 0"),
    (np.zeros((4, 5)), np.arange(4.0), "fast", "finite number > 0"),
    (np.array([["a", "b"]]), np.arange(1.0), 0.1, "real dB values"),
    (None, np.arange(4.0), 0.1, "without spectrogram_db"),
])
def test_bad_spectrogram_input(report, db, freqs, hop, match):
    with pytest.raises(ValueError, match=match):
        render_html(report, spectrogram_db=db, spectrogram_freqs_hz=freqs,
                    spectrogram_hop_s=hop)


def test_bad_report_input(report):
    with pytest.raises(ValueError, match="must be a dict"):
        render_html([report])
    with pytest.raises(ValueError, match="not 'vinylmon.report/1'"):
        render_html(dict(report, schema="vinylmon.report/0"))
    del report["summary"]["reasons"], report["windows"]
    with pytest.raises(ValueError, match="lacks required keys: windows, summary.reasons"):
        render_html(report)



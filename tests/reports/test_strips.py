"""Close-ups of single events (reports/strips.py): which events, what audio, what picture."""

import numpy as np
import pytest

from vinylmon.reports.strips import (
    HALF_WIDTH_S,
    MAX_EVENT_STRIPS,
    STRIP_HOP_S,
    event_strips,
    strip_spectrogram,
)

SR = 44100


def event(t, peak, *, kind="click", channel=0, length_s=0.0005):
    return {"kind": kind, "start_s": t, "end_s": t + length_s, "channel": channel,
            "peak_db": peak, "confidence": 0.9, "scratch_id": None}


class Audio:
    """Quiet noise in two channels with a click at each given time (in channel 0); its
    ``read`` keeps the calls it was given."""

    def __init__(self, rng, seconds, clicks=(), channel=0):
        self.x = (0.001 * rng.standard_normal((2, int(seconds * SR)))).astype(np.float32)
        for t in clicks:
            i = int(round(t * SR))
            self.x[channel, i:i + 20] += 0.8
        self.calls = []

    def read(self, start_s, end_s):
        self.calls.append((start_s, end_s))
        a = int(round(start_s * SR))
        b = int(round(end_s * SR))
        return self.x[:, a:b]


def test_the_loudest_events_in_time_order(rng):
    times = np.linspace(0.5, 9.5, 30)
    peaks = rng.uniform(-30, 10, 30)
    events = [event(float(t), float(p)) for t, p in zip(times, peaks, strict=True)]
    audio = Audio(rng, 10.0)
    strips = event_strips(audio.read, events, sample_rate=SR)
    assert len(strips) == MAX_EVENT_STRIPS
    loudest = sorted(range(30), key=lambda i: -peaks[i])[:MAX_EVENT_STRIPS]
    assert [s.event_start_s for s in strips] == sorted(float(times[i]) for i in loudest)
    assert all(start >= 0 for start, _ in audio.calls)
    assert len(event_strips(audio.read, events, sample_rate=SR, max_events=3)) == 3
    assert event_strips(audio.read, events, sample_rate=SR, max_events=0) == []
    assert event_strips(audio.read, [], sample_rate=SR) == []


def test_the_close_up_shows_the_click_at_millisecond_resolution(rng):
    t = 2.34567
    audio = Audio(rng, 5.0, clicks=[t])
    (s,) = event_strips(audio.read, [event(t, 6.0, length_s=20 / SR)], sample_rate=SR)
    assert (s.kind, s.peak_db, s.channel) == ("click", 6.0, 0)
    middle = t + 10 / SR
    assert s.view_start_s == pytest.approx(middle - HALF_WIDTH_S)
    assert s.view_end_s == pytest.approx(middle + HALF_WIDTH_S)
    # the samples are the channel's, from the first sample in view
    i0 = int(round(s.samples_start_s * SR))
    assert s.samples_start_s >= s.view_start_s - 1e-9 and i0 / SR == pytest.approx(
        s.samples_start_s)
    np.testing.assert_array_equal(s.samples, audio.x[0, i0:i0 + len(s.samples)])
    assert len(s.samples) == pytest.approx(2 * HALF_WIDTH_S * SR, abs=2)
    # about one column per ms over the view, every frequency up to Nyquist
    assert s.hop_s == pytest.approx(STRIP_HOP_S, rel=0.03)
    assert s.db.shape == (len(s.freqs_hz), pytest.approx(50, abs=2))
    assert s.freqs_hz[0] == 0 and s.freqs_hz[-1] == SR / 2
    # the click's column is the loudest above 5 kHz, and it sits at the click's time
    high = s.freqs_hz > 5000
    col = int(np.argmax(s.db[high].mean(axis=0)))
    assert s.first_column_s + col * s.hop_s == pytest.approx(t, abs=0.0015)
    assert s.db[high, col].mean() > np.median(s.db[high]) + 30


def test_both_channels_and_the_other_channel(rng):
    t = 1.0
    audio = Audio(rng, 2.0, clicks=[t], channel=1)
    (both,) = event_strips(audio.read, [event(t, 0.0, channel=None)], sample_rate=SR)
    i0 = int(round(both.samples_start_s * SR))
    np.testing.assert_allclose(both.samples, audio.x[:, i0:i0 + len(both.samples)].mean(0),
                               rtol=1e-6)
    (right,) = event_strips(audio.read, [event(t, 0.0, channel=1)], sample_rate=SR)
    assert right.samples.max() > 0.7 and right.channel == 1


def test_events_near_a_louder_one_show_in_its_close_up(rng):
    audio = Audio(rng, 3.0)
    events = [event(1.0, 5.0), event(1.01, -20.0, kind="crackle", channel=1),
              event(1.5, -3.0, kind="pop")]
    strips = event_strips(audio.read, events, sample_rate=SR)
    assert [s.kind for s in strips] == ["click", "pop"]
    assert strips[0].others == ((1.01, pytest.approx(1.0105), "crackle"),)
    assert strips[1].others == ()


def test_at_the_start_and_the_end_of_the_audio(rng):
    audio = Audio(rng, 1.0)
    first, last = event_strips(audio.read, [event(0.004, 0.0), event(0.999, 0.0)],
                               sample_rate=SR)
    assert first.samples_start_s == 0.0 and first.view_start_s < 0
    assert len(first.samples) == pytest.approx((0.004 + 0.00025 + HALF_WIDTH_S) * SR, abs=2)
    assert last.samples_start_s + len(last.samples) / SR == pytest.approx(1.0, abs=1 / SR)
    assert np.all(np.isfinite(first.db)) and np.all(np.isfinite(last.db))


def test_events_without_a_time_are_passed_over_and_nan_audio_is_silence(rng):
    audio = Audio(rng, 2.0)
    audio.x[:, 44100:44200] = np.nan
    strips = event_strips(audio.read, [{"kind": "click", "start_s": None}, "junk",
                                       event(1.0, None)], sample_rate=SR)
    (s,) = strips
    assert s.peak_db is None and np.all(np.isfinite(s.samples))
    assert event_strips(lambda a, b: np.zeros((2, 0)), [event(1.0, 0.0)], sample_rate=SR) == []


def test_strip_spectrogram_of_a_sine():
    x = np.sin(2 * np.pi * 5000 * np.arange(4410) / SR).astype(np.float32)
    db, freqs, hop = strip_spectrogram(x, SR)
    assert hop == pytest.approx(44 / SR)
    assert db.shape == (len(freqs), len(range(0, 4410, 44)))
    middle = db[:, db.shape[1] // 2]
    assert abs(freqs[int(np.argmax(middle))] - 5000) < 400
    assert middle.max() == pytest.approx(0.0, abs=1.5)  # a full-scale sine: about 0 dB

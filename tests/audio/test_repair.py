"""Click repair (vinylmon.audio.repair): the error drops, nothing else changes."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio import repair as rp
from vinylmon.audio.repair import Span, lsar, measure_impulse, plan_spans, repair, repair_file
from vinylmon.simulate import synthetic_music

SR = 44100


def click(n: int, peak: float, rng) -> np.ndarray:
    """A decaying bipolar spike of ``n`` samples."""
    t = np.arange(n)
    return peak * np.exp(-t / (0.3 * n)) * np.sign(rng.standard_normal(n) + 0.5)


def error_db(before, after, ref) -> float:
    return 10 * np.log10(np.sum((before - ref) ** 2) / np.sum((after - ref) ** 2))


@pytest.fixture
def stereo(rng):
    return synthetic_music(rng, 3.0).T.astype(np.float64)  # (frames, 2)


def test_click_in_a_sine_is_repaired_20_db_down(rng):
    t = np.arange(SR) / SR
    ref = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t + 1)
    x = ref.copy()
    x[20000:20030] += click(30, 0.8, rng)
    out = repair(x, [(20000, 20030, None)], sample_rate=SR)
    assert error_db(x, out.samples, ref) >= 20
    assert len(out.repaired) == 1 and out.left == ()


@pytest.mark.parametrize("channel", [0, 1, None])
def test_clicks_in_music_are_repaired_20_db_down(stereo, rng, channel):
    x = stereo.copy()
    spans = []
    for at in range(8000, 120000, 15000):
        rows = [0, 1] if channel is None else [channel]
        x[at:at + 20, rows] += click(20, 0.9, rng)[:, None]
        spans.append((at, at + 20, channel))
    out = repair(x, spans, sample_rate=SR)
    assert error_db(x, out.samples, stereo) >= 20
    if channel is not None:  # the other channel is not touched at all
        other = 1 - channel
        assert np.array_equal(out.samples[:, other], x[:, other])


def test_detected_span_too_short_grows_to_the_click(stereo, rng):
    x = stereo.copy()
    x[30000:30040, 0] += click(40, 0.9, rng)
    out = repair(x, [(30010, 30030, 0)], sample_rate=SR)  # the detector saw the middle
    (s,) = out.repaired
    assert s.start <= 30000 and s.end >= 30040
    assert error_db(x, out.samples, stereo) >= 20


def test_mono_and_one_dimensional(rng):
    ref = synthetic_music(rng, 2.0)[0].astype(np.float64)
    x = ref.copy()
    x[40000:40015] += click(15, 0.7, rng)
    for spans in ([(40000, 40015, None)], [(40000, 40015, 0)]):
        out = repair(x, spans, sample_rate=SR)
        assert out.samples.shape == x.shape
        assert error_db(x, out.samples, ref) >= 20
    out2 = repair(x[:, None], [(40000, 40015, None)], sample_rate=SR)
    assert out2.samples.shape == (x.shape[0], 1)


def test_samples_outside_the_spans_are_identical(stereo, rng):
    x = (stereo * 2**15).astype(np.int16)
    for at in (5000, 50000, 90000):
        x[at:at + 10, 1] = 30000
    out = repair(x, [(a, a + 10, 1) for a in (5000, 50000, 90000)], sample_rate=SR)
    assert out.samples.dtype == np.int16
    mask = np.zeros(x.shape, dtype=bool)
    for s in out.repaired:
        mask[s.start:s.end, s.channel] = True
    assert np.array_equal(out.samples[~mask], x[~mask])
    assert not np.array_equal(out.samples[mask], x[mask])


def test_too_long_span_is_left_and_reported(stereo):
    x = stereo.copy()
    x[20000:20600, :] += 0.5  # 13.6 ms: longer than the 5 ms repaired
    out = repair(x, [(20000, 20600, None), (60000, 60010, 0)], sample_rate=SR)
    assert [(s.start, s.channel) for s in out.left] == [(20000 - 7, 0), (20000 - 7, 1)]
    assert all(s.frames > 0.005 * SR for s in out.left)
    assert np.array_equal(out.samples[19000:21600], x[19000:21600])
    wider = repair(x, [(20000, 20600, None)], sample_rate=SR, max_span_s=0.02)
    assert wider.left == () and len(wider.repaired) == 2


def test_faint_damage_is_left_when_the_guess_would_be_worse(stereo):
    # no damage at all in the span: the interpolation cannot be more right than the audio
    out = repair(stereo, [(50000, 50060, 0)], sample_rate=SR)
    assert out.repaired == () and len(out.faint) == 1
    assert np.array_equal(out.samples, stereo)


def test_spans_are_widened_and_merged_per_channel():
    plan = plan_spans([(100, 110, 0), (112, 120, 0), (100, 110, None), (500, 900, 1)],
                      frames=1000, channels=2, guard=2, max_span=200)
    assert plan.spans == (Span(98, 122, 0), Span(98, 112, 1))
    assert plan.too_long == (Span(498, 902, 1),)
    # a channel-None event covers the analysed channels only; a mono file's any channel
    plan = plan_spans([(10, 20, None)], frames=100, channels=4, max_span=50, event_channels=2)
    assert [s.channel for s in plan.spans] == [0, 1]
    plan = plan_spans([(10, 20, 1)], frames=100, channels=1, max_span=50)
    assert [s.channel for s in plan.spans] == [0]


def test_lsar_expects_its_own_error(rng):
    from scipy.signal import lfilter

    # a random AR(2) process (a resonance at 2 kHz): what the model assumes
    r, w = 0.98, 2 * np.pi * 2000 / SR
    x = lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], rng.standard_normal(SR))
    ratios = []
    for at in range(5000, 40000, 2500):
        fill = lsar(x, at, at + 30)
        ratios.append(float(np.sum((fill.values - x[at:at + 30]) ** 2)) / fill.expected_error)
    assert 0.3 < np.median(ratios) < 3


def test_lsar_without_its_expected_error_fills_the_same(stereo):
    x = stereo[:, 0]
    for at in (20000, 60000):
        full, lean = lsar(x, at, at + 40), lsar(x, at, at + 40, expected=False)
        assert np.array_equal(full.values, lean.values)
        assert full.expected_error > 0 and np.isnan(lean.expected_error)


def test_silence_around_a_click_fills_silence():
    x = np.zeros(5000)
    x[2000:2010] = 0.5
    out = repair(x, [(2000, 2010, None)], sample_rate=SR)
    assert np.all(out.samples == 0)


# ---- files: the format kept, the samples outside the repairs bit-identical -------------

@pytest.mark.parametrize(("fmt", "subtype", "read_as"), [
    ("WAV", "PCM_16", "int16"), ("FLAC", "PCM_24", "int32"), ("WAV", "PCM_24", "int32"),
    ("WAV", "FLOAT", "float32"), ("AIFF", "PCM_16", "int16")])
def test_file_repair_keeps_format_and_every_other_sample(tmp_path, stereo, rng, fmt, subtype,
                                                          read_as):
    x = stereo * 0.5
    times = (0.3, 0.9, 1.7, 2.5)
    for t in times:
        a = int(t * SR)
        x[a:a + 25, 0] += click(25, 0.4, rng)
    src = tmp_path / f"in.{fmt.lower()}"
    sf.write(src, x, 48000 if fmt == "AIFF" else SR, format=fmt, subtype=subtype)
    rate = sf.info(src).samplerate
    out, rem = tmp_path / f"out.{fmt.lower()}", tmp_path / f"rem.{fmt.lower()}"
    events = [(t * SR / rate, (t * SR + 25) / rate, 0) for t in times]  # seconds at its rate
    fr = repair_file(src, out, events, removed=rem)
    info = sf.info(out)
    assert (info.format, info.subtype, info.samplerate, info.channels) == \
        (fmt, subtype, rate, 2)
    assert fr.exact and len(fr.repaired) == 4 and fr.left == ()
    a, _ = sf.read(src, dtype=read_as)
    b, _ = sf.read(out, dtype=read_as)
    r, _ = sf.read(rem, dtype=read_as)
    mask = np.zeros(a.shape, dtype=bool)
    for s in fr.repaired:
        assert s.channel == 0
        mask[s.start:s.end, 0] = True
    assert np.array_equal(a[~mask], b[~mask])
    assert np.count_nonzero(a[mask] != b[mask]) == fr.changed_samples > 0
    wide = a - b if a.dtype.kind == "f" else a.astype(np.int64) - b
    assert np.array_equal(wide, r)  # no click near full scale here
    assert np.all(r[~mask] == 0)


def test_file_repair_in_blocks_equals_the_repair_in_memory(tmp_path, stereo, rng, monkeypatch):
    x = stereo.copy() * 0.5
    spans = []
    for a in range(3000, 130000, 4111):  # some across the block boundaries below
        x[a:a + 12, a % 2] += click(12, 0.3, rng)
        spans.append((a, a + 12, a % 2))
    src = tmp_path / "in.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    x32 = sf.read(src, dtype="float32")[0]
    whole = repair(x32, spans, sample_rate=SR)
    monkeypatch.setattr(rp, "BLOCK_FRAMES", 5000)
    fr = repair_file(src, tmp_path / "out.wav", [(a / SR, b / SR, c) for a, b, c in spans])
    assert np.array_equal(sf.read(tmp_path / "out.wav", dtype="float32")[0], whole.samples)
    assert fr.repaired == whole.repaired


def test_file_repair_with_no_events_copies_the_file(tmp_path, stereo):
    src = tmp_path / "in.flac"
    sf.write(src, stereo * 0.5, SR, subtype="PCM_16")
    fr = repair_file(src, tmp_path / "out.flac", [])
    assert fr.repaired == () and fr.changed_samples == 0
    assert np.array_equal(sf.read(src, dtype="int16")[0],
                          sf.read(tmp_path / "out.flac", dtype="int16")[0])


@pytest.mark.parametrize("channel", [0, 1, None])
def test_an_impulse_is_measured_on_its_difference_from_the_music(stereo, rng, channel):
    """Clicks 0..12 dB re the music's level, 30 samples, each in a span 20 samples too
    long: their measured peak is within 1 dB of the peak added (median), where the
    audio's own peak over the span is not; their end is found where the click has
    decayed under a tenth of its peak (sample 21 of 30: exp(-t / 9)), not at the
    span's end; the channel without the click gives no measure or a far lower one."""
    x = stereo.T.copy()  # (2, frames)
    level = float(np.sqrt(np.mean(x ** 2)))
    errs, raw_errs, ends = [], [], []
    for i, at in enumerate(range(8000, 120000, 14000)):
        p = 12.0 * i / 7
        c = click(30, level * 10 ** (p / 20), rng)
        rows = [0, 1] if channel is None else [channel]
        x[rows, at:at + 30] += c
        got = measure_impulse(x, at, at + 50, channel, level=level)
        errs.append(got.peak_db - p)
        ends.append(got.end - (at + 21))
        raw = np.abs(x[rows, at:at + 30]).max()
        raw_errs.append(20 * np.log10(raw / level) - p)
        if channel is not None:
            # nothing there, or the music's own unpredictability, far under the click
            other = measure_impulse(x, at, at + 50, 1 - channel, level=level)
            assert other is None or other.peak_db < p - 10, other
    assert np.median(np.abs(errs)) <= 1.0, errs
    assert np.median(np.abs(errs)) < np.median(np.abs(raw_errs))
    assert np.all(np.abs(ends) <= 3), ends

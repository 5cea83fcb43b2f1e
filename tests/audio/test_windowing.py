"""Windowing exactness: every window holds exactly the samples its start time says."""

import numpy as np
import pytest

from vinylmon.audio import AudioBlock, Windower, windows_from_blocks
from vinylmon.audio.types import frozen_samples
from vinylmon.errors import AudioDataError

RATE = 1000  # small rate: sample values can encode their own index exactly


def ramp(frames, channels=2):
    idx = np.arange(frames, dtype=np.float32)
    return np.stack([idx + 0.5 * c for c in range(channels)])  # channel c: index + c/2


def random_blocks(signal, rng, start_frame=0, stream_time=None):
    pos = 0
    while pos < signal.shape[1]:
        n = int(rng.integers(1, 3000))
        piece = signal[:, pos:pos + n]
        st = None if stream_time is None else stream_time + pos / RATE
        yield AudioBlock(frozen_samples(piece), RATE, (start_frame + pos) / RATE, st)
        pos += n


@pytest.mark.parametrize("window_s,hop_s", [(5.0, None), (5.0, 2.5), (2.0, 3.0), (1.0, 0.3)])
def test_windows_hold_exactly_their_samples(rng, window_s, hop_s):
    total = 12_345
    signal = ramp(total)
    windows = list(windows_from_blocks(random_blocks(signal, rng), window_s=window_s, hop_s=hop_s))
    wf, hf = int(window_s * RATE), int((hop_s or window_s) * RATE)
    full = [k * hf for k in range((total - wf) // hf + 1)]
    assert [round(w.start_s * RATE) for w in windows[:len(full)]] == full
    for i, w in enumerate(windows):
        assert w.index == i
        s = round(w.start_s * RATE)
        np.testing.assert_array_equal(w.samples, signal[:, s:s + w.frames])
        assert w.samples.flags.writeable is False
    # full windows, then one tail window with the samples no full window covered
    covered_to = full[-1] + wf
    tail_start = full[-1] + hf
    if covered_to < total and tail_start < total:
        tail = windows[-1]
        assert len(windows) == len(full) + 1
        assert round(tail.start_s * RATE) == tail_start
        assert tail.end_s == pytest.approx(total / RATE)
    else:
        assert len(windows) == len(full)


def test_every_sample_is_analysed_without_overlap(rng):
    signal = ramp(7_777, channels=1)
    windows = list(windows_from_blocks(random_blocks(signal, rng), window_s=2.0))
    joined = np.concatenate([w.samples for w in windows], axis=1)
    np.testing.assert_array_equal(joined, signal)


def test_short_stream_gives_one_short_window(rng):
    signal = ramp(1234)
    (w,) = windows_from_blocks(random_blocks(signal, rng), window_s=5.0)
    assert w.start_s == 0 and w.frames == 1234


def test_start_time_offset_and_stream_clock(rng):
    signal = ramp(11_000)
    windows = list(windows_from_blocks(random_blocks(signal, rng, start_frame=3000,
                                                     stream_time=100.0), window_s=5.0))
    assert [w.start_s for w in windows] == [3.0, 8.0, 13.0]
    assert [w.stream_time_s for w in windows] == pytest.approx([100.0, 105.0, 110.0])


def test_gap_restarts_windowing_and_is_counted():
    w = Windower(RATE, 1, window_s=2.0)
    a = ramp(3000, 1)
    out = w.push(AudioBlock(frozen_samples(a), RATE, 0.0))
    assert [x.start_s for x in out] == [0.0]
    # 500 frames lost: the next block starts at 3.5 s; the partial window 2.0-3.0 is dropped
    b = ramp(4000, 1) + 3500
    out = w.push(AudioBlock(frozen_samples(b), RATE, 3.5))
    assert w.discontinuities == 1
    assert [x.start_s for x in out] == [3.5, 5.5]
    np.testing.assert_array_equal(out[0].samples[0, :3], [3500, 3501, 3502])


def test_mismatched_blocks_are_refused():
    w = Windower(RATE, 2)
    with pytest.raises(AudioDataError, match="does not match"):
        w.push(AudioBlock(frozen_samples(ramp(10, 1)), RATE, 0.0))
    with pytest.raises(AudioDataError, match="does not match"):
        w.push(AudioBlock(frozen_samples(ramp(10, 2)), 2000, 0.0))


def test_level_is_rms_in_dbfs():
    x = np.full((2, 5000), 0.1, dtype=np.float32)
    (w,) = windows_from_blocks([AudioBlock(frozen_samples(x), RATE, 0.0)], window_s=5.0)
    assert w.level_db == pytest.approx(-20.0, abs=1e-4)


@pytest.mark.parametrize("kw", [{"window_s": 0}, {"window_s": 1, "hop_s": -1}])
def test_bad_windowing_options(kw):
    with pytest.raises(ValueError):
        Windower(RATE, 1, **kw)

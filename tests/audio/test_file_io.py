"""Loading recordings: every format, bit depth, rate and channel count we promise."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio import (
    ANALYSIS_RATE,
    AudioBlock,
    BlockResampler,
    audio_info,
    file_windows,
    load,
    read_blocks,
    resample,
)
from vinylmon.audio.types import frozen_samples
from vinylmon.errors import AudioDataError


def tones(sample_rate, channels, seconds=1.0):
    """Channel c holds a sine at 300*(c+1) Hz, amplitude 0.5/(c+1): channels are tellable."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.stack([0.5 / (c + 1) * np.sin(2 * np.pi * 300 * (c + 1) * t)
                     for c in range(channels)], axis=1)  # (frames, channels)


def expected(channels, seconds, rate=ANALYSIS_RATE):
    return tones(rate, min(channels, 2), seconds).T


def write(path, data, rate, fmt, subtype):
    sf.write(str(path), data, rate, format=fmt, subtype=subtype)
    return path


def check_lossless(block, channels, seconds, tol):
    ref = expected(channels, seconds)
    assert block.sample_rate == ANALYSIS_RATE
    assert block.samples.dtype == np.float32
    assert block.samples.shape[0] == min(channels, 2)
    assert abs(block.samples.shape[1] - ref.shape[1]) <= 1
    n = min(block.samples.shape[1], ref.shape[1])
    edge = 2000  # resampler edges
    err = np.abs(block.samples[:, edge:n - edge] - ref[:, edge:n - edge]).max()
    assert err < tol, err


LOSSLESS = [
    ("WAV", "PCM_U8", 0.02), ("WAV", "PCM_16", 1e-3), ("WAV", "PCM_24", 1e-3),
    ("WAV", "PCM_32", 1e-3), ("WAV", "FLOAT", 1e-3), ("WAV", "DOUBLE", 1e-3),
    ("FLAC", "PCM_S8", 0.02), ("FLAC", "PCM_16", 1e-3), ("FLAC", "PCM_24", 1e-3),
    ("AIFF", "PCM_S8", 0.02), ("AIFF", "PCM_16", 1e-3), ("AIFF", "PCM_24", 1e-3),
    ("AIFF", "PCM_32", 1e-3), ("AIFF", "FLOAT", 1e-3),
]


@pytest.mark.parametrize("fmt,subtype,tol", LOSSLESS)
def test_lossless_formats_and_depths(tmp_path, fmt, subtype, tol):
    path = write(tmp_path / f"x.{fmt.lower()}", tones(48000, 2), 48000, fmt, subtype)
    check_lossless(load(path), 2, 1.0, tol)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 88200, 96000, 176400, 192000])
def test_sample_rates(tmp_path, rate):
    path = write(tmp_path / "x.wav", tones(rate, 2), rate, "WAV", "PCM_24")
    info = audio_info(path)
    assert info.sample_rate == rate and info.frames == rate
    # 8 kHz audio holds nothing above 4 kHz; our tones (300, 600 Hz) survive every rate.
    check_lossless(load(path), 2, 1.0, 2e-3)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 6])
def test_channel_counts(tmp_path, channels):
    path = write(tmp_path / "x.flac", tones(44100, channels), 44100, "FLAC", "PCM_24")
    info = audio_info(path)
    assert info.channels == channels
    assert info.analysed_channels == min(channels, 2)
    assert info.dropped_channels == max(0, channels - 2)
    block = load(path)
    check_lossless(block, channels, 1.0, 1e-3)  # the first two channels, in order


def dominant_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)]


@pytest.mark.parametrize("fmt,subtype,ext", [("OGG", "VORBIS", "ogg"),
                                             ("MP3", "MPEG_LAYER_III", "mp3")])
def test_lossy_formats(tmp_path, fmt, subtype, ext):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot handle {fmt}")
    path = write(tmp_path / f"x.{ext}", tones(44100, 2, 2.0), 44100, fmt, subtype)
    block = load(path)
    assert block.samples.shape[0] == 2
    # codecs add a little padding; never lose audio, never add more than 0.1 s
    assert 2.0 * ANALYSIS_RATE <= block.samples.shape[1] <= 2.1 * ANALYSIS_RATE
    mid = block.samples[:, 20000:60000]
    assert abs(dominant_hz(mid[0], ANALYSIS_RATE) - 300) < 5
    assert abs(dominant_hz(mid[1], ANALYSIS_RATE) - 600) < 5
    rms = np.sqrt(np.mean(mid.astype(np.float64) ** 2, axis=1))
    np.testing.assert_allclose(rms, [0.5 / np.sqrt(2), 0.25 / np.sqrt(2)], rtol=0.1)


def test_blocks_are_consecutive_and_match_whole_load(tmp_path, rng):
    data = rng.uniform(-0.5, 0.5, size=(96000 * 3 + 17, 2))
    path = write(tmp_path / "x.flac", data, 96000, "FLAC", "PCM_24")
    blocks = list(read_blocks(path, block_s=0.37))
    end = 0.0
    for b in blocks:
        assert b.start_s == pytest.approx(end, abs=1e-9)
        assert b.samples.flags.writeable is False
        end = b.end_s
    joined = np.concatenate([b.samples for b in blocks], axis=1)
    whole = load(path).samples
    np.testing.assert_allclose(joined, whole, atol=1e-6)
    assert joined.shape[1] == round(data.shape[0] * 44100 / 96000)


def test_streaming_resample_equals_one_shot(tmp_path, rng):
    data = rng.uniform(-0.5, 0.5, size=(48000 * 2, 2)).astype(np.float32)
    path = write(tmp_path / "x.wav", data, 48000, "WAV", "FLOAT")
    streamed = load(path).samples
    one_shot = resample(data.T, from_rate=48000)
    assert streamed.shape == one_shot.shape
    np.testing.assert_allclose(streamed, one_shot, atol=1e-4)


def test_file_windows_from_a_file(tmp_path):
    path = write(tmp_path / "x.flac", tones(44100, 2, 12.0), 44100, "FLAC", "PCM_16")
    windows = list(file_windows(path, window_s=5.0))
    assert [w.start_s for w in windows] == [0.0, 5.0, 10.0]
    assert [w.frames for w in windows] == [5 * 44100, 5 * 44100, 2 * 44100]
    level = 10 * np.log10((0.5**2 + 0.25**2) / 4)  # mean square of both sines
    assert all(abs(w.level_db - level) < 0.05 for w in windows)


def test_block_resampler_streams_like_one_shot(rng):
    x = rng.uniform(-0.5, 0.5, (2, 48000 * 2)).astype(np.float32)
    r = BlockResampler(48000, 2)
    out, pos = [], 0
    while pos < x.shape[1]:
        n = int(rng.integers(1, 5000))
        b = r.push(AudioBlock(frozen_samples(x[:, pos:pos + n]), 48000, 10.0 + pos / 48000,
                              stream_time_s=500.0 + pos / 48000))
        pos += n
        if b is not None:
            out.append(b)
    out.append(r.flush())
    assert out[0].start_s == 10.0 and out[0].stream_time_s == pytest.approx(500.0)
    for a, b in zip(out, out[1:], strict=False):
        assert b.start_s == pytest.approx(a.end_s, abs=1e-9)
        assert b.stream_time_s == pytest.approx(500.0 + b.start_s - 10.0, abs=1e-3)
    joined = np.concatenate([b.samples for b in out], axis=1)
    np.testing.assert_allclose(joined, resample(x, from_rate=48000), atol=1e-4)


def test_block_resampler_restarts_after_a_gap():
    r = BlockResampler(44100, 1)
    one = AudioBlock(frozen_samples(np.zeros((1, 4410))), 44100, 0.0)
    assert r.push(one).start_s == 0.0
    later = AudioBlock(frozen_samples(np.zeros((1, 4410))), 44100, 2.0)
    assert r.push(later).start_s == 2.0
    assert r.discontinuities == 1


def test_block_resampler_refuses_nan_and_mismatch():
    r = BlockResampler(48000, 2)
    bad = np.zeros((2, 100), np.float32)
    bad[1, 50] = np.nan
    with pytest.raises(AudioDataError, match="live input"):
        r.push(AudioBlock(frozen_samples(bad), 48000, 0.0))
    with pytest.raises(AudioDataError, match="does not match"):
        r.push(AudioBlock(frozen_samples(np.zeros((1, 100))), 48000, 0.0))


@pytest.mark.parametrize("fmt,subtype,ext", [("FLAC", "PCM_24", "flac"), ("OGG", "VORBIS", "ogg")])
def test_excerpt_matches_the_same_part_of_the_whole(tmp_path, rng, fmt, subtype, ext):
    data = rng.uniform(-0.5, 0.5, (48000 * 6, 2))
    path = write(tmp_path / f"x.{ext}", data, 48000, fmt, subtype)
    whole = load(path).samples
    part = load(path, start_s=2.5, duration_s=1.5)
    assert part.start_s == 2.5
    assert abs(part.frames - round(1.5 * ANALYSIS_RATE)) <= 1
    s = round(2.5 * ANALYSIS_RATE)
    mid = slice(500, part.frames - 500)  # resampler edges differ
    tol = 1e-3 if fmt == "FLAC" else 0.05
    np.testing.assert_allclose(part.samples[:, mid], whole[:, s:s + part.frames][:, mid], atol=tol)

"""Bad recordings: each fails with a clear VinylmonError that names the file."""

import os

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio import audio_info, load, read_blocks, resample
from vinylmon.errors import AudioDataError, AudioFileError, VinylmonError


def test_missing_file(tmp_path):
    path = tmp_path / "nope.flac"
    with pytest.raises(AudioFileError, match="no such file") as e:
        load(path)
    assert str(path) in str(e.value)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(AudioFileError, match="folder"):
        audio_info(tmp_path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty") as e:
        load(path)
    assert str(path) in str(e.value)


def test_zero_frames(tmp_path):
    path = tmp_path / "noframes.wav"
    sf.write(str(path), np.zeros((0, 2)), 44100, subtype="PCM_16")
    with pytest.raises(AudioFileError, match="no audio"):
        load(path)


def test_garbage_bytes(tmp_path, rng):
    path = tmp_path / "garbage.flac"
    path.write_bytes(rng.integers(0, 256, 10000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioFileError, match="corrupt") as e:
        load(path)
    assert str(path) in str(e.value)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my record notes, not audio\n" * 50)
    with pytest.raises(AudioFileError):
        audio_info(path)


def test_truncated_flac_never_escapes_as_another_error(tmp_path, rng):
    path = tmp_path / "cut.flac"
    sf.write(str(path), rng.uniform(-0.5, 0.5, (44100 * 4, 2)), 44100, subtype="PCM_24")
    raw = path.read_bytes()
    for keep in (len(raw) // 2, len(raw) // 3, 200):
        path.write_bytes(raw[:keep])
        try:
            block = load(path)
        except VinylmonError:
            continue
        assert 0 < block.frames < 44100 * 4 + 1
        assert np.isfinite(block.samples).all()


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_24"),
                                               ("WAV", "FLOAT"), ("AIFF", "PCM_24"),
                                               ("WAVEX", "PCM_16")])
def test_a_pcm_file_cut_mid_audio_says_what_its_header_promised(tmp_path, rng, fmt, subtype):
    """libsndfile reads the frames present without complaint; the header's data size
    still tells the 4 s the recording was meant to hold."""
    path = tmp_path / f"cut.{'aiff' if fmt == 'AIFF' else 'wav'}"
    sf.write(str(path), rng.uniform(-0.5, 0.5, (44100 * 4, 2)), 44100, format=fmt,
             subtype=subtype)
    whole = audio_info(path)
    assert whole.declared_frames is None and whole.declared_s == whole.duration_s == 4.0
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 5 // 8])
    info = audio_info(path)
    assert info.frames < 44100 * 4 * 0.7
    assert info.declared_frames == 44100 * 4
    assert info.declared_s == pytest.approx(4.0) and info.duration_s < 2.8
    assert load(path).frames == info.frames  # what is there is still read


def test_a_streamed_wav_with_an_open_length_is_not_called_truncated(tmp_path, rng):
    """A WAV written while recording may leave its sizes at 0 or 0xFFFFFFFF."""
    path = tmp_path / "stream.wav"
    sf.write(str(path), rng.uniform(-0.5, 0.5, (44100, 2)), 44100, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    assert raw[36:40] == b"data"
    raw[40:44] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(raw))
    try:
        info = audio_info(path)
    except AudioFileError:
        return  # refused as a stream of unknown length: also no false "truncated"
    assert info.declared_frames is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    data = np.zeros((44100 * 3, 2), dtype=np.float32)
    data[44100 * 2 + 100, 1] = bad
    path = tmp_path / "nan.wav"
    sf.write(str(path), data, 44100, subtype="FLOAT")
    with pytest.raises(AudioDataError, match="NaN or infinite") as e:
        load(path)
    assert str(path) in str(e.value)
    assert "2.002 s" in str(e.value)  # says where


@pytest.mark.parametrize("rate", [1000, 4000, 7999, 192001, 384000])
def test_absurd_sample_rates(tmp_path, rate):
    path = tmp_path / "rate.wav"
    sf.write(str(path), np.zeros((rate // 10, 1)), rate, subtype="PCM_16")
    with pytest.raises(AudioDataError, match=f"{rate} Hz is outside"):
        list(read_blocks(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.wav"
    sf.write(str(path), np.zeros((100, 1)), 44100)
    path.chmod(0)
    with pytest.raises(AudioFileError, match="permission"):
        load(path)


def test_resample_rejects_bad_shapes_and_rates():
    with pytest.raises(AudioDataError, match="channels, frames"):
        resample(np.zeros(100, dtype=np.float32), from_rate=48000)
    with pytest.raises(AudioDataError, match="outside"):
        resample(np.zeros((1, 100), dtype=np.float32), from_rate=10)


def test_bad_options():
    with pytest.raises(ValueError):
        list(read_blocks("x.wav", block_s=0))


def test_excerpt_beyond_the_end(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(str(path), np.zeros((44100, 1)), 44100)
    with pytest.raises(AudioFileError, match="after the end"):
        load(path, start_s=5.0)
    with pytest.raises(ValueError):
        load(path, start_s=-1)

"""Click repair on bad input: each fails with a clear VinylmonError."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.repair import RepairError, measure_impulse, repair, repair_file
from vinylmon.errors import AudioFileError, VinylmonError

SR = 44100


@pytest.fixture
def wav(tmp_path, rng):
    path = tmp_path / "in.wav"
    sf.write(path, 0.1 * rng.standard_normal((SR, 2)), SR, subtype="PCM_16")
    return path


def test_errors_are_vinylmon_errors():
    assert issubclass(RepairError, VinylmonError)


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        repair_file(tmp_path / "nope.wav", tmp_path / "out.wav", [])


def test_not_audio(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("hello\n" * 100)
    with pytest.raises(AudioFileError, match="not a readable recording"):
        repair_file(path, tmp_path / "out.wav", [])
    assert not (tmp_path / "out.wav").exists()


def test_unwritable_output(wav, tmp_path):
    with pytest.raises(AudioFileError, match="no folder"):
        repair_file(wav, tmp_path / "missing" / "out.wav", [])
    with pytest.raises(AudioFileError, match="is a folder"):
        repair_file(wav, tmp_path, [])
    with pytest.raises(AudioFileError, match="is the input"):
        repair_file(wav, wav, [])
    with pytest.raises(AudioFileError, match="also the repaired"):
        repair_file(wav, tmp_path / "o.wav", [], removed=tmp_path / "o.wav")
    (tmp_path / "o.wav.part").mkdir()
    with pytest.raises(AudioFileError, match="cannot write"):
        repair_file(wav, tmp_path / "o.wav", [(0.1, 0.1001, 0)])
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("event", [(2.0, 2.001, 0), (-0.5, 0.1, 0), (0.5, 0.4, 0)])
def test_event_outside_the_file(wav, tmp_path, event):
    with pytest.raises(RepairError, match="outside the recording"):
        repair_file(wav, tmp_path / "out.wav", [event])
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("event", [(0.1, 0.2), ("a", "b", 0), None])
def test_event_not_a_triple(wav, tmp_path, event):
    with pytest.raises(RepairError):
        repair_file(wav, tmp_path / "out.wav", [event])


@pytest.mark.parametrize(("span", "match"), [
    ((100, 2000, 0), "outside the audio"), ((-5, 10, 0), "empty or reversed"),
    ((10, 10, 0), "empty or reversed"), ((10, 20, 2), "no channel 2"),
    ((10, 20, -1), "no channel"), ((1.5, 20, 0), "whole frames"), ((10, 20, "left"), "channel")])
def test_bad_spans(span, match):
    with pytest.raises(RepairError, match=match):
        repair(np.zeros((1000, 2)), [span], sample_rate=SR)


@pytest.mark.parametrize(("options", "match"), [
    ({"sample_rate": 0}, "sample rate"), ({"sample_rate": "fast"}, "sample_rate"),
    ({"guard_s": -0.1}, "guard_s"), ({"guard_s": float("nan")}, "guard_s"),
    ({"max_span_s": 0}, "max_span_s"), ({"max_order": 1}, "max_order"),
    ({"max_order": 2.5}, "max_order")])
def test_bad_options(options, match):
    kwargs = {"sample_rate": SR, **options}
    with pytest.raises(RepairError, match=match):
        repair(np.zeros((1000, 2)), [], **kwargs)


@pytest.mark.parametrize("samples", [np.zeros((0, 2)), np.zeros((10, 2, 2)),
                                     np.array(["a", "b"]), np.array([0.0, np.nan, 0.0])])
def test_bad_audio(samples):
    with pytest.raises(RepairError):
        repair(samples, [], sample_rate=SR)


def test_span_with_no_audio_around_it_is_left():
    x = np.zeros((10, 1))
    x[:, 0] = np.arange(10)
    out = repair(x, [(0, 10, 0)], sample_rate=SR, guard_s=0)
    assert out.repaired == () and len(out.left) == 1
    assert np.array_equal(out.samples, x)


@pytest.mark.parametrize("start, end", [(10, 10), (20, 10), (-1, 5), (90, 101)])
def test_residual_peak_of_a_span_outside_the_audio(start, end):
    x = np.zeros((2, 100))
    with pytest.raises(ValueError, match="not inside"):
        measure_impulse(x, start, end, None, level=1.0)


def test_residual_peak_of_silence_is_unknown():
    assert measure_impulse(np.zeros((2, 4000)), 2000, 2030, 0, level=0.0) is None

"""Silence gate: closes on idle input, never on real groove noise."""

import numpy as np
import pytest

from vinylmon.audio import SilenceGate, file_windows
from vinylmon.audio.types import Window, frozen_samples, rms_db


def window(samples, index=0):
    s = frozen_samples(np.atleast_2d(samples))
    return Window(samples=s, sample_rate=44100, start_s=index * 5.0, index=index,
                  level_db=rms_db(s))


def test_digital_silence_is_silent():
    assert SilenceGate()(window(np.zeros((2, 44100)))).silent is True


def test_idle_16bit_converter_floor_is_silent(rng):
    lsb = 1 / 32768
    dither = (rng.uniform(-0.5, 0.5, (2, 5 * 44100)) + rng.uniform(-0.5, 0.5, (2, 5 * 44100))) * lsb
    w = window(np.round(dither / lsb) * lsb)
    assert w.level_db < -90
    assert SilenceGate()(w).silent is True


@pytest.mark.parametrize("gain_db", [0.0, -20.0, -30.0])
def test_real_groove_noise_is_never_gated(noise_dir, gain_db):
    files = sorted((noise_dir / "vinyl").glob("*.flac"))
    assert len(files) == 5
    for f in files:
        gate = SilenceGate()
        for w in file_windows(f, window_s=1.0):
            quiet = window(w.samples * 10 ** (gain_db / 20), w.index)
            assert gate(quiet).silent is False, (f.name, w.start_s, quiet.level_db)


def test_music_then_silence_then_music(rng):
    gate = SilenceGate()
    music = rng.normal(0, 0.1, (2, 44100))
    states = [gate(window(x)).silent for x in (music, np.zeros((2, 44100)), music)]
    assert states == [False, True, False]


def test_hysteresis_holds_state_between_thresholds():
    gate = SilenceGate(threshold_db=-70, peak_threshold_db=-50, hysteresis_db=6)
    levels = [(-60, -40), (-72, -55), (-67, -52), (-72, -55), (-67, -52), (-63, -52), (-80, -60)]
    states = [gate.update(level_db=a, peak_db=b) for a, b in levels]
    # open; both low -> close; between -> stays closed; closed; between -> closed;
    # RMS 7 dB above threshold -> opens; both low -> closes
    assert states == [False, True, True, True, True, False, True]
    gate.reset()
    assert gate.update(level_db=-67, peak_db=-52) is False  # starts open


def test_a_click_in_silence_opens_the_gate():
    x = np.zeros((2, 44100))
    x[0, 1000] = 0.05  # one tick at -26 dBFS in digital silence
    gate = SilenceGate()
    gate(window(np.zeros((2, 44100))))
    assert gate(window(x)).silent is False


def test_negative_hysteresis_is_refused():
    with pytest.raises(ValueError):
        SilenceGate(hysteresis_db=-1)

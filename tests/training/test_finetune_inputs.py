"""Calibration takes read from files: cut to the longest take with a note, mono doubled."""

import numpy as np
import soundfile as sf

from vinylmon.training.finetune.inputs import read_take

SR = 44100


def test_a_long_take_is_cut_with_a_note(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.full((SR * 4, 2), 0.1, np.float32), SR)
    x, note = read_take(str(path), min_s=1.0, max_s=2.0)
    assert x.shape == (2, 2 * SR) and x.dtype == np.float32
    assert "using its first 2 s" in note
    assert read_take(str(path), min_s=1.0, max_s=10.0)[1] is None


def test_mono_take_is_played_on_both_channels(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, np.full(SR * 3, 0.1, np.float32), SR)
    x, _ = read_take(str(path), min_s=1.0)
    assert x.shape == (2, 3 * SR) and np.array_equal(x[0], x[1])

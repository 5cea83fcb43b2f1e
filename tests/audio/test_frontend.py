import numpy as np
import pytest
import torch

from vinylmon.audio.frontend import MelConfig, MelFrontend, mel_spectrogram
from vinylmon.errors import AudioDataError


def test_shape_and_calibration():
    cfg = MelConfig()
    t = np.arange(44100) / 44100
    x = np.stack([np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 1000 * t)])
    m = mel_spectrogram(x.astype(np.float32))
    assert m.shape == (2, cfg.n_mels, cfg.frames(44100))
    mid = m[:, :, 20:-20].max(axis=(1, 2))
    assert mid[0] == pytest.approx(0.0, abs=2.0)  # full-scale sine reads about 0 dB
    assert mid[0] - mid[1] == pytest.approx(20.0, abs=0.5)


def test_batched_module_matches_function(rng):
    x = rng.normal(0, 0.1, (3, 2, 22050)).astype(np.float32)
    fe = MelFrontend()
    with torch.inference_mode():
        batched = fe(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(batched[1], mel_spectrogram(x[1]), atol=1e-3)


def test_silence_sits_at_floor():
    m = mel_spectrogram(np.zeros((1, 4096), np.float32))
    assert np.all(m == -120.0)


def test_bad_inputs():
    with pytest.raises(AudioDataError, match="44100 Hz"):
        mel_spectrogram(np.zeros((1, 1000), np.float32), sample_rate=48000)
    with pytest.raises(AudioDataError, match="NaN"):
        mel_spectrogram(np.full((1, 1000), np.nan, np.float32))
    with pytest.raises(AudioDataError, match="shape"):
        mel_spectrogram(np.zeros((1, 0), np.float32))

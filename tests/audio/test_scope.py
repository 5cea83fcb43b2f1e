"""The live scope: spectrogram columns where the energy is, levels, clip counts, bounded."""

import numpy as np

from vinylmon.audio.scope import Scope
from vinylmon.audio.types import AudioBlock

SR = 44100


def _blocks(x, size):
    for a in range(0, x.shape[1], size):
        yield AudioBlock(x[:, a:a + size], SR, a / SR)


def test_a_sine_lights_its_band_and_columns_arrive_at_the_hop():
    t = np.arange(2 * SR) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t)] * 2).astype(np.float32)
    scope = Scope(SR, 2)
    for b in _blocks(x, 1024):  # blocks smaller than the FFT: columns still come
        scope.push(b)
    f = scope.take()
    want = (2 * SR - scope.n_fft) // scope.hop + 1
    assert abs(len(f.columns_db) - want) <= 1
    band = int(np.argmax(f.columns_db[len(f.columns_db) // 2]))
    assert abs(scope.freqs_hz[band] - 1000) / 1000 < 0.1
    assert abs(f.peak_dbfs[0] - 20 * np.log10(0.5)) < 0.1
    assert abs(f.rms_dbfs[1] - 20 * np.log10(0.5 / np.sqrt(2))) < 0.1
    assert f.clipped_samples == 0
    assert f.end_s == 2.0
    g = scope.take()  # nothing new
    assert len(g.columns_db) == 0 and g.peak_dbfs[0] == float("-inf")


def test_clipping_is_counted_per_take_and_in_total():
    x = np.zeros((2, 4096), np.float32)
    x[0, 100:110] = 1.0
    scope = Scope(SR, 2)
    scope.push(AudioBlock(x, SR, 0.0))
    assert scope.take().clipped_samples == 10
    scope.push(AudioBlock(x, SR, 4096 / SR))
    f = scope.take()
    assert f.clipped_samples == 10 and f.total_clipped_samples == 20


def test_untaken_columns_are_bounded():
    rng = np.random.default_rng(0)
    scope = Scope(SR, 1, max_columns=100)
    for i in range(40):
        scope.push(AudioBlock(rng.normal(0, 0.1, (1, 4096)).astype(np.float32), SR,
                              i * 4096 / SR))
    assert len(scope.take().columns_db) == 100

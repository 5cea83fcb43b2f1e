"""The microphone path: a record played through speakers and picked up in a room.

Coloration (random EQ, the mic's low cut and high roll-off), a little reverb,
and room noise, so that mic-recorded playback is covered, not only line-in.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def _peaking(f0: float, gain_db: float, q: float, fs: float) -> np.ndarray:
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / fs
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def coloration(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A random mic/speaker/room EQ as second-order sections."""
    sos = [signal.butter(2, rng.uniform(60, 250), btype="highpass", fs=sample_rate,
                         output="sos"),
           signal.butter(2, rng.uniform(7000, 18000), btype="lowpass", fs=sample_rate,
                         output="sos")]
    for _ in range(int(rng.integers(2, 5))):
        sos.append(_peaking(np.exp(rng.uniform(np.log(100), np.log(10000))),
                            rng.uniform(-6, 6), rng.uniform(0.7, 3.0), sample_rate))
    return np.concatenate(sos, axis=0)


def room_ir(rng: np.random.Generator, sample_rate: int, *, rt60_s: float,
            wet_db: float) -> np.ndarray:
    """A small room's impulse response: the direct sound plus decaying noise, shape (2, n)."""
    n = int(rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal((2, n)) * np.exp(-6.91 * t / rt60_s)
    pre = int(rng.uniform(0.002, 0.01) * sample_rate)  # first reflections arrive later
    tail[:, :pre] = 0
    tail *= 10 ** (wet_db / 20) / np.sqrt(np.sum(tail**2, axis=1, keepdims=True) + 1e-12)
    tail[:, 0] += 1.0
    return tail


def apply(x: np.ndarray, *, sos: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """EQ then reverb, shape (channels, frames) in and out (same length)."""
    y = signal.sosfilt(sos, x, axis=1)
    return np.stack([signal.oaconvolve(y[c], ir[c % ir.shape[0]])[: x.shape[1]]
                     for c in range(x.shape[0])])

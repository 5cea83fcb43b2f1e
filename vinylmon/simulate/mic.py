"""The microphone path: a record played through speakers and picked up in a room.

Coloration (random EQ, the mic's low cut and high roll-off), a little reverb,
and room noise, so that mic-recorded playback is covered, not only line-in.
:func:`bad_microphone` is one fixed, poor microphone for adaptation tests.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from vinylmon.simulate import noise as nz


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


def bad_microphone(x: np.ndarray, *, seed: int = 0, sample_rate: int = 44100,
                   low_cut_hz: float = 300.0, high_cut_hz: float = 7000.0,
                   peaks: tuple[tuple[float, float, float], ...] = (
                       (500.0, -8.0, 1.0), (1800.0, 10.0, 1.5), (4000.0, 6.0, 2.0)),
                   rt60_s: float = 0.3, wet_db: float = -12.0,
                   snr_db: float = 25.0) -> np.ndarray:
    """A poor microphone in a room: strong EQ, a little reverb, room noise.

    For tests and benchmarks of microphone adaptation: audio that the models
    trained on line-in recordings have not heard. The EQ is a low cut, a
    roll-off and peaking filters ``(Hz, dB, Q)``; the room noise (a
    -4 dB/octave hiss with mains hum, seeded) sits ``snr_db`` below the
    microphone's signal. Same length and level scale as ``x``.

    Parameters
    ----------
    x : np.ndarray, shape (channels, frames)
    seed, sample_rate, low_cut_hz, high_cut_hz, peaks, rt60_s, wet_db, snr_db : keyword-only

    Returns
    -------
    np.ndarray, shape (channels, frames), float32
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    sos = np.concatenate(
        [signal.butter(2, low_cut_hz, btype="highpass", fs=sample_rate, output="sos"),
         signal.butter(2, high_cut_hz, btype="lowpass", fs=sample_rate, output="sos")]
        + [_peaking(f0, g, q, sample_rate) for f0, g, q in peaks])
    y = apply(x, sos=sos, ir=room_ir(rng, sample_rate, rt60_s=rt60_s, wet_db=wet_db))
    level = 10 * np.log10(float(np.mean(y**2)) + 1e-30)
    room = nz.shaped_noise(rng, y.shape[1], sample_rate=sample_rate, tilt_db_per_oct=-4.0,
                           hf_cut_hz=8000.0, channels=y.shape[0], correlation=0.6)
    room = room + 0.3 * nz.hum(rng, y.shape[1], sample_rate=sample_rate, mains_hz=50.0)[
        :y.shape[0]]
    return (y + nz.set_rms(room, level - snr_db)).astype(np.float32)

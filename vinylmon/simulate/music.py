"""Synthetic 'music' for tests and benchmarks that need no corpus."""

from __future__ import annotations

import numpy as np

from vinylmon.audio.types import ANALYSIS_RATE


def synthetic_music(rng: np.random.Generator, seconds: float = 10.0, *,
                    sample_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Decaying harmonic notes (four a second) over a soft pad, stereo.

    Each note rises over 5 ms, as an instrument's does: a note that starts at
    full slope is itself a click.

    Returns
    -------
    np.ndarray, shape (2, samples), float32
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    x = 0.05 * np.sin(2 * np.pi * 110 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * t))
    for start in np.arange(0, seconds, 0.25):
        f0 = 220 * 2 ** (rng.integers(0, 12) / 12)
        seg = t[int(start * sample_rate):] - start
        note = sum(np.sin(2 * np.pi * f0 * h * seg) / h for h in range(1, 6))
        attack = np.sin(0.5 * np.pi * np.minimum(seg / 0.005, 1.0)) ** 2
        x[int(start * sample_rate):] += 0.08 * note * np.exp(-seg * 6) * attack
    return np.stack([x, np.roll(x, 200)]).astype(np.float32)

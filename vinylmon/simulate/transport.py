"""What the turntable does to the music: wow and flutter, skips and repeats."""

from __future__ import annotations

import numpy as np


def wow_flutter(x: np.ndarray, *, sample_rate: int, wow_depth: float, wow_hz: float,
                flutter_depth: float, flutter_hz: float, phase: float = 0.0) -> np.ndarray:
    """Time-varying resampling: playback speed ``1 + d(t)``.

    ``d(t) = wow_depth sin(2 pi wow_hz t + phase) + flutter_depth sin(2 pi flutter_hz t)``
    (depths as fractions: 0.002 = 0.2 % wow). Output has the input's length; the
    read position may run past the end by a few samples, clamped to the last one.

    Parameters
    ----------
    x : np.ndarray, shape (channels, frames)
    """
    if wow_depth == 0 and flutter_depth == 0:
        return x
    n = x.shape[1]
    t = np.arange(n) / sample_rate
    speed = 1 + wow_depth * np.sin(2 * np.pi * wow_hz * t + phase) \
        + flutter_depth * np.sin(2 * np.pi * flutter_hz * t)
    pos = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    pos = np.minimum(pos, n - 1)
    grid = np.arange(n)
    return np.stack([np.interp(pos, grid, ch) for ch in x])


def splice(x: np.ndarray, *, at: int, period: int, kind: str, repeats: int = 1) -> np.ndarray:
    """The stylus jumps at sample ``at``.

    ``repeat``: it falls back one groove, so the last ``period`` samples play again
    ``repeats`` times (a locked or skipping groove). ``jump``: it is thrown forward,
    and ``period`` samples are lost. Returns the new signal (length changes).
    """
    if kind == "repeat":
        start = max(0, at - period)
        parts = [x[:, :at]] + [x[:, start:at]] * repeats + [x[:, at:]]
        return np.concatenate(parts, axis=1)
    if kind == "jump":
        return np.concatenate([x[:, :at], x[:, at + period:]], axis=1)
    raise ValueError(f"unknown skip kind {kind!r}")

"""Impulse shapes: clicks, pops, crackle ticks and scratch ticks.

Every shape is a finite array that is exactly zero outside its support, with a
peak magnitude of 1 over its channels, so the truth span of an impulse is the
support of its array and nothing leaks outside it.

Shapes (at 44.1 kHz, one sample is 0.023 ms):
- ``impulse``: asymmetric spike, fast rise and exponential decay, uni- or bipolar,
  0.05-2 ms: the classic dust click.
- ``resonant``: a damped band-pass resonance (1.5-12 kHz) excited by the spike:
  the cartridge ringing on a sharp groove defect.
- ``pop``: a low-frequency thump (40-250 Hz, 2-10 ms) with a sharp onset: a deep
  scratch or a static discharge.
- ``crackle``: a very short spike, 0.02-0.3 ms.

Every shape then goes through the playback chain (:func:`playback`): the groove
defect is read by a stylus and a cartridge and de-emphasised by the RIAA curve,
which low-passes it (75 us, varied) and may ring at the cartridge resonance. This
is what makes real ticks 0.15-0.5 ms long with their energy centred at 1-6 kHz
(measured on the real beds), not one-sample spikes with a flat spectrum.
"""

from __future__ import annotations

import numpy as np


def _taper(x: np.ndarray, n: int) -> np.ndarray:
    """Fade the last ``n`` samples to exactly zero (raised cosine)."""
    n = min(n, x.shape[-1])
    if n > 0:
        x[..., -n:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, n + 1)[1:]))
    return x


def playback(rng: np.random.Generator, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """De-emphasis and cartridge: one-pole low-pass (tau 40-110 us), sometimes a
    resonance at 10-18 kHz; cut where the tail falls 60 dB under the peak."""
    from scipy import signal

    tau = rng.uniform(40e-6, 110e-6)
    a = np.exp(-1.0 / (tau * sample_rate))
    pad = np.concatenate([x, np.zeros(int(12 * tau * sample_rate) + 8)])
    y = signal.lfilter([1 - a], [1, -a], pad)
    if rng.random() < 0.4:
        f0 = rng.uniform(10000, min(18000, 0.42 * sample_rate))
        b, den = signal.iirpeak(f0, rng.uniform(2, 5), fs=sample_rate)
        y = y + rng.uniform(0.2, 0.6) * signal.lfilter(b, den, y)
    keep = np.flatnonzero(np.abs(y) > 1e-3 * np.abs(y).max())
    y = y[: max(keep[-1] + 1, x.shape[0])]
    return _taper(y, max(1, y.shape[0] // 8))


def _spike(rng: np.random.Generator, frames: int) -> np.ndarray:
    frames = max(2, frames)
    rise = max(1, int(frames * rng.uniform(0.03, 0.3)))
    t = np.arange(frames, dtype=np.float64)
    up = np.sin(0.5 * np.pi * np.minimum(t + 1, rise) / rise)
    decay = np.exp(-np.maximum(t - rise, 0) / max(1.0, (frames - rise) * rng.uniform(0.15, 0.4)))
    x = up * decay
    if rng.random() < 0.5:  # bipolar: the groove wall swings back past centre
        back = int(frames * rng.uniform(0.2, 0.6))
        x[back:] -= rng.uniform(0.2, 0.7) * decay[: frames - back]
    return _taper(x, max(1, frames // 6))


def click(rng: np.random.Generator, sample_rate: int, *, style: str | None = None) -> np.ndarray:
    """One click, shape (frames,), peak |x| = 1. ``style`` is impulse or resonant."""
    style = style or ("resonant" if rng.random() < 0.35 else "impulse")
    if style == "impulse":
        x = _spike(rng, int(rng.uniform(0.05, 2.0) * 1e-3 * sample_rate))
    elif style == "resonant":
        frames = max(4, int(rng.uniform(0.3, 2.0) * 1e-3 * sample_rate))
        f = rng.uniform(1500, min(12000, 0.4 * sample_rate))
        t = np.arange(frames) / sample_rate
        ring = np.sin(2 * np.pi * f * t + rng.uniform(0, np.pi)) * np.exp(-t / (t[-1] * 0.3 + 1e-9))
        x = ring + rng.uniform(0.2, 1.0) * np.pad(_spike(rng, max(2, frames // 5)),
                                                  (0, frames - max(2, frames // 5)))
        x = _taper(x, max(1, frames // 5))
    else:
        raise ValueError(f"unknown click style {style!r}")
    x = playback(rng, x, sample_rate) * rng.choice([-1.0, 1.0])
    return x / np.max(np.abs(x))


def pop(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A pop: low-frequency thump with a sharp onset, shape (frames,), peak 1."""
    frames = int(rng.uniform(2.0, 10.0) * 1e-3 * sample_rate)
    f = rng.uniform(40, 250)
    t = np.arange(frames) / sample_rate
    thump = np.sin(np.pi * np.minimum(t * f * 2, 1.0)) if rng.random() < 0.5 else \
        np.sin(2 * np.pi * f * t) * np.exp(-t / (t[-1] * 0.35))
    onset_len = max(2, int(rng.uniform(0.05, 0.5) * 1e-3 * sample_rate))
    onset = np.zeros(frames)
    onset[:onset_len] = _spike(rng, onset_len) * rng.uniform(0.3, 1.0)
    x = _taper(thump * rng.uniform(0.5, 1.0) + onset, max(2, frames // 8))
    x = playback(rng, x, sample_rate) * rng.choice([-1.0, 1.0])
    return x / np.max(np.abs(x))


def crackle_tick(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A crackle tick: a very short spike, 0.02-0.3 ms, shape (frames,), peak 1."""
    x = _spike(rng, max(2, int(rng.uniform(0.02, 0.3) * 1e-3 * sample_rate)))
    x = playback(rng, x, sample_rate) * rng.choice([-1.0, 1.0])
    return x / np.max(np.abs(x))


def to_stereo(rng: np.random.Generator, x: np.ndarray, *, both: bool,
              channel: int | None = None,
              max_ild_db: float = 12.0) -> tuple[np.ndarray, int | None]:
    """Place a mono shape in a stereo pair.

    One channel, or both with an inter-channel level difference (0-``max_ild_db``), delay
    (0-4 samples) and possibly opposite polarity.

    Returns
    -------
    pair : np.ndarray, shape (2, frames + delay), peak |x| = 1
    channel : int or None
        The channel holding the impulse, or None when it is in both.
    """
    if not both:
        ch = int(rng.integers(0, 2)) if channel is None else channel
        out = np.zeros((2, x.shape[0]))
        out[ch] = x
        return out, ch
    delay = int(rng.integers(0, 5))
    out = np.zeros((2, x.shape[0] + delay))
    lead = int(rng.integers(0, 2))
    out[lead, : x.shape[0]] = x
    other = x * 10 ** (-rng.uniform(0, max_ild_db) / 20) * (-1.0 if rng.random() < 0.3 else 1.0)
    out[1 - lead, delay: delay + x.shape[0]] = other
    return out / np.max(np.abs(out)), None

"""Noise beds: groove hiss, rumble, hum, and real recordings.

Synthetic components are generated at an exact RMS so the surface-noise truth n
is known. Real recordings (../shared/data/noise) come through :class:`NoiseBank`:
turntable beds are analysed once for their impulses (so their crackle enters the
truth like synthetic crackle), and their mean spectrum shapes the synthetic hiss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from vinylmon.audio.io import load
from vinylmon.audio.types import rms_db, to_stereo

#: Where the real noise recordings live unless told otherwise.
NOISE_DIR_ENV = "VINYLMON_NOISE_DIR"


def default_noise_dir() -> Path:
    env = os.environ.get(NOISE_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "noise"


def set_rms(x: np.ndarray, db: float) -> np.ndarray:
    """Scale ``x`` to an RMS of ``db`` dB (re full scale / re 1)."""
    level = rms_db(x)
    if not np.isfinite(level):
        return x
    return x * 10 ** ((db - level) / 20)


def shaped_noise(rng: np.random.Generator, frames: int, *, sample_rate: int,
                 shape_db: np.ndarray | None = None, tilt_db_per_oct: float = -3.0,
                 hf_cut_hz: float = 16000.0, channels: int = 2,
                 correlation: float = 0.3) -> np.ndarray:
    """Gaussian noise with a given spectral shape, shape (channels, frames), RMS 1.

    ``shape_db`` (dB on ``np.fft.rfftfreq(frames)``-independent grid of 512 bands
    up to Nyquist) comes from real beds; otherwise a tilt (dB/octave re 1 kHz) with
    a roll-off above ``hf_cut_hz``. Channels share ``correlation`` of their noise
    (groove noise is partly common to both walls).
    """
    white = rng.standard_normal((channels, frames), dtype=np.float32)
    if channels > 1 and correlation > 0:
        common = rng.standard_normal(frames, dtype=np.float32)
        white = np.sqrt(1 - correlation) * white + np.sqrt(correlation) * common
    # A linear-phase FIR with the wanted magnitude (frequency sampling, 21.5 Hz
    # resolution at 44.1 kHz), applied by overlap-add: far cheaper than one
    # FFT over the whole excerpt.
    taps = 2048
    f = np.fft.rfftfreq(taps, 1 / sample_rate)
    if shape_db is not None:
        grid = np.linspace(0, sample_rate / 2, shape_db.shape[0])
        gain_db = np.interp(f, grid, shape_db)
    else:
        octaves = np.log2(np.maximum(f, 20.0) / 1000.0)
        gain_db = tilt_db_per_oct * octaves - 12 * np.maximum(
            np.log2(np.maximum(f, 1) / hf_cut_hz), 0) ** 2
    mag = 10 ** (gain_db / 20)
    mag[0] = 0.0
    h = np.roll(np.fft.irfft(mag, n=taps), taps // 2) * np.hanning(taps)
    out = signal.oaconvolve(white, h[None, :].astype(np.float32), mode="same", axes=1)
    return set_rms(out.astype(np.float64), 0.0)


def rumble(rng: np.random.Generator, frames: int, *, sample_rate: int,
           cutoff_hz: float = 20.0) -> np.ndarray:
    """Turntable rumble: noise below ``cutoff_hz`` (< 30 Hz), shape (2, frames), RMS 1."""
    sos = signal.butter(4, [4.0, cutoff_hz], btype="bandpass", fs=sample_rate, output="sos")
    common = rng.standard_normal(frames)
    x = signal.sosfilt(sos, np.stack([common + 0.3 * rng.standard_normal(frames)
                                      for _ in range(2)]), axis=1)
    return set_rms(x, 0.0)


def hum(rng: np.random.Generator, frames: int, *, sample_rate: int,
        mains_hz: float = 50.0) -> np.ndarray:
    """Mains hum: the fundamental and harmonics up to 1 kHz, shape (2, frames), RMS 1."""
    t = np.arange(frames) / sample_rate
    x = np.zeros(frames)
    drift = 1 + rng.uniform(-0.002, 0.002)
    buzz = rng.random() < 0.4  # rectifier buzz: strong odd harmonics
    for k in range(1, int(1000 // mains_hz) + 1):
        amp = (1.0 / k ** rng.uniform(0.5, 1.5)) * (1.5 if (buzz and k % 2) else 1.0)
        if k > 1 and rng.random() < 0.3:
            continue
        x += amp * np.sin(2 * np.pi * mains_hz * drift * k * t + rng.uniform(0, 2 * np.pi))
    pair = np.stack([x, x * 10 ** (-rng.uniform(0, 6) / 20)])
    return set_rms(pair, 0.0)


# ---------------------------------------------------------------- real recordings
@dataclass(frozen=True, slots=True)
class BedImpulse:
    """An impulse found in a real bed: span [start, end) in samples, peak |x|."""

    start: int
    end: int
    channel: int | None
    peak: float


def find_impulses(x: np.ndarray, sample_rate: int, *, threshold: float = 7.0,
                  hp_hz: float = 2000.0) -> list[BedImpulse]:
    """Locate impulses in a noise-only recording (no music), shape (channels, frames).

    High-pass, robust noise estimate (MAD), samples above ``threshold`` sigma are
    grouped into events (gaps < 0.3 ms), each grown to where the envelope falls
    back under 2 sigma, plus 0.1 ms. Used on real turntable beds so their crackle
    gets truth like synthetic crackle.
    """
    sos = signal.butter(4, hp_hz, btype="highpass", fs=sample_rate, output="sos")
    hp = signal.sosfiltfilt(sos, x, axis=1)
    sigma = 1.4826 * np.median(np.abs(hp), axis=1, keepdims=True) + 1e-12
    z = np.abs(hp) / sigma
    env = z.max(axis=0)
    hot = np.flatnonzero(env > threshold)
    if hot.size == 0:
        return []
    gap = max(1, int(0.3e-3 * sample_rate))
    pad = max(1, int(0.1e-3 * sample_rate))
    splits = np.flatnonzero(np.diff(hot) > gap) + 1
    events = []
    for grp in np.split(hot, splits):
        s, e = int(grp[0]), int(grp[-1]) + 1
        while s > 0 and env[s - 1] > 2.0:
            s -= 1
        while e < env.shape[0] and env[e] > 2.0:
            e += 1
        s, e = max(0, s - pad), min(env.shape[0], e + pad)
        if events and s <= events[-1][1]:
            events[-1] = (events[-1][0], max(e, events[-1][1]))
        else:
            events.append((s, e))
    out = []
    for s, e in events:
        seg = np.abs(x[:, s:e])
        per_ch = (z[:, s:e] ** 2).sum(axis=1)
        ch = None
        if x.shape[0] == 2 and per_ch.min() * 4 < per_ch.max():
            ch = int(np.argmax(per_ch))
        out.append(BedImpulse(s, e, ch, float(seg.max())))
    return out


def impulse_mask(impulses, frames: int) -> np.ndarray:
    """True where none of ``impulses`` (anything with start/end) is, shape (frames,)."""
    mask = np.ones(frames, dtype=bool)
    for imp in impulses:
        mask[imp.start:imp.end] = False
    return mask


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """A real noise recording at the analysis rate, shape (2, frames)."""

    name: str
    kind: str  # vinyl | hum | machine | static
    samples: np.ndarray
    impulses: tuple[BedImpulse, ...] = ()

    def mask(self) -> np.ndarray:
        """True where no impulse is (the non-impulsive bed), shape (frames,)."""
        return impulse_mask(self.impulses, self.samples.shape[1])


class NoiseBank:
    """The real noise recordings of ../shared/data/noise, loaded on first use.

    Parameters
    ----------
    root : path-like or None
        Folder with ``vinyl/``, ``hum/``, ``machine/``, ``static/``; default from
        ``$VINYLMON_NOISE_DIR`` or ``../shared/data/noise`` beside the repository.
    exclude : iterable of str, keyword-only
        Recording names (file stems, or their prefix before ``_``) to leave out,
        e.g. to hold some out for a test split.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, sample_rate: int = 44100,
                 exclude: tuple[str, ...] | list[str] | set[str] = ()):
        self.root = Path(root) if root is not None else default_noise_dir()
        self.sample_rate = sample_rate
        self.exclude = frozenset(exclude)
        self._cache: dict[str, list[Recording]] = {}
        self._hiss_shape: np.ndarray | None = None

    @property
    def available(self) -> bool:
        return (self.root / "vinyl").is_dir()

    def recordings(self, kind: str) -> list[Recording]:
        if kind not in self._cache:
            recs = []
            for path in sorted((self.root / kind).glob("*.flac")):
                if path.stem in self.exclude or path.stem.split("_")[0] in self.exclude:
                    continue
                x = load(path, sample_rate=self.sample_rate).samples
                x = to_stereo(x).astype(np.float64)
                imps = tuple(find_impulses(x, self.sample_rate)) if kind == "vinyl" else ()
                recs.append(Recording(path.stem, kind, x, imps))
            if not recs:
                raise FileNotFoundError(f"no {kind} recordings under {self.root}")
            self._cache[kind] = recs
        return self._cache[kind]

    def hiss_shape_db(self) -> np.ndarray:
        """Spectrum of the real beds' continuous floor (dB, 512 bands to Nyquist).

        Per frequency, the median over time of a short-time spectrum: crackle is
        sparse in time, so the median ignores it even below the impulse detector's
        threshold (a plain mean between detected ticks came out too bright above
        5 kHz). Averaged in dB over the beds, normalised to 0 dB mean power.
        """
        if self._hiss_shape is None:
            acc = np.zeros(512)
            recs = self.recordings("vinyl")
            for rec in recs:
                _, _, s = signal.spectrogram(rec.samples, fs=self.sample_rate, nperseg=1022,
                                             noverlap=511, axis=-1)
                floor = np.median(s, axis=-1).mean(axis=0)
                acc += 10 * np.log10(floor / floor.mean() + 1e-20)
            db = signal.savgol_filter(acc / len(recs), 15, 2)
            self._hiss_shape = db - 10 * np.log10(np.mean(10 ** (db / 10)))
        return self._hiss_shape


def tile(rng: np.random.Generator, recs: list[Recording], frames: int, *,
         min_s: float, max_s: float, sample_rate: int,
         fade_s: float = 0.005) -> tuple[np.ndarray, list[BedImpulse], np.ndarray]:
    """Cut random segments of real recordings and join them (crossfaded) to ``frames``.

    Segments are at most ``max_s`` long; with ``max_s`` under two revolutions a
    tick that repeats in the source recording cannot form a repeating scratch.

    Returns
    -------
    bed : np.ndarray, shape (2, frames)
    impulses : list of BedImpulse in output samples (those inside a crossfade dropped)
    mask : np.ndarray of bool, shape (frames,): True on the non-impulsive bed
    """
    out = np.zeros((2, frames))
    imps: list[BedImpulse] = []
    fade = max(1, int(fade_s * sample_rate))
    ramp = 0.5 * (1 - np.cos(np.linspace(0, np.pi, fade)))
    pos = 0
    while pos < frames:
        rec = recs[int(rng.integers(0, len(recs)))]
        n_rec = rec.samples.shape[1]
        seg = min(int(rng.uniform(min_s, max_s) * sample_rate), n_rec, frames - pos + fade)
        seg = max(seg, min(2 * fade + 1, n_rec))
        off = int(rng.integers(0, n_rec - seg + 1))
        piece = rec.samples[:, off:off + seg].copy()
        n = min(seg, frames - pos)
        piece = piece[:, :n]
        if n > 2 * fade:
            piece[:, :fade] *= ramp if pos > 0 else 1.0
            piece[:, -fade:] *= ramp[::-1] if pos + n < frames else 1.0
        out[:, pos:pos + n] += piece
        for imp in rec.impulses:
            s, e = imp.start - off, imp.end - off
            if s >= fade and e <= n - fade:
                imps.append(BedImpulse(pos + s, pos + e, imp.channel, imp.peak))
        pos += max(1, n - fade)
    return out, imps, impulse_mask(imps, frames)


def loop(rng: np.random.Generator, rec: Recording, frames: int) -> np.ndarray:
    """A recording repeated from a random offset to ``frames`` (for hum and rooms)."""
    x = rec.samples
    off = int(rng.integers(0, x.shape[1]))
    reps = int(np.ceil((frames + off) / x.shape[1]))
    return np.tile(x, (1, reps))[:, off:off + frames].copy()

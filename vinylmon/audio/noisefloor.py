"""What the surface noise under the music looks like: features for its estimate.

The groove's noise bed (hiss, rumble, hum, groove noise) is stationary and
partly different in the two channels; music comes and goes, and is mostly
centred. So the bed shows where the music is absent or weak: in the quiet
frames of each band (the low percentiles of its short-time power), in the bands
the music leaves empty, and in the side signal (L - R), where centred music
cancels. :func:`noise_features` measures exactly those, per 5-s window, in dB
re the window's level; a small learned regressor
(:mod:`vinylmon.models.noise`) turns them into n, correcting for the music
that still leaks in. :func:`window_features` adds the impulse features the
same regressor uses for the crackle density.

Where the music is absent (the lead-in and run-out grooves, the gaps between
tracks) the bed needs no model: :func:`steady_floor_dbfs` reads a window's
non-impulsive level directly, and says whether the window holds steady over its
length as the groove alone does (music comes and goes).

numpy and scipy only.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from vinylmon.audio.candidates import SCORE_BINS, impulse_features
from vinylmon.audio.types import to_stereo
from vinylmon.errors import AudioDataError

N_FFT = 2048
HOP = 1024
#: Band edges (Hz): below 25 Hz (subsonic rumble and warp, where music has nothing: some
#: real beds hold most of their power there), then 24 bands log-spaced from 25 Hz to 20 kHz.
EDGES_HZ = (1.0,) + tuple(float(f) for f in np.geomspace(25.0, 20000.0, 25))
#: Percentiles of each band's short-time power over the window.
PERCENTILES = (2.0, 10.0, 50.0)
#: The signals measured: mid (L + R) / 2 and side (L - R) / 2.
SIGNALS = ("mid", "side")
FLOOR_DB = -140.0


def _window(audio: np.ndarray, *, need: int, what: str) -> np.ndarray:
    """``audio`` as float32 ``(1 or 2, samples)`` of at least ``need`` finite samples,
    else an :class:`AudioDataError` saying what ``what`` needs."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise AudioDataError(f"expected (1 or 2, samples) audio, got shape {x.shape}")
    if x.shape[1] < need:
        raise AudioDataError(f"{what} needs >= {need} samples, got {x.shape[1]}")
    if not np.isfinite(x).all():
        raise AudioDataError("audio holds NaN or infinite samples")
    return x


def n_features() -> int:
    return len(SIGNALS) * (len(EDGES_HZ) - 1) * len(PERCENTILES) + 2


def _band_matrix(sample_rate: int) -> np.ndarray:
    f = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    m = np.stack([(f >= lo) & (f < hi) for lo, hi in zip(EDGES_HZ[:-1], EDGES_HZ[1:],
                                                            strict=True)], 1)
    return m.astype(np.float32)


_WINDOW = np.hanning(N_FFT).astype(np.float32)
_BANDS: dict[int, np.ndarray] = {}


def noise_features(audio: np.ndarray, *, sample_rate: int = 44100) -> np.ndarray:
    """Features of one window ``(1 or 2, samples)`` for the noise estimate, shape
    ``(n_features(),)``, float32: per signal (mid, side) and band, the
    :data:`PERCENTILES` of the band's short-time power in dB re the window's
    mean-square level / 20; then the share of the window's power in the side
    signal (dB / 20) and the window's crest (peak over RMS, dB / 20).
    """
    x = to_stereo(_window(audio, need=N_FFT, what="a noise estimate"))
    if sample_rate not in _BANDS:
        _BANDS[sample_rate] = _band_matrix(sample_rate)
    bands = _BANDS[sample_rate]
    power = float(np.mean(x.astype(np.float64) ** 2))
    ref = max(power, 1e-20)
    sig = np.stack([0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])])
    frames = sliding_window_view(sig, N_FFT, axis=-1)[:, ::HOP]
    # each frame's mean out first: a DC offset would leak into the subsonic band
    frames = (frames - frames.mean(axis=-1, keepdims=True)) * _WINDOW
    spec = scipy.fft.rfft(frames, axis=-1)  # float32 in, complex64 out: 5x numpy's
    pw = (spec.real ** 2 + spec.imag ** 2) * (2.0 / (_WINDOW ** 2).sum() / N_FFT)
    band = pw @ bands  # (2, frames, bands): mean-square power per band
    pct = np.percentile(band, PERCENTILES, axis=1)  # (pcts, 2, bands)
    db = 10 * np.log10(np.maximum(pct / ref, 10 ** (FLOOR_DB / 10)))
    side_share = 10 * np.log10(max(float(np.mean(sig[1].astype(np.float64) ** 2)), 1e-30) / ref)
    crest = 20 * np.log10(max(float(np.abs(x).max()), 1e-15) / np.sqrt(ref))
    feats = np.concatenate([db.transpose(1, 0, 2).ravel(),
                            [max(side_share, FLOOR_DB), crest]]) / 20.0
    return feats.astype(np.float32)


#: Samples per block of :func:`steady_floor_dbfs` (about 0.26 s at 44.1 kHz: crackle
#: ticks and clicks fill a small share of a block's samples).
BLOCK_SAMPLES = 11264
#: A window holds steady when the 10th-90th percentile spread of its blocks' levels is
#: at most this (dB). Measured on 5-s windows, six of each recording of
#: ../shared/data/noise: the five real turntable beds alone spread 1.3-5.5 dB, room and
#: hum recordings 0.3-3.0 dB, static 0.1-7.1 dB; a fade-out or music that stops and
#: starts spreads far more. Dense music can be as steady: the side
#: tells the groove from it by its level (:mod:`vinylmon.grading.measured`).
STEADY_SPREAD_DB = 6.5
#: A sample whose square exceeds this many times its block's median square is an
#: impulse's (4.7 sigma of a Gaussian bed, which loses 0.01 dB of power to it; a hum's
#: sine never gets there): it is left out of the block's power.
IMPULSE_OVER_MEDIAN = 49.0
#: The floor is read from every STRIDE-th sample.
STRIDE = 4


def steady_floor_dbfs(audio: np.ndarray, *, sample_rate: int = 44100) -> float:
    """A window's non-impulsive level (dBFS, over both channels) when it holds steady
    as the groove alone does, NaN when it varies as music does.

    The window (its DC offset out) is cut into blocks of :data:`BLOCK_SAMPLES`; a
    block's level is the mean square of its samples (both channels) less those over
    :data:`IMPULSE_OVER_MEDIAN` times its median square: crackle ticks and clicks left
    out. The five real beds of ../shared/data/noise/vinyl read within 1.4 dB of their
    RMS between impulses (the simulator's n; the densest crackle texture, vinyl3, 2.6
    dB under it), synthetic hiss and a hum's sine within 0.1 dB. The window holds
    steady when its blocks' levels spread by at most :data:`STEADY_SPREAD_DB` (10th-90th
    percentile), and then reads at their median. Whether it is the groove alone is for
    the side to say, from how far it lies under the music
    (:func:`vinylmon.grading.measured.groove_windows`).

    Parameters
    ----------
    audio : np.ndarray, shape (1 or 2, samples)
        At least :data:`BLOCK_SAMPLES` samples.
    sample_rate : int, keyword-only
        Kept for a uniform signature (the blocks are counted in samples).

    Returns
    -------
    float
        dBFS, or NaN when the window does not hold steady (-inf for digital silence).
    """
    x = _window(audio, need=BLOCK_SAMPLES, what="a steady floor")
    n = x.shape[1] // BLOCK_SAMPLES
    # every STRIDE-th sample: a steady bed's power is as well measured from a quarter of
    # its samples (a tick they skip is one the level leaves out anyway), at a quarter
    # of the cost
    y = x[:, :n * BLOCK_SAMPLES:STRIDE] - x.mean(axis=1, keepdims=True)
    sq = (y * y).reshape(x.shape[0], n, -1).transpose(1, 0, 2).reshape(n, -1)
    keep = sq <= IMPULSE_OVER_MEDIAN * np.median(sq, axis=1, keepdims=True)
    level = np.where(keep, sq, 0.0).sum(axis=1, dtype=np.float64) \
        / np.maximum(keep.sum(axis=1), 1)
    if not (level > 0).any():
        return float("-inf")
    db = 10 * np.log10(np.maximum(level, 1e-30))
    lo, hi = np.percentile(db, (10.0, 90.0))
    if hi - lo > STEADY_SPREAD_DB:
        return float("nan")
    return float(10 * np.log10(max(float(np.median(level)), 1e-30)))


#: A groove tick stands this far over the steady floor's RMS (dB): 6 sigma of a Gaussian
#: bed, which a 5-s window of it passes by chance about once in 1100 windows.
TICK_OVER_FLOOR_DB = 15.6
#: Samples over the tick level closer than this (s) are one tick.
TICK_GAP_S = 0.001


def groove_ticks_dbfs(audio: np.ndarray, floor_dbfs: float, *,
                      sample_rate: int = 44100) -> tuple[float, ...]:
    """The impulses that stand over a steady floor (:func:`steady_floor_dbfs`): each
    tick's peak (dBFS, the louder channel), in time order.

    Heard in the groove alone (no music masks them), crackle ticks are counted one by
    one: every run of samples more than :data:`TICK_OVER_FLOOR_DB` over ``floor_dbfs``
    (in either channel, runs closer than :data:`TICK_GAP_S` joined) is one tick. Ticks
    quieter than that sink in the bed: they are not heard, and not counted.

    Parameters
    ----------
    audio : np.ndarray, shape (1 or 2, samples)
    floor_dbfs : float
        The window's steady floor; none (NaN or -inf): no ticks.
    sample_rate : int, keyword-only
    """
    x = _window(audio, need=1, what="a tick count")
    if not np.isfinite(floor_dbfs):
        return ()
    peak = np.abs(x - x.mean(axis=1, keepdims=True)).max(axis=0)
    over = np.flatnonzero(peak > 10 ** ((floor_dbfs + TICK_OVER_FLOOR_DB) / 20))
    if not over.size:
        return ()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(over) > TICK_GAP_S * sample_rate) + 1])
    return tuple((20 * np.log10(np.maximum.reduceat(peak[over], starts))).tolist())


def n_inputs() -> int:
    """Length of :func:`window_features`."""
    return n_features() + 3 * (len(SCORE_BINS) - 1)


def window_features(audio: np.ndarray, *, sample_rate: int = 44100) -> np.ndarray:
    """The window-measures regressor's input (:mod:`vinylmon.models.measures`):
    :func:`noise_features`, then the impulse features of
    :func:`vinylmon.audio.candidates.impulse_features` (crackle density)."""
    return np.concatenate([noise_features(audio, sample_rate=sample_rate),
                           impulse_features(audio, sample_rate=sample_rate)])

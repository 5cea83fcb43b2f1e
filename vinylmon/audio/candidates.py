"""The candidate stage of click detection: where might an impulse be?

A click is a few samples where the groove wall jumps; music is mostly a
low-passed signal. The second difference of the samples makes the jump stand
out, and dividing it by a robust local scale (the running median, over ~50 ms,
of each 5.8-ms block's median magnitude of the second difference) makes the score independent of how
loud or how bright the music is there. The score is taken over the left,
right and side (L - R) signals: a click in one channel stands out in the side
signal even under loud centred music.

Every sample whose score passes ``threshold`` belongs to a cluster (samples
closer than ``merge`` to each other); each cluster's highest score is one
candidate. At the default threshold this keeps essentially every click that
stands above the music's own high-frequency content, at a few dozen
candidates per second of music; a learned verifier
(:mod:`vinylmon.models.verifier`) then rejects the music among them.

:func:`patches` cuts what the verifier sees around each candidate: a few ms of
raw samples and of the second difference of each signal, over the candidate's
local scale, and the music's texture (block energies and scales) over the
~100 ms around it.

numpy only; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft

from vinylmon.errors import AudioDataError

#: Samples per block of the local scale (5.8 ms at 44.1 kHz).
BLOCK = 256
#: Blocks in the running median of the block scales (~52 ms).
CONTEXT_BLOCKS = 9
#: Default candidate threshold: second difference over its local scale.
THRESHOLD = 6.0
#: Samples above threshold closer than this belong to one candidate (0.5 ms).
MERGE = 22
#: Patch: samples before and after the candidate's peak.
PRE, POST = 48, 80
#: Blocks of texture on each side of the candidate's block.
TEXTURE_BLOCKS = 8
#: Floor of the local scale, re the window's RMS (digital silence, mono side signal).
SCALE_FLOOR = 1e-4
NAMES = ("left", "right", "side")


@dataclass(frozen=True, slots=True)
class Candidates:
    """Impulse candidates in one stretch of audio.

    Attributes
    ----------
    index : np.ndarray of int64, shape (n,)
        Sample of each candidate's highest score.
    score : np.ndarray of float32, shape (n,)
        That score (second difference over local scale; max over signals).
    signal : np.ndarray of int8, shape (n,)
        Which signal scored highest (index into :data:`NAMES`).
    signals : np.ndarray of float32, shape (k, samples)
        Left, right and side (or the one mono channel), as scored.
    d2 : np.ndarray of float32, shape (k, samples)
        Their second differences.
    block_scale : np.ndarray of float32, shape (k, blocks)
        The robust local scale of ``d2`` per block of :data:`BLOCK` samples.
    block_rms : np.ndarray of float32, shape (k, blocks)
        Each block's RMS.
    level : float
        RMS of the audio (all channels), the reference of every level here.
    """

    index: np.ndarray
    score: np.ndarray
    signal: np.ndarray
    signals: np.ndarray
    d2: np.ndarray
    block_scale: np.ndarray
    block_rms: np.ndarray
    level: float

    def __len__(self) -> int:
        return int(self.index.size)

    def subset(self, which: np.ndarray) -> Candidates:
        """The candidates ``which`` (indices or a mask) of these, on the same audio."""
        return replace(self, index=self.index[which], score=self.score[which],
                       signal=self.signal[which])


def as_signals(audio: np.ndarray) -> np.ndarray:
    """``(channels, samples)`` to the signals scored: L, R, (L - R) / 2; or the mono one."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise AudioDataError(f"expected (1 or 2, samples) audio, got shape {x.shape}")
    if x.shape[0] == 1:
        return np.ascontiguousarray(x)
    return np.stack([x[0], x[1], 0.5 * (x[0] - x[1])])


def second_difference(sig: np.ndarray) -> np.ndarray:
    """``x[n+1] - 2 x[n] + x[n-1]``, same length (zero at both ends)."""
    d = np.zeros_like(sig)
    mid = d[..., 1:-1]  # in place, in the same order, so the same values, without temporaries
    np.multiply(sig[..., 1:-1], -2, out=mid)
    mid += sig[..., 2:]
    mid += sig[..., :-2]
    return d


def _running_median(v: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(v, ((0, 0), (half, half)), mode="edge")
    return _median_last(sliding_window_view(padded, width, axis=-1))


def _median_last(v: np.ndarray) -> np.ndarray:
    """``np.median(v, axis=-1)``, the same values: a sort of many short rows is
    several times quicker than numpy's partition-based median of each."""
    s = np.sort(v, axis=-1)
    h = s.shape[-1]
    if h % 2:
        return s[..., h // 2]
    return 0.5 * (s[..., h // 2 - 1] + s[..., h // 2])


#: The block medians look at every SUBSAMPLE-th sample (4x cheaper, as robust).
SUBSAMPLE = 4


def _block_stats(sig: np.ndarray, mag: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Median |second difference| and RMS of each block (the last one over its real samples)."""
    k, n = sig.shape
    full = n // block
    m = _median_last(mag[:, :full * block].reshape(k, full, block)[:, :, ::SUBSAMPLE])
    r = np.sqrt(np.square(sig[:, :full * block]).reshape(k, full, block).mean(-1))
    if full * block < n or full == 0:
        tail_m = np.median(mag[:, full * block:], axis=-1, keepdims=True) if n > full * block else \
            np.zeros((k, 1), np.float32)
        tail_r = np.sqrt(np.square(sig[:, full * block:]).mean(-1, keepdims=True)) \
            if n > full * block else np.zeros((k, 1), np.float32)
        m = np.concatenate([m, tail_m], 1)
        r = np.concatenate([r, tail_r], 1)
    return m.astype(np.float32), r.astype(np.float32)


def find_candidates(audio: np.ndarray, *, threshold: float = THRESHOLD,
                    merge: int = MERGE, block: int = BLOCK,
                    context_blocks: int = CONTEXT_BLOCKS) -> Candidates:
    """Impulse candidates in ``audio`` (channels, samples); see the module docstring.

    Parameters
    ----------
    audio : np.ndarray, shape (1 or 2, samples) or (samples,)
    threshold : float, keyword-only
        Score a candidate's peak must exceed (> 0).
    merge : int, keyword-only
        Samples above threshold closer than this form one candidate (>= 1).
    block, context_blocks : int, keyword-only
        The local scale's block and running-median width (in blocks, odd).

    Returns
    -------
    Candidates
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if merge < 1 or block < 8 or context_blocks < 1 or context_blocks % 2 == 0:
        raise ValueError("merge must be >= 1, block >= 8 and context_blocks odd")
    sig = as_signals(audio)
    if not np.isfinite(sig).all():
        raise AudioDataError("audio holds NaN or infinite samples")
    k, n = sig.shape
    d2 = second_difference(sig)
    mag = np.abs(d2)
    block_mean, block_rms = _block_stats(sig, mag, block)
    level = float(np.sqrt(np.mean(sig[:2] ** 2))) if n else 0.0
    floor = max(level * SCALE_FLOOR, 1e-9)
    scale = np.maximum(_running_median(block_mean, context_blocks), floor).astype(np.float32)
    inv = np.repeat((1.0 / scale).astype(np.float32), block, axis=1)[:, :n]
    score = mag * inv
    comb = np.maximum.reduce(score, axis=0) if k > 1 else score[0]
    above = np.flatnonzero(comb > threshold)
    if above.size == 0:
        empty = np.zeros(0, np.int64)
        return Candidates(empty, np.zeros(0, np.float32), np.zeros(0, np.int8), sig, d2,
                          scale, block_rms, level)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(above) >= merge) + 1])
    vals = comb[above]
    peak = np.maximum.reduceat(vals, starts)
    owner = np.repeat(np.arange(starts.size), np.diff(np.concatenate([starts, [above.size]])))
    is_peak = vals == peak[owner]
    # the first sample of each cluster that reaches its peak
    hit = np.flatnonzero(is_peak)
    keep = np.concatenate([[True], owner[hit][1:] != owner[hit][:-1]])
    idx = above[hit[keep]]
    best = score[:, idx].argmax(axis=0)
    return Candidates(idx.astype(np.int64), comb[idx].astype(np.float32),
                      best.astype(np.int8), sig, d2, scale, block_rms, level)


def patches(c: Candidates, *, pre: int = PRE, post: int = POST,
            texture_blocks: int = TEXTURE_BLOCKS,
            whiten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What the verifier sees around each candidate.

    With ``whiten``, three more channels of ``wave`` (the music's prediction error,
    :func:`whitened`) and three more context values (its peak per signal) follow.

    Returns
    -------
    wave : np.ndarray of float32, shape (n, 2 * 3 (+ 3), pre + post)
        Raw samples, then second differences, of left, right and side, over the
        candidate's local scale (the largest of its signals' scales), asinh-compressed.
        A mono input repeats its one signal as left and right, with a zero side.
    context : np.ndarray of float32, shape (n, 3 * (2 * (2 * texture_blocks + 1)) + 5)
        Per signal, the block scales and block RMS over ``texture_blocks`` blocks on
        each side, in dB re the candidate's scale / 20; then the candidate's score
        per signal (dB / 20, three values), its scale re the audio's RMS (dB / 20),
        and its position in its block (0..1).
    """
    n_c = len(c)
    k, n = c.signals.shape
    width = pre + post
    sig, d2 = c.signals, c.d2
    scale, rms = c.block_scale, c.block_rms
    if k == 1:  # mono: the same signal left and right, nothing on the side
        sig = np.concatenate([sig, sig, np.zeros_like(sig)])
        d2 = np.concatenate([d2, d2, np.zeros_like(d2)])
        scale = np.concatenate([scale, scale, np.full_like(scale, scale.min())])
        rms = np.concatenate([rms, rms, np.zeros_like(rms)])
    tb = 2 * texture_blocks + 1
    n_ctx = 3 * 2 * tb + 5 + (3 if whiten else 0)
    if n_c == 0:
        return (np.zeros((0, 9 if whiten else 6, width), np.float32),
                np.zeros((0, n_ctx), np.float32))
    block = BLOCK
    blk = np.minimum(c.index // block, scale.shape[1] - 1)
    ref = scale[:2, blk].max(axis=0)  # (n_c,) the candidate's scale
    # each patch a slice of a strided view (a row copy), those that run off the ends
    # of the audio, with zeros there, one by one
    start = c.index - pre
    whole = (start >= 0) & (start + width <= n)
    at = np.clip(start, 0, max(n - width, 0))
    if n >= width:
        wave = np.concatenate([sliding_window_view(sig, width, axis=1)[:, at],
                               sliding_window_view(d2, width, axis=1)[:, at]])
    else:
        wave = np.zeros((2 * sig.shape[0], n_c, width), sig.dtype)
        whole[:] = False
    for j in np.flatnonzero(~whole):
        offs = start[j] + np.arange(width)
        ok = (offs >= 0) & (offs < n)
        wave[:, j] = 0.0
        wave[:3, j, ok] = sig[:, offs[ok]]
        wave[3:, j, ok] = d2[:, offs[ok]]
    wave = np.arcsinh(wave / ref[None, :, None]).transpose(1, 0, 2)
    pb = np.pad(np.stack([scale, rms]), ((0, 0), (0, 0), (texture_blocks, texture_blocks)),
                mode="edge")
    bo = blk[:, None] + np.arange(tb)[None]
    tex = pb[:, :, bo]  # (2, 3, n_c, tb)
    tex = 20 * np.log10(np.maximum(tex, 1e-12) / ref[None, None, :, None]) / 20.0
    tex = tex.transpose(2, 1, 0, 3).reshape(n_c, -1)
    own = np.abs(d2[:, c.index]) / np.maximum(scale[:, blk], 1e-12)  # (3, n_c)
    own_db = 20 * np.log10(np.maximum(own, 1e-3)).T / 20.0
    lvl = 20 * np.log10(np.maximum(ref, 1e-12) / max(c.level, 1e-12)) / 20.0
    pos = (c.index % block) / block
    ctx = np.concatenate([tex, own_db, lvl[:, None], pos[:, None]], axis=1)
    if whiten:
        res, res_peak = whitened(c, pre=pre, post=post)
        wave = np.concatenate([wave, res], axis=1)
        ctx = np.concatenate([ctx, res_peak], axis=1)
    return wave.astype(np.float32), ctx.astype(np.float32)


#: Score bins (edges) of :func:`impulse_features`' histograms.
SCORE_BINS = (3.0, 4.5, 6.0, 9.0, 13.0, 20.0, 30.0, 50.0, 100.0, np.inf)


def impulse_features(audio: np.ndarray, *, sample_rate: int = 44100) -> np.ndarray:
    """How impulsive a window is, for density estimates (crackle per second).

    Candidates at a low threshold (3), counted per second in :data:`SCORE_BINS`
    of their score, separately by the signal that scored highest (left, right,
    side; a mono window fills left only), as ``log1p(count per second)``; shape
    ``(3 * (len(SCORE_BINS) - 1),)``, float32. Dense crackle under music is
    counted here in bulk, where it cannot be found one tick at a time.
    """
    c = find_candidates(audio, threshold=SCORE_BINS[0])
    seconds = max(c.signals.shape[1] / sample_rate, 1e-3)
    out = np.zeros((3, len(SCORE_BINS) - 1), np.float32)
    if len(c):
        b = np.clip(np.searchsorted(SCORE_BINS, c.score, side="right") - 1, 0,
                    len(SCORE_BINS) - 2)
        np.add.at(out, (c.signal.astype(np.int64), b), 1.0)
    return np.log1p(out / seconds).ravel()


#: Order of the linear predictor that whitens the music around a candidate.
LPC_ORDER = 16
#: Samples of music on each side of the patch the predictor is fitted on (8.7 ms).
LPC_SPAN = 384
#: FFT size of the predictor's autocorrelation (>= 2 * LPC_SPAN + PRE + POST + LPC_ORDER).
_LPC_FFT = 1024
#: Regularisation of the predictor: a white floor this far below the music's power
#: (caps the whitening gain at about 50 dB).
_LPC_FLOOR = 1e-5


def _levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Prediction-error filters ``(n, order + 1)`` (a[0] = 1) and error powers ``(n,)``
    from autocorrelations ``r`` ``(n, >= order + 1)``, all rows at once."""
    n = r.shape[0]
    a = np.zeros((n, order + 1), np.float64)
    a[:, 0] = 1.0
    err = r[:, 0].astype(np.float64).copy()
    for i in range(1, order + 1):
        acc = (a[:, :i] * r[:, i:0:-1]).sum(axis=1)
        k = -acc / np.maximum(err, 1e-30)
        a[:, 1:i + 1] = a[:, 1:i + 1] + k[:, None] * a[:, i - 1::-1][:, :i]
        err = err * (1.0 - k * k)
    return a, np.maximum(err, 1e-30)


def whitened(c: Candidates, *, pre: int = PRE, post: int = POST) -> tuple[np.ndarray, np.ndarray]:
    """The music around each candidate whitened: what a linear predictor fitted on the
    audio just before and after the patch cannot predict inside it.

    Music is predictable from its own recent past (its spectrum is far from flat);
    a click is not, whatever the music's brightness. The predictor (order
    :data:`LPC_ORDER`, autocorrelation method, tapered) is fitted per signal on
    :data:`LPC_SPAN` samples on each side of the patch, the patch itself left out,
    so the impulse does not shape its own predictor.

    Returns
    -------
    residual : np.ndarray of float32, shape (n, 3, pre + post)
        The prediction error of left, right and side over the patch, over the
        predictor's error scale, asinh-compressed (a mono input: its one signal as
        left and right, a zero side).
    peak : np.ndarray of float32, shape (n, 3)
        Per signal, the largest error within 0.2 ms of the candidate over that scale,
        in dB / 20.
    """
    n_c = len(c)
    k, n = c.signals.shape
    width = pre + post
    if n_c == 0:
        return np.zeros((0, 3, width), np.float32), np.zeros((0, 3), np.float32)
    p, span = LPC_ORDER, LPC_SPAN
    lead = span + pre + p
    padded = np.pad(c.signals, ((0, 0), (lead, span + post)))
    # fitting stretches: span before the patch, zeros over it, span after it
    base = c.index + (lead - span - pre)  # into padded: the first sample before the patch
    before = padded[:, base[:, None] + np.arange(span)[None]]  # (k, n_c, span)
    after = padded[:, base[:, None] + (span + width) + np.arange(span)[None]]
    taper = np.hanning(span + 2)[1:-1].astype(np.float32)
    seg = np.zeros((k, n_c, 2 * span + width), np.float32)
    seg[..., :span] = before * taper
    seg[..., span + width:] = after * taper
    spec = sp_fft.rfft(seg.reshape(k * n_c, -1), n=_LPC_FFT, axis=-1)
    r = sp_fft.irfft(spec.real ** 2 + spec.imag ** 2, n=_LPC_FFT, axis=-1)[:, :p + 1]
    r = r.astype(np.float64)
    r[:, 0] *= 1.0 + _LPC_FLOOR
    r[:, 0] += 1e-20
    a, err = _levinson(r, p)
    power = err / (2.0 * float(np.sum(taper.astype(np.float64) ** 2)))  # per sample
    scale = np.sqrt(power).astype(np.float32)
    # prediction error over the patch (p samples of history before it)
    x = padded[:, c.index[:, None] + np.arange(width + p)[None] + (lead - pre - p)]
    x = x.reshape(k * n_c, width + p)
    af = (a / scale[:, None]).astype(np.float32)
    e = x[:, p:] * af[:, :1]
    for j in range(1, p + 1):  # e[n] = sum_j a_j x[n - j]
        e += x[:, p - j:p - j + width] * af[:, j:j + 1]
    e = e.reshape(k, n_c, width).transpose(1, 0, 2)
    if k == 1:
        e = np.concatenate([e, e, np.zeros_like(e)], axis=1)
    centre = np.abs(e[:, :, pre - 9:pre + 10]).max(axis=2)
    peak = 20 * np.log10(np.maximum(centre, 1e-3)) / 20.0
    return np.arcsinh(e).astype(np.float32), peak.astype(np.float32)

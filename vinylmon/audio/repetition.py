"""Transients the music repeats: a drum sample that comes back, a click that does not.

Sequenced and sampled music plays the same drum hit again and again, sample for
sample, and some of those hits are as sharp as a click. A click lands on the music
once: where the music around it comes back elsewhere, the click does not come back
with it. :func:`repeated_in_music` compares each impulse with the other impulsive
places of the same stretch of audio (the candidate stage's, whose peak is within
:data:`PEAK_MATCH_DB` of the impulse's: a drum hit's repeats are as sharp as it is).
Where a place's neighbourhood (+-20 ms of the high-passed signal, both channels, the
impulse's own +-2 ms left out) matches the impulse's, and the impulse's own samples
are matched there too (what is left after subtracting the scaled match is a small
part of them), the impulse is the music's.

Pure numpy; no search over every offset, only over the places given, and sample by
sample (every alignment within 0.5 ms, by FFT) only at the few places whose
neighbourhood's block energies agree best.
"""

from __future__ import annotations

import numpy as np

from vinylmon.audio.candidates import second_difference

#: Seconds on each side of an impulse whose music is compared.
CONTEXT_S = 0.02
#: Seconds on each side of the impulse's peak left out of the comparison (the impulse
#: itself: clicks last well under 1 ms, pops a few).
CENTRE_S = 0.002
#: Places nearer than this to the impulse itself are not looked at.
EXCLUDE_S = 0.05
#: The neighbourhoods' normalised correlation a match needs.
MIN_CONTEXT_CORRELATION = 0.7
#: What may be left of the impulse's own samples (energy share) after subtracting the
#: match, for the impulse to be the music's.
MAX_RESIDUAL = 0.2
#: Samples either side of each place tried for the alignment (0.5 ms: a repeat's
#: sharpest sample need not be the same sample of the hit as the impulse's).
MAX_LAG = 22
#: A place is compared only when its peak (the high-passed signal's largest magnitude
#: within MAX_LAG) is within this many dB of the impulse's.
PEAK_MATCH_DB = 6.0
#: The best-matching places whose own samples are tried (a repeat may carry a click).
MATCHES = 3
#: Blocks the neighbourhood is cut into for the quick look: a place is compared
#: sample by sample only when the energies of these blocks (both channels, the two
#: around the impulse left out) are within PROFILE_DB (RMS over blocks) of the
#: impulse's.
PROFILE_BLOCKS = 8
PROFILE_DB = 6.0
#: At most this many places, the nearest in the quick look, are compared sample by sample.
PROFILE_PLACES = 12


def repeated_in_music(audio: np.ndarray, spans: np.ndarray, *, places: np.ndarray,
                      sample_rate: int) -> np.ndarray:
    """Which impulses the music repeats at another of ``places``, exactly enough that
    they are part of it.

    Parameters
    ----------
    audio : np.ndarray, shape (channels, samples)
        One or two channels.
    spans : np.ndarray of int, shape (impulses, 2)
        Each impulse's ``[start, end)`` samples in ``audio``; it is compared around
        its peak there (the high-passed signal's largest magnitude).
    places : np.ndarray of int, keyword-only
        The impulsive places where a repeat may lie (e.g. the candidate stage's
        :attr:`~vinylmon.audio.candidates.Candidates.index`).
    sample_rate : int, keyword-only

    Returns
    -------
    np.ndarray of bool, one per impulse: True where a place has the same
    neighbourhood (correlation >= :data:`MIN_CONTEXT_CORRELATION`) and explains the
    impulse's own samples (at most :data:`MAX_RESIDUAL` of their energy left).
    Impulses too near the ends to have a neighbourhood are False.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise ValueError(f"audio must be (channels<=2, samples), got {x.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    out = np.zeros(len(sp), dtype=bool)
    w = int(round(CONTEXT_S * sample_rate))
    m = int(round(CENTRE_S * sample_rate))
    h = second_difference(x)  # curvature at each sample
    n = h.shape[1]
    mag = np.abs(h).max(0)
    at = np.array([a + int(np.argmax(mag[a:max(b, a + 1)])) if 0 <= a < n else a
                   for a, b in sp.tolist()], dtype=np.int64)
    reach = w + MAX_LAG
    pl = np.asarray(places, dtype=np.int64).reshape(-1)
    pl = pl[(pl >= reach) & (pl + reach <= n)]
    if not len(pl):
        return out
    near = np.arange(-MAX_LAG, MAX_LAG + 1)
    place_peak = mag[pl[:, None] + near].max(1)
    # the quick look: each place's block energies around it, in dB, from sums over a
    # grid of half-blocks (a place's blocks start on the grid sample nearest theirs)
    block = 2 * w // PROFILE_BLOCKS
    half = block // 2
    grid = (h[:, :n - n % half] ** 2).reshape(h.shape[0], -1, half).sum(2)
    grid = grid[:, :-1] + grid[:, 1:]  # a block from each half-block on
    keep = np.r_[0:PROFILE_BLOCKS // 2 - 1, PROFILE_BLOCKS // 2 + 1:PROFILE_BLOCKS]
    offsets = 2 * keep

    def profile(q: np.ndarray) -> np.ndarray:
        first = np.clip(np.round((q - w) / half).astype(np.int64), 0, None)
        cols = np.minimum(first[:, None] + offsets, grid.shape[1] - 1)
        e = grid[:, cols]  # (channels, places, blocks)
        return 10 * np.log10(np.maximum(e, 1e-20)).transpose(1, 0, 2).reshape(len(q), -1)

    place_profile = profile(pl)
    mask = np.ones(2 * w, np.float32)
    mask[w - m:w + m] = 0.0
    span = np.arange(-w, w)
    nfft = 1 << int(np.ceil(np.log2(2 * w + 2 * MAX_LAG)))
    mask_f = np.conj(np.fft.rfft(mask, nfft))
    exclude = int(round(EXCLUDE_S * sample_rate))
    for i in np.flatnonzero((at >= reach) & (at + reach <= n)):
        p = int(at[i])
        own_peak = float(mag[p])
        dist = np.sqrt(np.mean((place_profile - profile(np.array([p]))[0]) ** 2, 1))
        ok = np.flatnonzero((np.abs(pl - p) >= exclude) & (dist <= PROFILE_DB)
                            & (np.abs(20 * np.log10(np.maximum(place_peak, 1e-12)
                                                    / max(own_peak, 1e-12))) <= PEAK_MATCH_DB))
        cand = pl[ok[np.argsort(dist[ok], kind="stable")[:PROFILE_PLACES]]]
        if not len(cand):
            continue
        tpl = h[:, p + span] * mask
        e_tpl = float(np.sum(tpl * tpl))
        if e_tpl <= 0:
            continue
        # each place's stretch, every alignment within MAX_LAG at once (by FFT)
        seg = h[:, cand[:, None] + np.arange(-reach, reach)]  # (channels, places, 2 reach)
        seg_f = np.fft.rfft(seg, nfft, axis=2)
        dot = np.fft.irfft((seg_f * np.conj(np.fft.rfft(tpl, nfft, axis=1))[:, None]).sum(0),
                           nfft, axis=1)[:, :2 * MAX_LAG + 1]
        energy = np.fft.irfft(np.fft.rfft((seg * seg).sum(0), nfft, axis=1) * mask_f, nfft,
                              axis=1)[:, :2 * MAX_LAG + 1]
        dot, energy = dot.reshape(-1), energy.reshape(-1)
        starts = (cand[:, None] - MAX_LAG + np.arange(2 * MAX_LAG + 1)).reshape(-1)
        r = dot / np.sqrt(e_tpl * np.maximum(energy, 1e-30))
        own = h[:, p - m:p + m]
        e_own = float(np.sum(own * own))
        for t in np.argsort(r)[::-1][:MATCHES]:
            if r[t] < MIN_CONTEXT_CORRELATION or e_own <= 0:
                break
            q = int(starts[t])
            scale = dot[t] / max(float(energy[t]), 1e-30)
            left = float(np.sum((own - scale * h[:, q - m:q + m]) ** 2))
            if left <= MAX_RESIDUAL * e_own:
                out[i] = True
                break
    return out

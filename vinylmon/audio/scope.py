"""The live view of the input: spectrogram columns and levels, computed as audio arrives.

:class:`Scope` is fed every captured block (on the capture thread, right after
the callback's ring buffer: "compute on data arrival") and keeps what the
screen needs: log-frequency spectrogram columns every ``column_hop_s`` (about
86 per second), per-channel peak and RMS since the last look, and clip counts.
The GUI takes them with :meth:`Scope.take` from its paint timer ("draw on a
timer"): a short lock, no computation on the GUI thread.

Memory is bounded: at most ``max_columns`` untaken columns are kept (older
ones are dropped; a GUI that stopped looking does not grow the process).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from vinylmon.audio.types import AudioBlock

#: A sample at or above this magnitude counts as clipped (full scale is 1.0).
CLIP_LEVEL = 0.999
FLOOR_DB = -120.0


@dataclass(frozen=True, slots=True)
class ScopeFrame:
    """What arrived since the last :meth:`Scope.take`.

    Attributes
    ----------
    columns_db : np.ndarray, shape (n, bands), float32
        Spectrogram columns, dBFS (a full-scale sine reads about 0 dB), oldest first.
    end_s : float
        Stream time of the newest column's end (or of the newest sample).
    peak_dbfs, rms_dbfs : tuple of float
        Per channel, over the audio since the last take (-inf for none).
    clipped_samples : int
        Samples at full scale since the last take (all channels).
    total_clipped_samples : int
    """

    columns_db: np.ndarray
    end_s: float
    peak_dbfs: tuple[float, ...]
    rms_dbfs: tuple[float, ...]
    clipped_samples: int
    total_clipped_samples: int


def log_bands(sample_rate: int, n_fft: int, bands: int, *, f_min_hz: float = 30.0,
              f_max_hz: float = 20000.0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """A ``(bins, bands)`` averaging matrix over log-spaced bands, and the band centres (Hz).

    Bands narrower than one FFT bin take their nearest bin, so every band has data.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = np.geomspace(f_min_hz, min(f_max_hz, sample_rate / 2), bands + 1)
    centres = np.sqrt(edges[:-1] * edges[1:])
    m = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:],
                                                                 strict=True)], 1)
    for j in np.flatnonzero(m.sum(0) == 0):
        m[np.argmin(np.abs(freqs - centres[j])), j] = True
    return (m / m.sum(0)).astype(dtype), centres


class Scope:
    """Spectrogram columns and levels of a live stream.

    Parameters
    ----------
    sample_rate : int
    channels : int
    n_fft : int, keyword-only
        FFT length of a column (2048 at 44.1 kHz: 46 ms, 21.5 Hz bins).
    column_hop_s : float, keyword-only
        Time between columns (rounded to whole samples).
    bands : int, keyword-only
        Log-spaced bands from 30 Hz to 20 kHz.
    max_columns : int, keyword-only
        Untaken columns kept at most.
    """

    def __init__(self, sample_rate: int, channels: int, *, n_fft: int = 2048,
                 column_hop_s: float = 512 / 44100, bands: int = 160,
                 max_columns: int = 4096) -> None:
        if sample_rate <= 0 or channels < 1:
            raise ValueError(f"need a positive rate and >= 1 channel, got {sample_rate}, "
                             f"{channels}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.n_fft = int(n_fft)
        self.hop = max(1, int(round(column_hop_s * sample_rate)))
        self.column_hop_s = self.hop / self.sample_rate
        self._bands, self.freqs_hz = log_bands(self.sample_rate, self.n_fft, bands)
        self._win = np.hanning(self.n_fft).astype(np.float32)
        self._scale = np.float32(4.0 / float(self._win.sum()) ** 2)
        self._max = int(max_columns)
        self._lock = threading.Lock()
        self._tail = np.zeros(0, dtype=np.float32)  # mono samples not yet in a column
        self._tail_end_s = 0.0
        self._columns: list[np.ndarray] = []
        self._ncols = 0
        self._peak = np.zeros(self.channels)
        self._sumsq = np.zeros(self.channels)
        self._count = 0
        self._clipped = 0
        self.total_clipped = 0
        self._end_s = 0.0

    def push(self, block: AudioBlock) -> None:
        """Add a block (any thread; one producer). Cheap: one FFT per new column."""
        x = np.asarray(block.samples, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, frames) samples, got {x.shape}")
        if block.sample_rate != self.sample_rate:
            raise ValueError(f"block at {block.sample_rate} Hz; the scope runs at "
                             f"{self.sample_rate} Hz")
        if x.shape[1] == 0:
            return
        mag = np.abs(x)
        clipped = int(np.count_nonzero(mag >= CLIP_LEVEL))
        mono = np.concatenate([self._tail, x.mean(axis=0)])
        n_cols = max(0, (len(mono) - self.n_fft) // self.hop + 1)
        cols = None
        if n_cols:
            idx = np.arange(n_cols)[:, None] * self.hop + np.arange(self.n_fft)
            spec = np.fft.rfft(mono[idx] * self._win, axis=1)
            pw = (spec.real ** 2 + spec.imag ** 2) * self._scale
            cols = (10 * np.log10(pw @ self._bands + 1e-12)).astype(np.float32)
            mono = mono[n_cols * self.hop:]
        self._tail = mono
        with self._lock:
            self._peak = np.maximum(self._peak, mag.max(axis=1))
            self._sumsq += (x.astype(np.float64) ** 2).sum(axis=1)
            self._count += x.shape[1]
            self._clipped += clipped
            self.total_clipped += clipped
            self._end_s = block.end_s
            if cols is not None:
                self._columns.append(cols)
                self._ncols += len(cols)
                excess = self._ncols - self._max
                while excess > 0:
                    first = self._columns[0]
                    if len(first) <= excess:
                        self._columns.pop(0)
                        cut = len(first)
                    else:
                        self._columns[0] = first[excess:]
                        cut = excess
                    self._ncols -= cut
                    excess -= cut

    def take(self) -> ScopeFrame:
        """What arrived since the last call (GUI timer; a short lock, no computing)."""
        with self._lock:
            cols, self._columns, self._ncols = self._columns, [], 0
            peak, sumsq, count = self._peak, self._sumsq, self._count
            clipped, self._clipped = self._clipped, 0
            self._peak = np.zeros(self.channels)
            self._sumsq = np.zeros(self.channels)
            self._count = 0
            end_s = self._end_s
            total = self.total_clipped
        columns = np.concatenate(cols) if cols else np.zeros((0, len(self.freqs_hz)),
                                                             dtype=np.float32)
        with np.errstate(divide="ignore"):
            peak_db = tuple(float(v) for v in np.maximum(20 * np.log10(peak), FLOOR_DB)) \
                if count else (float("-inf"),) * self.channels
            rms_db = tuple(float(v) for v in np.maximum(10 * np.log10(sumsq / count), FLOOR_DB)) \
                if count else (float("-inf"),) * self.channels
        return ScopeFrame(columns, end_s, peak_db, rms_db, clipped, total)


#: A side's picture (the HTML report's spectrogram): columns every SPEC_HOP_S,
#: SPEC_BANDS log-spaced bands.
SPEC_HOP_S = 0.25
SPEC_BANDS = 64
SPEC_FFT = 2048


@dataclass(frozen=True)
class Spectrogram:
    """A coarse spectrogram of a side, for pictures: ``db`` is (bands, columns)."""

    db: np.ndarray
    freqs_hz: np.ndarray
    hop_s: float


class SideSpectrogram:
    """The picture of a whole side, built block by block (the mean of the channels)."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self._bands, self.freqs_hz = log_bands(sample_rate, SPEC_FFT, SPEC_BANDS,
                                               dtype=np.float64)
        self._win = np.hanning(SPEC_FFT).astype(np.float32)
        self.columns: list[np.ndarray] = []

    def push(self, samples: np.ndarray) -> None:
        mono = samples.mean(axis=0)
        hop = int(SPEC_HOP_S * self.sample_rate)
        starts = np.arange(0, max(1, len(mono) - SPEC_FFT + 1), hop)
        if len(mono) < SPEC_FFT:
            mono = np.pad(mono, (0, SPEC_FFT - len(mono)))
        frames = mono[starts[:, None] + np.arange(SPEC_FFT)] * self._win
        spec = np.fft.rfft(frames.astype(np.float32, copy=False), axis=1)
        pw = spec.real ** 2 + spec.imag ** 2
        pw *= np.float32(4 / self._win.sum() ** 2)
        self.columns.append((10 * np.log10(pw @ self._bands + 1e-12)).T.astype(np.float32))

    def result(self) -> Spectrogram:
        db = np.concatenate(self.columns, axis=1) if self.columns else np.zeros((SPEC_BANDS, 0))
        return Spectrogram(db, self.freqs_hz, SPEC_HOP_S)

"""Immutable data that flows from capture to analysis.

All times are in seconds from the start of the stream (a file's first sample,
or the first captured sample of a live session). Sample arrays are float32,
channels-first ``(channels, frames)`` and made read-only so that a block or a
window can be handed between threads without copies or surprises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The one analysis sample rate: every source is converted to it.
ANALYSIS_RATE = 44100

#: At most this many channels are analysed. A stereo record has two; files with
#: more channels keep their first two (front left and right in WAV/FLAC channel
#: order) and the rest are dropped, which :class:`AudioInfo` reports.
MAX_CHANNELS = 2


def frozen_samples(samples: np.ndarray) -> np.ndarray:
    """Return ``samples`` as a read-only, C-contiguous float32 array.

    Parameters
    ----------
    samples : np.ndarray, shape (channels, frames)

    Returns
    -------
    np.ndarray, shape (channels, frames), float32, not writeable
    """
    out = np.ascontiguousarray(samples, dtype=np.float32)
    if out is samples and samples.flags.writeable:
        out = out.copy()
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True, eq=False)
class AudioBlock:
    """A run of consecutive samples from a file or a live input.

    Attributes
    ----------
    samples : np.ndarray, shape (channels, frames), float32, read-only
    sample_rate : int
        Samples per second of ``samples``.
    start_s : float
        Time of the first sample, seconds from the start of the stream.
    stream_time_s : float or None
        For live input, the device clock (PortAudio ADC time) of the first
        sample; None for files.
    """

    samples: np.ndarray
    sample_rate: int
    start_s: float
    stream_time_s: float | None = None

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """An analysis window: ``window_s`` of audio (shorter only at the end of a file).

    Attributes
    ----------
    samples : np.ndarray, shape (channels, frames), float32, read-only
    sample_rate : int
    start_s : float
        Time of the first sample, seconds from the start of the stream.
    index : int
        0-based position in the stream of windows.
    level_db : float
        RMS level over all channels, dB re full scale (-inf for digital silence).
    silent : bool or None
        Set by the silence gate; None until a gate has looked at the window.
    stream_time_s : float or None
        Device clock of the first sample for live input; None for files.
    """

    samples: np.ndarray
    sample_rate: int
    start_s: float
    index: int
    level_db: float
    silent: bool | None = None
    stream_time_s: float | None = None

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def to_stereo(samples: np.ndarray) -> np.ndarray:
    """``(channels, frames)`` as the models take it, ``(2, frames)``: one channel is
    doubled (a new array); of more, the first two are kept (a view)."""
    return np.repeat(samples, 2, axis=0) if samples.shape[0] == 1 else samples[:2]


def rms_db(samples: np.ndarray) -> float:
    """RMS level of ``samples`` over all channels in dB re full scale.

    Parameters
    ----------
    samples : np.ndarray, shape (channels, frames) or (frames,)

    Returns
    -------
    float
        ``20 log10(rms)``; ``-inf`` for all-zero or empty input.
    """
    if samples.size == 0:
        return float("-inf")
    x = samples.astype(np.float64, copy=False)
    ms = float(np.mean(x * x))
    return float(10.0 * np.log10(ms)) if ms > 0.0 else float("-inf")

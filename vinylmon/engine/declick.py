"""Declicked listening: the live stream cleaned as it goes, a fraction of a second late.

:class:`StreamDeclicker` takes the blocks of a live input (or a file played at real
time) and gives back, in order and in step, three streams of the same audio:

- ``original``: the input as it was;
- ``cleaned``: the clicks the verifier accepts repaired
  (:func:`vinylmon.audio.repair.repair`: least-squares AR interpolation, the
  damaged samples only);
- ``removed``: original - cleaned, the clicks alone (how restorers check a declicker).

It works on chunks of :data:`CHUNK_S`, each seen with :data:`LOOKAHEAD_S` of the
audio after it (a click on the chunk's edge is judged whole) and
:data:`CONTEXT_S` before (the repair's model of the music), so every stream comes
out ``CHUNK_S + LOOKAHEAD_S`` late (:attr:`StreamDeclicker.delay_s`), whatever is
chosen: switching streams never jumps in time. The verifier on a 0.1-s stretch costs
a few milliseconds.

numpy, the click verifier and the repair; no Qt, no sound devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vinylmon.audio.repair import MAX_SPAN_S, repair
from vinylmon.grading.names import LISTEN_STREAMS

#: Seconds of audio cleaned at a time.
CHUNK_S = 0.05
#: Seconds after a chunk it waits for (a click on the edge is seen whole).
LOOKAHEAD_S = 0.03
#: Seconds before a chunk it keeps (the repair's AR model is fitted on it).
CONTEXT_S = 0.03
#: The three streams, in the order a listener switches them.
STREAMS = LISTEN_STREAMS


@dataclass(frozen=True, slots=True)
class CleanChunk:
    """One chunk of the streams: ``(channels, frames)`` float32, from ``start_s``."""

    start_s: float
    original: np.ndarray
    cleaned: np.ndarray
    clicks: int

    @property
    def removed(self) -> np.ndarray:
        return self.original - self.cleaned

    def stream(self, name: str) -> np.ndarray:
        """``original``, ``cleaned`` or ``removed``."""
        if name not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, got {name!r}")
        return self.original if name == "original" else self.cleaned if name == "cleaned" \
            else self.removed


class StreamDeclicker:
    """Clean a stream of blocks chunk by chunk (see the module docstring).

    Parameters
    ----------
    detector : vinylmon.models.inference.Detector
        Its click verifier finds the clicks (none: cleaned is the original).
    sample_rate : int, keyword-only
    channels : int, keyword-only
    chunk_s, lookahead_s, context_s : float, keyword-only
    max_span_s : float, keyword-only
        Longer spans are left as they are (as ``vinylmon clean`` does).
    """

    def __init__(self, detector, *, sample_rate: int = 44100, channels: int = 2,
                 chunk_s: float = CHUNK_S, lookahead_s: float = LOOKAHEAD_S,
                 context_s: float = CONTEXT_S, max_span_s: float = MAX_SPAN_S) -> None:
        if not (chunk_s > 0 and lookahead_s >= 0 and context_s >= 0):
            raise ValueError(f"bad chunking: chunk_s={chunk_s}, lookahead_s={lookahead_s}, "
                             f"context_s={context_s}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.detector = detector
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.chunk = max(1, int(round(chunk_s * sample_rate)))
        self.ahead = int(round(lookahead_s * sample_rate))
        self.context = int(round(context_s * sample_rate))
        self.max_span_s = float(max_span_s)
        self._orig = np.zeros((self.channels, 0), np.float32)  # from self._first
        self._clean = np.zeros((self.channels, 0), np.float32)  # cleaned so far, same frames
        self._first = 0  # stream frame of _orig[:, 0]
        self._next = 0  # stream frame of the next chunk to emit
        self._t0: float | None = None
        self.clicks = 0

    @property
    def available(self) -> bool:
        """Whether there is a verifier to find clicks with."""
        return getattr(self.detector, "verifier", None) is not None

    @property
    def delay_s(self) -> float:
        """How late every stream comes out (seconds of audio)."""
        return (self.chunk + self.ahead) / self.sample_rate

    def push(self, samples: np.ndarray, *, start_s: float = 0.0) -> list[CleanChunk]:
        """Add ``(channels, frames)`` samples (the stream's next ones); return the chunks
        now complete."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, frames) samples, got {x.shape}")
        if self._t0 is None:
            self._t0 = float(start_s)
        self._orig = np.concatenate([self._orig, x], axis=1)
        self._clean = np.concatenate([self._clean, x], axis=1)
        out = []
        while self._first + self._orig.shape[1] >= self._next + self.chunk + self.ahead:
            out.append(self._emit(self.chunk, last=False))
        return out

    def flush(self) -> list[CleanChunk]:
        """The rest, at the stream's end."""
        left = self._first + self._orig.shape[1] - self._next
        return [self._emit(left, last=True)] if left > 0 else []

    def _emit(self, n: int, *, last: bool) -> CleanChunk:
        a = self._next - self._first  # the chunk in the buffers
        lo = max(0, a - self.context)
        hi = min(self._orig.shape[1], a + n + (0 if last else self.ahead))
        seen = self._orig[:, lo:hi]
        clicks = 0
        if self.available and seen.shape[1] > 16:
            # this chunk's own events (one starting before it was the last chunk's)
            # (the stream's first CONTEXT_S has nothing before it to judge a step by:
            # music that starts abruptly is not a click)
            first = self.context if self._first == 0 and lo == 0 else 0
            events = [e for e in self.detector.verified(seen)
                      if max(a, first) <= lo + e.start < a + n]
            if events:
                # repair on the cleaned audio (what came before is already clean)
                region = self._clean[:, lo:hi]
                res = repair(region.T, [(e.start, e.end, e.channel) for e in events],
                             sample_rate=self.sample_rate, max_span_s=self.max_span_s,
                             event_channels=self.channels)
                self._clean[:, lo:hi] = res.samples.T
                clicks = len(res.repaired)
        self.clicks += clicks
        start_s = (self._t0 or 0.0) + self._next / self.sample_rate
        chunk = CleanChunk(start_s, self._orig[:, a:a + n].copy(), self._clean[:, a:a + n].copy(),
                           clicks)
        self._next += n
        keep = max(0, self._next - self._first - self.context)  # drop what no chunk needs
        if keep:
            self._orig = self._orig[:, keep:]
            self._clean = self._clean[:, keep:]
            self._first += keep
        return chunk


def clean_excerpt(detector, samples: np.ndarray, *, sample_rate: int = 44100,
                  max_span_s: float = MAX_SPAN_S) -> np.ndarray:
    """A short excerpt (an event's +-1 s) with its verified clicks repaired, whole."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0 or getattr(detector, "verifier", None) is None:
        return x.copy()
    events = detector.verified(x)
    if not events:
        return x.copy()
    res = repair(x.T, [(e.start, e.end, e.channel) for e in events], sample_rate=sample_rate,
                 max_span_s=max_span_s, event_channels=x.shape[0])
    return np.ascontiguousarray(res.samples.T)

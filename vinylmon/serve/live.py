"""``/live``: a browser's microphone, streamed over a WebSocket, heard as the monitor
hears live input.

The page (:mod:`vinylmon.serve.page`) sends one text message, ``{"sample_rate": R,
"channels": C}``, then binary messages of float32 samples, frames interleaved (what
its AudioWorklet taps). :class:`LiveStream` resamples them to the analysis rate, cuts
5-s windows and runs the same :class:`~vinylmon.engine.engine.LiveAnalyser` as the
desktop monitor; each analysed window goes back as one JSON message
(:func:`window_message`): its level, the window's likelihoods, its events (kind,
time, level, channel) and the side's grade so far with its probabilities and reason.
Bad input (a wrong hello, a broken frame, NaN samples) ends the stream with an
``{"type": "error", "message": ...}`` message, never a traceback.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from vinylmon.audio.io import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, BlockResampler, check_finite
from vinylmon.audio.types import AudioBlock
from vinylmon.audio.windowing import DEFAULT_WINDOW_S, Windower
from vinylmon.errors import AudioDataError, VinylmonError
from vinylmon.grading.events import WINDOW_CLASSES, AnalysedWindow
from vinylmon.grading.rubric import GRADES

#: Most seconds of audio one binary message may hold.
MAX_MESSAGE_S = 2.0


class LiveInputError(VinylmonError):
    """What the browser sent cannot be heard (the message says why)."""


def parse_hello(hello: object) -> tuple[int, int]:
    """The stream's ``(sample_rate, channels)`` from the page's first message.

    Raises
    ------
    LiveInputError
        Not an object with a whole sample rate in range and 1 or 2 channels.
    """
    if not isinstance(hello, dict):
        raise LiveInputError("the first message must be {\"sample_rate\": R, \"channels\": C}")
    rate, channels = hello.get("sample_rate"), hello.get("channels")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) \
            or rate != int(rate) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise LiveInputError(f"sample_rate must be a whole number of Hz in "
                             f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}, got {rate!r}")
    if channels not in (1, 2) or isinstance(channels, bool):
        raise LiveInputError(f"channels must be 1 or 2, got {channels!r}")
    return int(rate), int(channels)


def decode_frames(data: bytes, *, channels: int, sample_rate: int) -> np.ndarray:
    """One binary message as ``(frames, channels)`` float32.

    Raises
    ------
    LiveInputError
        A length that is not whole frames, more than :data:`MAX_MESSAGE_S`, or samples
        that are not finite or beyond +-1000.
    """
    width = 4 * channels
    if len(data) == 0 or len(data) % width:
        raise LiveInputError(f"a message of {len(data)} bytes is not whole frames of "
                             f"{channels} float32 samples")
    if len(data) // width > MAX_MESSAGE_S * sample_rate:
        raise LiveInputError(f"a message holds more than {MAX_MESSAGE_S:g} s of audio")
    x = np.frombuffer(data, dtype="<f4").reshape(-1, channels)
    try:
        check_finite(x, what="the browser's audio", frame_axis=0, max_abs=1000.0)
    except AudioDataError as exc:
        raise LiveInputError(str(exc)) from None
    return x


def window_message(a: AnalysedWindow, state) -> dict:
    """What the page draws for one analysed window (JSON-ready)."""
    events = [{"start_s": round(e.start_s, 4), "kind": e.kind, "peak_db": round(e.peak_db, 1),
               "channel": e.channel}
              for e in state.events if a.start_s <= e.start_s < a.end_s]
    msg = {"type": "window", "start_s": round(a.start_s, 3), "end_s": round(a.end_s, 3),
           "silent": a.silent, "level_db": round(a.level_db, 1) if math.isfinite(a.level_db)
           else None,
           "classes": None if a.defect_probs is None else
           {n: round(float(p), 4) for n, p in zip(WINDOW_CLASSES, a.defect_probs, strict=True)},
           "events": events, "heard_s": round(state.heard_s, 2), "grade": None}
    g = state.grade
    if g is not None:
        msg["grade"] = {"grade": g.grade, "confidence": round(g.confidence, 4),
                        "probs": {n: round(float(p), 4)
                                  for n, p in zip(GRADES, g.grade_probs, strict=True)},
                        "reason": g.reasons[0] if g.reasons else ""}
    return msg


class LiveStream:
    """One browser's stream: frames in (:meth:`push`), windows analysed on a worker thread,
    each reported by ``on_message`` (from that thread).

    Parameters
    ----------
    engine : vinylmon.engine.engine.Engine
    sample_rate, channels : int, keyword-only
    on_message : callable(dict), keyword-only
        Gets each window's :func:`window_message`, and ``{"type": "error", ...}`` or
        ``{"type": "end"}`` once.
    window_s : float, keyword-only
    """

    def __init__(self, engine, *, sample_rate: int, channels: int,
                 on_message: Callable[[dict], None], window_s: float = DEFAULT_WINDOW_S):
        from vinylmon.engine.engine import LiveAnalyser

        self.sample_rate, self.channels = sample_rate, channels
        self._on_message = on_message
        self._blocks: queue.Queue = queue.Queue(maxsize=64)
        self._frames = 0
        self._resampler = BlockResampler(sample_rate, channels)
        self.window_s = window_s
        self.dropped_blocks = 0
        self._closed = threading.Event()
        self.analyser = LiveAnalyser(
            engine, self._windows(), on_window=lambda a, s: on_message(window_message(a, s)),
            on_error=lambda exc: on_message({"type": "error", "message": str(exc)}),
            on_finished=lambda: on_message({"type": "end"}))
        self.analyser.start()

    def push(self, frames: np.ndarray) -> None:
        """The next ``(frames, channels)`` samples (never waits: when the analysis is
        far behind, the oldest audio waiting is dropped and counted)."""
        block = AudioBlock(np.ascontiguousarray(frames.T), self.sample_rate,
                           self._frames / self.sample_rate)
        self._frames += frames.shape[0]
        try:
            self._blocks.put_nowait(block)
        except queue.Full:
            self.dropped_blocks += 1

    def close(self) -> None:
        """The browser stopped: what was sent is still analysed, then the stream ends."""
        self._closed.set()

    def _windows(self) -> Iterator:
        windower = Windower(44100, self.channels, window_s=self.window_s)
        while True:
            try:
                block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                if self._closed.is_set():
                    break
                continue
            out = self._resampler.push(block)
            if out is not None:
                yield from windower.push(out)
        tail = self._resampler.flush()
        if tail is not None:
            yield from windower.push(tail)
        yield from windower.flush()

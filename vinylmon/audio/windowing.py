"""Cutting a stream of blocks into analysis windows.

The same :class:`Windower` serves files and live capture: push blocks as they
come, take the windows that are complete. Each window carries its start time in
seconds, counted in frames from the stream's first sample (no float drift).

Rules
-----
- Windows are ``window_s`` long and start every ``hop_s`` (overlap when
  ``hop_s < window_s``, gaps when larger).
- At the end of a file, :meth:`Windower.flush` emits one shorter window with the
  samples no full window has covered yet, so no audio goes unanalysed.
- Live input can lose samples (a dropped block). When a block does not start
  where the previous one ended, the partial window is discarded, counted in
  ``discontinuities``, and windowing restarts at the new block: a window is
  always contiguous audio.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from vinylmon.audio.io import check_block, read_blocks
from vinylmon.audio.types import (
    ANALYSIS_RATE,
    MAX_CHANNELS,
    AudioBlock,
    Window,
    rms_db,
)

DEFAULT_WINDOW_S = 5.0


class Windower:
    """Turn consecutive :class:`AudioBlock` objects into :class:`Window` objects.

    Parameters
    ----------
    sample_rate : int
    channels : int
    window_s : float, keyword-only
        Window length in seconds (default 5).
    hop_s : float or None, keyword-only
        Start-to-start distance in seconds; None means ``window_s`` (no overlap).

    Notes
    -----
    Memory is one preallocated ``(channels, 2 * window_frames)`` float32 buffer,
    whatever the block sizes.
    """

    def __init__(self, sample_rate: int, channels: int, *, window_s: float = DEFAULT_WINDOW_S,
                 hop_s: float | None = None) -> None:
        hop_s = window_s if hop_s is None else hop_s
        if not (window_s > 0 and hop_s > 0):
            raise ValueError(f"window_s and hop_s must be positive, got {window_s}, {hop_s}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.window_frames = max(1, int(round(window_s * sample_rate)))
        self.hop_frames = max(1, int(round(hop_s * sample_rate)))
        self._buf = np.zeros((channels, 2 * self.window_frames), dtype=np.float32)
        self.discontinuities = 0
        self._reset_at(None)
        self._index = 0

    def _reset_at(self, start_frame: int | None) -> None:
        self._fill = 0  # frames held in _buf
        self._skip = 0  # frames to drop before the next window starts (hop > window)
        self._buf_start = start_frame  # stream frame of _buf[:, 0] (or of the next frame in)
        self._next_in = start_frame  # stream frame the next block should start at
        self._covered = start_frame  # stream frame up to which windows have covered audio
        self._clock: tuple[int, float] | None = None  # (stream frame, device time) reference

    @property
    def windows_emitted(self) -> int:
        return self._index

    def push(self, block: AudioBlock) -> list[Window]:
        """Add a block; return the windows it completed (possibly none).

        Raises
        ------
        AudioDataError
            If the block's rate or channel count differs from the windower's.
        """
        check_block(block, sample_rate=self.sample_rate, channels=self.channels)
        start = int(round(block.start_s * self.sample_rate))
        if start != self._next_in:
            if self._next_in is not None:
                self.discontinuities += 1
            self._reset_at(start)
        self._next_in = start + block.frames
        if block.stream_time_s is not None:
            self._clock = (start, block.stream_time_s)
        out: list[Window] = []
        data = block.samples
        pos = 0
        while pos < data.shape[1]:
            if self._skip:
                drop = min(self._skip, data.shape[1] - pos)
                self._skip -= drop
                self._buf_start += drop
                pos += drop
                continue
            m = min(data.shape[1] - pos, self.window_frames)
            self._buf[:, self._fill:self._fill + m] = data[:, pos:pos + m]
            self._fill += m
            pos += m
            while self._fill >= self.window_frames:
                out.append(self._emit(self.window_frames))
                self._advance()
        return out

    def flush(self) -> list[Window]:
        """End of stream: emit the uncovered tail as one shorter window, if any."""
        out: list[Window] = []
        if self._fill and self._buf_start + self._fill > self._covered:
            out.append(self._emit(self._fill))
        self._reset_at(None)
        return out

    def _emit(self, frames: int) -> Window:
        samples = self._buf[:, :frames].copy()  # one copy, out of the reused buffer
        samples.flags.writeable = False
        stream_time = None
        if self._clock is not None:
            stream_time = self._clock[1] + (self._buf_start - self._clock[0]) / self.sample_rate
        w = Window(samples=samples, sample_rate=self.sample_rate,
                   start_s=self._buf_start / self.sample_rate, index=self._index,
                   level_db=rms_db(samples), stream_time_s=stream_time)
        self._index += 1
        self._covered = self._buf_start + frames
        return w

    def _advance(self) -> None:
        hop = self.hop_frames
        if hop < self._fill:
            keep = self._fill - hop
            self._buf[:, :keep] = self._buf[:, hop:self._fill]
            self._fill = keep
            self._buf_start += hop
        else:
            self._skip = hop - self._fill
            self._buf_start += self._fill
            self._fill = 0


def windows_from_blocks(blocks: Iterable[AudioBlock], *, window_s: float = DEFAULT_WINDOW_S,
                        hop_s: float | None = None) -> Iterator[Window]:
    """Window a finite stream of blocks, ending with the flushed tail.

    Yields
    ------
    Window
    """
    windower: Windower | None = None
    for block in blocks:
        if windower is None:
            windower = Windower(block.sample_rate, block.channels, window_s=window_s, hop_s=hop_s)
        yield from windower.push(block)
    if windower is not None:
        yield from windower.flush()


def file_windows(path: str | os.PathLike, *, window_s: float = DEFAULT_WINDOW_S,
                 hop_s: float | None = None, sample_rate: int = ANALYSIS_RATE,
                 max_channels: int = MAX_CHANNELS) -> Iterator[Window]:
    """Read a recording block by block and yield its analysis windows.

    Memory stays at a few blocks plus one window buffer whatever the file's
    length (see ``scripts/bench_window_memory.py``).

    Yields
    ------
    Window
        ``samples`` of shape (channels, frames) at ``sample_rate``.

    Raises
    ------
    AudioFileError, AudioDataError
        As :func:`vinylmon.audio.io.read_blocks`.
    """
    yield from windows_from_blocks(
        read_blocks(path, sample_rate=sample_rate, max_channels=max_channels),
        window_s=window_s, hop_s=hop_s)

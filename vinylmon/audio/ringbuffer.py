"""A preallocated, lock-free ring buffer of audio frames.

One producer (the PortAudio callback) writes, one consumer (a worker thread)
reads. Neither ever blocks or allocates a new buffer: the producer copies into a
preallocated array and then publishes the new write count; the consumer copies
out and then publishes the new read count. Each side only ever *writes* its own
counter, so no lock is needed (under CPython an ``int`` attribute assignment is
atomic and a thread sees another thread's stores in program order).

Overflow policy: **the oldest audio is kept, the newest is dropped.** When the
consumer falls so far behind that a write does not fit, the part that does not
fit is discarded and counted in :attr:`RingBuffer.dropped_frames`. The producer
never moves the read position, which is what keeps the buffer lock-free; the
consumer finds out about the gap from the counters (the capture layer records
the stream position of every chunk, so a gap shows up as a jump in ``start_s``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["RingBuffer"]


class RingBuffer:
    """Fixed-capacity single-producer/single-consumer ring of audio frames.

    Frames are stored frame-major, shape ``(capacity, channels)``, which is the
    layout PortAudio hands to a callback, so a write is one or two contiguous
    copies. Reads come out channels-first, ``(channels, frames)``, read-only.

    Parameters
    ----------
    capacity : int
        Number of frames the buffer holds (> 0).
    channels : int
        Samples per frame (> 0).
    dtype : numpy dtype, optional
        Sample type, float32 by default.

    Notes
    -----
    Exactly one thread may call :meth:`write` and exactly one (other) thread may
    call :meth:`read`; the counters may be read from anywhere.
    """

    __slots__ = ("_buf", "_capacity", "_channels", "_written", "_read", "_dropped")

    def __init__(self, capacity: int, channels: int, *, dtype: object = np.float32) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if isinstance(channels, bool) or not isinstance(channels, int | np.integer):
            raise TypeError(f"channels must be an int, not {type(channels).__name__}")
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0 frames, got {capacity}")
        if channels <= 0:
            raise ValueError(f"channels must be > 0, got {channels}")
        self._capacity = int(capacity)
        self._channels = int(channels)
        self._buf = np.zeros((self._capacity, self._channels), dtype=dtype)
        self._written = 0  # total frames ever stored (producer-owned)
        self._read = 0  # total frames ever consumed (consumer-owned)
        self._dropped = 0  # total frames discarded because the buffer was full (producer-owned)

    # ------------------------------------------------------------------ counters
    @property
    def capacity(self) -> int:
        """Frames the buffer can hold."""
        return self._capacity

    @property
    def channels(self) -> int:
        """Samples per frame."""
        return self._channels

    @property
    def dtype(self) -> np.dtype:
        """Sample type of the stored data."""
        return self._buf.dtype

    @property
    def frames_written(self) -> int:
        """Total frames stored since creation (dropped frames not included)."""
        return self._written

    @property
    def frames_read(self) -> int:
        """Total frames consumed since creation."""
        return self._read

    @property
    def dropped_frames(self) -> int:
        """Total frames discarded by :meth:`write` because the buffer was full."""
        return self._dropped

    @property
    def available(self) -> int:
        """Frames that can be read now."""
        return self._written - self._read

    @property
    def free(self) -> int:
        """Frames that can be written now without dropping."""
        return self._capacity - (self._written - self._read)

    # ------------------------------------------------------------------ producer
    def write(self, frames: np.ndarray) -> int:
        """Copy ``frames`` into the buffer (producer side, real-time safe).

        Parameters
        ----------
        frames : np.ndarray, shape (n, channels)
            Frame-major samples; cast to the buffer dtype on copy.

        Returns
        -------
        int
            Frames stored. Fewer than ``n`` when the buffer is full: the newest
            ``n - stored`` frames are dropped and added to :attr:`dropped_frames`.

        Raises
        ------
        ValueError
            If ``frames`` is not 2-D with ``channels`` columns.
        """
        if frames.ndim != 2 or frames.shape[1] != self._channels:
            raise ValueError(f"expected frames of shape (n, {self._channels}), got {frames.shape}")
        n = frames.shape[0]
        w = self._written
        free = self._capacity - (w - self._read)
        if n > free:
            self._dropped += n - free
            n = free
        if n <= 0:
            return 0
        start = w % self._capacity
        first = min(n, self._capacity - start)
        self._buf[start : start + first] = frames[:first]
        if first < n:
            self._buf[: n - first] = frames[first:n]
        self._written = w + n  # publish only after the copy is complete
        return n

    # ------------------------------------------------------------------ consumer
    def read(self, max_frames: int | None = None) -> np.ndarray:
        """Take up to ``max_frames`` of the oldest unread frames (consumer side).

        Parameters
        ----------
        max_frames : int or None
            Upper bound on the frames returned (>= 0); None takes all available.

        Returns
        -------
        np.ndarray, shape (channels, frames), read-only
            A new array (a copy; the ring slot is free for reuse as soon as this
            returns). ``frames`` may be 0.
        """
        if max_frames is not None and max_frames < 0:
            raise ValueError(f"max_frames must be >= 0, got {max_frames}")
        r = self._read
        n = self._written - r
        if max_frames is not None:
            n = min(n, int(max_frames))
        out = np.empty((self._channels, n), dtype=self._buf.dtype)
        if n:
            start = r % self._capacity
            first = min(n, self._capacity - start)
            out[:, :first] = self._buf[start : start + first].T
            if first < n:
                out[:, first:] = self._buf[: n - first].T
            self._read = r + n  # publish only after the copy is complete
        out.flags.writeable = False
        return out

    def __repr__(self) -> str:
        return (
            f"RingBuffer(capacity={self._capacity}, channels={self._channels}, "
            f"available={self.available}, dropped={self._dropped})"
        )

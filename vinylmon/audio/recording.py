"""The session's audio, kept on disk as it is captured.

A whole side at 44.1 kHz stereo is 10 MB a minute as 16-bit samples: too much to
hold in memory for an evening of monitoring. :class:`SessionRecording` appends
each block to a raw 16-bit file (the journal), reads any excerpt back (the GUI's
zoom on an event) and writes the whole of it to FLAC when the session is saved.
Memory stays flat however long the session runs. A journal left behind by a
process that was killed can be reopened with ``append=True`` (for excerpts, and
to go on recording after it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from vinylmon.audio.types import AudioBlock
from vinylmon.errors import AudioDataError, AudioFileError

_SCALE = 32767.0


class SessionRecording:
    """Append-only 16-bit recording of a stream, with random access to excerpts.

    Parameters
    ----------
    path : path-like
        The raw journal file (created or truncated; with ``append``, reopened).
    sample_rate : int
    channels : int
    append : bool, keyword-only
        Reopen an existing journal and go on after its end (a torn last frame,
        from a process killed mid-write, is cut off).

    Raises
    ------
    AudioFileError
        With ``append``: the file is missing or cannot be opened.

    Notes
    -----
    One thread appends (the capture thread); any thread may read excerpts.
    Blocks are stored back to back: a gap in the stream (lost samples) is
    filled with silence so stream time and file position stay the same.
    """

    def __init__(self, path: str | os.PathLike, *, sample_rate: int, channels: int,
                 append: bool = False) -> None:
        if sample_rate <= 0 or channels < 1:
            raise ValueError(f"need a positive rate and >= 1 channel, got {sample_rate}, "
                             f"{channels}")
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._lock = threading.Lock()
        if append:
            try:
                self._file = open(self.path, "r+b")  # closed in close()
                size = os.fstat(self._file.fileno()).st_size
                whole = size - size % (2 * self.channels)
                if whole != size:  # killed mid-write: the torn frame goes
                    self._file.truncate(whole)
                self._file.seek(whole)
            except OSError as exc:
                raise AudioFileError(self.path, f"cannot be reopened ({exc.strerror or exc})"
                                     ) from exc
            self._frames = whole // (2 * self.channels)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # closed in close()
            self._frames = 0

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def duration_s(self) -> float:
        return self._frames / self.sample_rate

    def append(self, block: AudioBlock) -> None:
        """Add a block at its ``start_s`` (silence fills a gap; an overlap is cut)."""
        if block.sample_rate != self.sample_rate or block.channels != self.channels:
            raise AudioDataError(f"block of {block.channels} channel(s) at {block.sample_rate} "
                                 f"Hz; the recording is {self.channels} at {self.sample_rate}")
        start = int(round(block.start_s * self.sample_rate))
        x = np.asarray(block.samples)
        if start < self._frames:
            x = x[:, self._frames - start:]
        pcm = np.clip(np.rint(np.nan_to_num(x) * _SCALE), -32768, 32767).astype("<i2").T
        with self._lock:
            gap = max(0, start - self._frames)
            if gap:
                self._file.write(bytes(gap * self.channels * 2))
            self._file.write(pcm.tobytes())
            self._file.flush()
            self._frames += gap + pcm.shape[0]

    def segment(self, start_s: float, end_s: float) -> np.ndarray:
        """Samples in ``[start_s, end_s)`` clipped to what was recorded.

        Returns
        -------
        np.ndarray, shape (channels, frames), float32
        """
        with self._lock:
            total = self._frames
        a = min(max(0, int(round(start_s * self.sample_rate))), total)
        b = min(max(a, int(round(end_s * self.sample_rate))), total)
        raw = np.fromfile(self.path, dtype="<i2", count=(b - a) * self.channels,
                          offset=a * self.channels * 2)
        return (raw.reshape(-1, self.channels).T / _SCALE).astype(np.float32)

    def blocks(self, *, block_s: float = 10.0):
        """Yield the recording as ``(channels, frames)`` float32 arrays, in order."""
        step = max(1, int(block_s * self.sample_rate))
        total = self._frames
        for a in range(0, total, step):
            yield self.segment(a / self.sample_rate, min(total, a + step) / self.sample_rate)

    def save_flac(self, path: str | os.PathLike) -> Path:
        """Write everything recorded so far to a 16-bit FLAC (atomically)."""
        out = Path(path)
        tmp = out.with_name(out.name + ".part")
        with sf.SoundFile(tmp, "w", samplerate=self.sample_rate, channels=self.channels,
                          format="FLAC", subtype="PCM_16") as f:
            for x in self.blocks():
                f.write(x.T)
        tmp.replace(out)
        return out

    def sync(self) -> None:
        """Make what was appended durable (fsync): it survives a power cut too."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

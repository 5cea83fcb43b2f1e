"""Reading recordings into the analysis format.

The analysis format is float32, channels-first ``(channels, frames)``, at
:data:`~vinylmon.audio.types.ANALYSIS_RATE`, with at most
:data:`~vinylmon.audio.types.MAX_CHANNELS` channels. Files are read in blocks
and resampled with a streaming resampler (soxr), so a 25-minute 96 kHz/24-bit
side never sits in memory whole, let alone as float64.

Channels: mono stays mono (one channel) and stereo stays stereo. A file with
more than two channels keeps its first two (front left and right in the WAV and
FLAC channel order) and the others are dropped; :class:`AudioInfo` says so.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from vinylmon.audio.types import ANALYSIS_RATE, MAX_CHANNELS, AudioBlock, frozen_samples
from vinylmon.errors import AudioDataError, AudioFileError

#: Sample rates outside this range are refused as absurd (Hz, inclusive).
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000

#: Samples of a file beyond this magnitude (+120 dBFS; full scale is 1) are damage,
#: not sound: no recording is that loud, and the analysis (float32) would overflow
#: on them (resampled to NaN, squared to infinity).
MAX_SAMPLE_ABS = 1e6

#: No format libsndfile reads packs more frames than this into one byte (a FLAC
#: frame holds at most 65535 samples in more than 8 bytes; a Vorbis or Opus packet at
#: most 8192 in at least one). A header that claims more lies (e.g. an MP3's Xing
#: frame count or a FLAC STREAMINFO total overwritten with 0xFFFFFFFF...).
MAX_FRAMES_PER_BYTE = 65536

_UNKNOWN_LENGTH = 2**63 - 1  # libsndfile's frame count when a header gives none (SF_COUNT_MAX)


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a recording holds, read from its header.

    Attributes
    ----------
    path : str
    format : str
        Container, e.g. ``"FLAC"``, ``"WAV"``, ``"OGG"``, ``"MP3"``.
    subtype : str
        Sample encoding, e.g. ``"PCM_24"``, ``"FLOAT"``, ``"VORBIS"``.
    sample_rate : int
        The file's own rate (Hz).
    channels : int
        Channels in the file.
    frames : int
        Frames per channel in the file.
    analysed_channels : int
        Channels kept for analysis (the first ``min(channels, MAX_CHANNELS)``).
    declared_frames : int or None
        Frames the header promises, where that differs from what the file holds
        (a WAV or AIFF cut short: libsndfile reads the frames that are there, so
        ``frames`` counts those); None when the header agrees or does not say.
    """

    path: str
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int
    analysed_channels: int
    declared_frames: int | None = None

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def declared_s(self) -> float:
        """The length the header claims (seconds): more than :attr:`duration_s` when
        the file is truncated."""
        return (self.frames if self.declared_frames is None
                else self.declared_frames) / self.sample_rate

    @property
    def dropped_channels(self) -> int:
        return self.channels - self.analysed_channels


def check_sample_rate(sample_rate: float, *, what: str = "audio") -> int:
    """Validate a sample rate and return it as an int.

    Raises
    ------
    AudioDataError
        If the rate is not a whole number of Hz within
        [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE].
    """
    if not np.isfinite(sample_rate) or int(sample_rate) != sample_rate:
        raise AudioDataError(f"{what}: sample rate {sample_rate!r} is not a whole number of Hz")
    rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioDataError(
            f"{what}: sample rate {rate} Hz is outside the supported "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    return rate


def check_finite(samples: np.ndarray, *, what: str = "audio", start_s: float = 0.0,
                 sample_rate: int | None = None, frame_axis: int = 1,
                 max_abs: float | None = None) -> None:
    """Raise :class:`AudioDataError` if ``samples`` holds NaN or infinity.

    Parameters
    ----------
    samples : np.ndarray, shape (channels, frames) or (frames, channels)
    what : str, keyword-only
        Names the source in the message (a file path, "live input").
    start_s, sample_rate : keyword-only
        Used to say at what time the first bad sample is.
    frame_axis : int, keyword-only
        1 for channels-first arrays (the analysis format), 0 for frames-first.
    max_abs : float or None, keyword-only
        Also refuse finite samples beyond ``±max_abs`` (see :data:`MAX_SAMPLE_ABS`).
    """
    finite = np.isfinite(samples)
    if finite.all():
        if max_abs is None:
            return
        bad = np.abs(samples) > max_abs
        if not bad.any():
            return
        problem = f"are beyond ±{max_abs:g}, far above full scale (1)"
    else:
        bad, problem = ~finite, "are NaN or infinite"
    where = ""
    if sample_rate:
        first = int(np.argmax(bad.any(axis=1 - frame_axis)))
        where = f" (first at {start_s + first / sample_rate:.3f} s)"
    count = int(np.count_nonzero(bad))
    raise AudioDataError(f"{what}: {count} samples {problem}{where}; the recording is damaged")


def _open(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioFileError(path, "no such file")
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not a recording")
    if not os.access(path, os.R_OK):
        raise AudioFileError(path, "cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "is empty (0 bytes)")
    try:
        # as bytes: soundfile cannot encode a name that is not valid UTF-8 itself
        return sf.SoundFile(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(path, f"not a readable recording or corrupt ({_detail(exc)})"
                             ) from exc


def _detail(exc: Exception) -> str:
    """libsndfile's own words for an error, without the path it repeats."""
    detail = (getattr(exc, "error_string", "") or str(exc).split(":")[-1]).strip()
    if "does not exist" in detail:
        # libsndfile's message when a decoder (mpg123) gives up on a file that is
        # there: the file exists (checked above), its contents are not audio
        detail = "format not recognised"
    elif "SF_INFO" in detail:  # libsndfile's words for a header it found incomplete
        detail = "the header's sample rate, channel count or length is invalid"
    return detail.rstrip(".") or type(exc).__name__


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read a recording's header and validate it.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioFileError
        Missing, unreadable, corrupt or empty file, or a header that claims more
        frames than the file's size can hold (see :data:`MAX_FRAMES_PER_BYTE`).
    AudioDataError
        Absurd sample rate.
    """
    p = Path(path)
    with _open(p) as f:
        return _info(p, f)


def _info(p: Path, f: sf.SoundFile) -> AudioInfo:
    check_sample_rate(f.samplerate, what=str(p))
    if f.channels < 1:
        raise AudioFileError(p, "has no channels")
    if f.frames <= 0:
        raise AudioFileError(p, "has no audio (0 frames)")
    if f.frames >= _UNKNOWN_LENGTH:  # e.g. a FLAC stream whose STREAMINFO says 0 frames
        raise AudioFileError(p, "header does not give the length of the audio; the file is "
                                "corrupt or a stream of unknown length, which cannot be read")
    size = p.stat().st_size
    if f.frames > MAX_FRAMES_PER_BYTE * size:
        raise AudioFileError(p, f"header claims {f.frames} frames "
                                f"({f.frames / f.samplerate:.0f} s), more than its {size} "
                                "bytes can hold; the file is corrupt")
    declared = _declared_frames(p, f)
    return AudioInfo(
        path=str(p), format=f.format, subtype=f.subtype, sample_rate=int(f.samplerate),
        channels=int(f.channels), frames=int(f.frames),
        analysed_channels=min(int(f.channels), MAX_CHANNELS),
        declared_frames=declared if declared is not None and declared > f.frames else None,
    )


#: Bytes per sample of the PCM encodings whose data chunk size gives a frame count.
_PCM_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
              "DOUBLE": 8, "ULAW": 1, "ALAW": 1}


def _declared_frames(p: Path, f: sf.SoundFile) -> int | None:
    """Frames a WAV's or AIFF's data chunk header promises (None: another format,
    a compressed encoding, or a size the header leaves open).

    libsndfile reads a WAV cut mid-audio without complaint and counts only the
    frames present, so a truncated recording would be graded on its first part
    without a word; the header's own size tells how much is missing.
    """
    width = _PCM_BYTES.get(f.subtype)
    if width is None or f.format not in ("WAV", "WAVEX", "AIFF"):
        return None
    try:
        with open(os.fsencode(p), "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        fmt, pos, tag = ("<I" if head[:4] == b"RIFF" else ">I"), 12, b"data"
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        fmt, pos, tag = ">I", 12, b"SSND"
    else:
        return None
    while pos + 8 <= len(head):
        cid = head[pos:pos + 4]
        (size,) = struct.unpack(fmt, head[pos + 4:pos + 8])
        if cid == tag:
            if size in (0, 0xFFFFFFFF):  # written while streaming: no length given
                return None
            if tag == b"SSND":
                size -= 8  # offset and block size precede the samples
            return max(0, size) // (width * f.channels)
        pos += 8 + size + (size & 1)
    return None


def read_blocks(path: str | os.PathLike, *, sample_rate: int = ANALYSIS_RATE,
                block_s: float = 1.0, max_channels: int = MAX_CHANNELS,
                start_s: float = 0.0, duration_s: float | None = None) -> Iterator[AudioBlock]:
    """Read a recording block by block in the analysis format.

    Parameters
    ----------
    path : str or path-like
    sample_rate : int, keyword-only
        Output rate; the file is resampled (soxr, high quality, streaming).
    block_s : float, keyword-only
        Seconds of the file read per step (memory is a few blocks, never the file).
    max_channels : int, keyword-only
        Channels kept (the first ones).
    start_s, duration_s : float, keyword-only
        Read only this part of the file (an excerpt); block times still count
        from the excerpt's start.

    Yields
    ------
    AudioBlock
        ``samples`` of shape (channels, frames), float32, consecutive in time
        (each block's ``start_s`` is the previous block's ``end_s``).

    Raises
    ------
    AudioFileError
        Missing, unreadable, corrupt or empty file (also if it breaks mid-way), or
        too short to give a single sample at ``sample_rate``.
    AudioDataError
        Absurd sample rate, NaN or infinite samples, or samples beyond
        :data:`MAX_SAMPLE_ABS`.
    """
    if block_s <= 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    if max_channels < 1:
        raise ValueError(f"max_channels must be >= 1, got {max_channels}")
    if start_s < 0 or (duration_s is not None and duration_s <= 0):
        raise ValueError(f"bad excerpt: start_s={start_s}, duration_s={duration_s}")
    out_rate = check_sample_rate(sample_rate, what="analysis")
    p = Path(path)
    with _open(p) as f:
        info = _info(p, f)
        channels = min(info.channels, max_channels)
        in_block = max(1, int(round(block_s * info.sample_rate)))
        resampler = BlockResampler(info.sample_rate, channels, out_rate=out_rate)
        first = int(round(start_s * info.sample_rate))
        if first >= info.frames:
            raise AudioFileError(p, f"excerpt starts at {start_s:.2f} s, after the end "
                                    f"({info.duration_s:.2f} s)")
        left = (info.frames - first if duration_s is None
                else int(round(duration_s * info.sample_rate)))
        if first:
            try:
                f.seek(first)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioFileError(p, f"cannot seek to {start_s:.2f} s; the file is corrupt "
                                        f"or truncated ({_detail(exc)})") from exc
        frames_in = 0
        emitted = False
        while True:
            want = min(in_block, left - frames_in)
            try:
                data = f.read(want, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioFileError(p, f"read failed at {frames_in / info.sample_rate:.2f} s; "
                                        f"the file is corrupt or truncated ({_detail(exc)})"
                                     ) from exc
            last = data.shape[0] < want or frames_in + data.shape[0] >= left
            if frames_in == 0 and data.shape[0] == 0:
                raise AudioFileError(p, "has no audio (no frames could be decoded)")
            if data.shape[1] > channels:
                data = data[:, :channels]
            check_finite(data, what=str(p), start_s=frames_in / info.sample_rate,
                         sample_rate=info.sample_rate, frame_axis=0, max_abs=MAX_SAMPLE_ABS)
            block = resampler.push_frames(data, start_s=frames_in / info.sample_rate)
            frames_in += data.shape[0]
            if block is not None:
                emitted = True
                yield block
            if last:
                tail = resampler.flush()
                if tail is not None:
                    emitted = True
                    yield tail
                break
        if not emitted:  # e.g. one frame at 192 kHz: less than one sample at 44.1 kHz
            raise AudioFileError(p, f"is too short to analyse ({frames_in} frames at "
                                    f"{info.sample_rate} Hz make no sample at {out_rate} Hz)")


def check_block(block: AudioBlock, *, sample_rate: int, channels: int) -> None:
    """Raise :class:`AudioDataError` unless ``block`` belongs to a stream of this
    rate and channel count."""
    if block.sample_rate != sample_rate or block.channels != channels:
        raise AudioDataError(
            f"block of {block.channels} ch at {block.sample_rate} Hz does not match the "
            f"stream ({channels} ch at {sample_rate} Hz)")


class BlockResampler:
    """Streaming conversion of consecutive blocks to the analysis rate (soxr, HQ).

    Serves files and live input alike. Output blocks are consecutive; each
    ``start_s`` is counted in output frames from the first input block's start,
    and ``stream_time_s`` (live input) follows the input's device clock. When an
    input block does not follow the previous one (live input lost samples), the
    resampler flushes nothing, starts afresh at the new block and counts it in
    ``discontinuities``.

    Parameters
    ----------
    in_rate : int
    channels : int
    out_rate : int, keyword-only
    """

    def __init__(self, in_rate: int, channels: int, *, out_rate: int = ANALYSIS_RATE) -> None:
        self.in_rate = check_sample_rate(in_rate, what="input")
        self.out_rate = check_sample_rate(out_rate, what="analysis")
        self.channels = int(channels)
        self.discontinuities = 0
        self._stream: soxr.ResampleStream | None = None
        self._origin_s: float | None = None  # start_s of the first input frame
        self._in_frames = 0  # input frames since the origin
        self._out_frames = 0  # output frames since the origin
        self._clock: tuple[float, float] | None = None  # (start_s, stream_time_s) reference

    def push(self, block: AudioBlock) -> AudioBlock | None:
        """Convert one block; None while the resampler is still filling up.

        Raises
        ------
        AudioDataError
            Wrong rate or channel count, NaN or infinite samples.
        """
        check_block(block, sample_rate=self.in_rate, channels=self.channels)
        check_finite(block.samples, what="live input", start_s=block.start_s,
                     sample_rate=block.sample_rate)
        if block.stream_time_s is not None:
            self._clock = (block.start_s, block.stream_time_s)
        return self.push_frames(block.samples.T, start_s=block.start_s)

    def push_frames(self, frames: np.ndarray, *, start_s: float) -> AudioBlock | None:
        """Convert ``frames`` of shape (frames, channels) starting at ``start_s``."""
        expected = (None if self._origin_s is None
                    else self._origin_s + self._in_frames / self.in_rate)
        if expected is None or abs(start_s - expected) > 0.5 / self.in_rate:
            if expected is not None:
                self.discontinuities += 1
            self._origin_s, self._in_frames, self._out_frames = start_s, 0, 0
            self._stream = (None if self.in_rate == self.out_rate else soxr.ResampleStream(
                self.in_rate, self.out_rate, self.channels, dtype="float32", quality="HQ"))
        self._in_frames += frames.shape[0]
        if self._stream is None:
            out = frames
        else:
            out = self._stream.resample_chunk(np.ascontiguousarray(frames, dtype=np.float32))
        return self._emit(out)

    def flush(self) -> AudioBlock | None:
        """End of stream: the samples the resampler still holds."""
        if self._stream is None:
            return None
        return self._emit(self._stream.resample_chunk(
            np.zeros((0, self.channels), dtype=np.float32), last=True))

    def _emit(self, out: np.ndarray) -> AudioBlock | None:
        if out.shape[0] == 0:
            return None
        start_s = self._origin_s + self._out_frames / self.out_rate
        self._out_frames += out.shape[0]
        stream_time = (None if self._clock is None
                       else self._clock[1] + (start_s - self._clock[0]))
        return AudioBlock(samples=frozen_samples(out.T), sample_rate=self.out_rate,
                          start_s=start_s, stream_time_s=stream_time)


def load(path: str | os.PathLike, *, sample_rate: int = ANALYSIS_RATE,
         max_channels: int = MAX_CHANNELS, start_s: float = 0.0,
         duration_s: float | None = None) -> AudioBlock:
    """Read a whole recording in the analysis format (for short files and tests).

    Long sides should go through :func:`read_blocks` or
    :func:`vinylmon.audio.windowing.file_windows` instead.

    ``start_s`` and ``duration_s`` read an excerpt (see :func:`read_blocks`).

    Returns
    -------
    AudioBlock
        ``samples`` of shape (channels, frames), float32; ``start_s`` is the
        excerpt's start in the file.

    Raises
    ------
    AudioFileError, AudioDataError
        As :func:`read_blocks`.
    """
    blocks = [b.samples for b in read_blocks(path, sample_rate=sample_rate,
                                             max_channels=max_channels, block_s=10.0,
                                             start_s=start_s, duration_s=duration_s)]
    return AudioBlock(samples=frozen_samples(np.concatenate(blocks, axis=1)),
                      sample_rate=sample_rate, start_s=float(start_s))


def resample(samples: np.ndarray, *, from_rate: int, to_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Resample channels-first audio (soxr, high quality).

    Parameters
    ----------
    samples : np.ndarray, shape (channels, frames)
    from_rate, to_rate : int, keyword-only

    Returns
    -------
    np.ndarray, shape (channels, round(frames * to_rate / from_rate)), float32
    """
    if samples.ndim != 2:
        raise AudioDataError(f"expected (channels, frames) audio, got shape {samples.shape}")
    check_sample_rate(from_rate)
    check_sample_rate(to_rate)
    x = np.ascontiguousarray(samples.T, dtype=np.float32)
    if from_rate == to_rate:
        return np.ascontiguousarray(x.T)
    return np.ascontiguousarray(soxr.resample(x, from_rate, to_rate, quality="HQ").T)

"""Live audio input and output: the only module that talks to sound devices.

Everything that touches PortAudio (through :mod:`sounddevice`) lives here.
``sounddevice`` is imported lazily, so importing this module works on machines
without PortAudio; the first call that needs it raises :class:`DeviceError`
with an explanation instead.

Data flow
---------
The PortAudio callback runs on a real-time audio thread. It only copies the
incoming frames into a preallocated :class:`~vinylmon.audio.ringbuffer.RingBuffer`,
notes the chunk's ADC timestamp and stream position in a small preallocated
table, and bumps counters. A worker thread calls :meth:`LiveCapture.read` (or
iterates :meth:`LiveCapture.blocks`) and gets immutable
:class:`~vinylmon.audio.types.AudioBlock` objects.

Overflow policy
---------------
If the reader falls behind by more than ``buffer_s`` seconds, the **oldest
audio is kept and the newest is dropped** (counted in
:attr:`LiveCapture.dropped_frames`). Blocks never span such a gap: the block
after a gap starts at the true stream time of its first sample, so
``block.start_s`` jumps forward by the length of the lost audio.
:attr:`LiveCapture.overflow_count` counts the callbacks that lost audio, here
or upstream (PortAudio's input-overflow flag). ALSA's PulseAudio plugin does not
raise that flag (measured: callbacks held off for 1.5 s got their audio late, with
no flag; the server buffers for the client), so with PulseAudio the overflows
vinylmon sees are those of its own ring buffer.

Output
------
:class:`Playback` plays audio through an output device: its writer (the
monitor's reader thread) copies samples into a ring buffer and never waits; the
PortAudio callback plays what is there and counts an *underrun* each time the
ring runs dry while audio was flowing. A one-shot *cue* (an event's +-1 s, or the
session from a point on) plays over the stream, which is skipped meanwhile.

Device loss
-----------
A device that goes away (unplugged, sound server killed, stream stalled)
becomes a :class:`~vinylmon.errors.DeviceLostError`: :meth:`LiveCapture.read`
first returns the audio still buffered, then raises. :attr:`LiveCapture.fault`
reports the same error for polling.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType, TracebackType

import numpy as np

from vinylmon.audio.io import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, BlockResampler
from vinylmon.audio.ringbuffer import RingBuffer
from vinylmon.audio.types import AudioBlock
from vinylmon.errors import DeviceError, DeviceLostError

__all__ = [
    "InputDevice",
    "LiveCapture",
    "OutputDevice",
    "Playback",
    "find_input_device",
    "find_output_device",
    "list_input_devices",
    "list_output_devices",
    "rescan_devices",
]

log = logging.getLogger(__name__)

#: Seconds :meth:`LiveCapture.close` waits for PortAudio to stop a stream before
#: giving up on it (a stream whose server died can block inside the host API).
_CLOSE_TIMEOUT_S = 3.0


# --------------------------------------------------------------------------- PortAudio
def _sd() -> ModuleType:
    """Import and return :mod:`sounddevice`, turning a missing PortAudio into DeviceError."""
    try:
        return importlib.import_module("sounddevice")
    except OSError as exc:  # sounddevice raises OSError when libportaudio is absent
        raise DeviceError(
            "PortAudio (libportaudio2) is not installed: live input needs it "
            f"(on Debian/Ubuntu: apt-get install libportaudio2) [{exc}]"
        ) from exc
    except ImportError as exc:
        raise DeviceError(
            f"the Python package 'sounddevice' is not installed: live input needs it [{exc}]"
        ) from exc


def rescan_devices() -> None:
    """Make PortAudio enumerate the devices again.

    PortAudio takes its device list once, when it is initialised (at
    ``import sounddevice``). Call this after a device or a sound server has
    appeared. Every :class:`LiveCapture` must be closed first: re-initialising
    PortAudio invalidates open streams.

    Raises
    ------
    DeviceError
        If PortAudio is missing or cannot be re-initialised.
    """
    sd = _sd()
    try:
        sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot re-initialise PortAudio: {exc}") from exc


# --------------------------------------------------------------------------- devices
@dataclass(frozen=True)
class InputDevice:
    """An audio input as PortAudio describes it.

    Attributes
    ----------
    index : int
        PortAudio device index (valid until the next :func:`rescan_devices`).
    name : str
        Device name, e.g. ``'pulse'`` or ``'USB Audio CODEC: - (hw:1,0)'``.
    channels : int
        Maximum number of input channels.
    default_sample_rate : float
        The device's default sample rate in Hz.
    host_api : str
        PortAudio host API, e.g. ``'ALSA'``.
    is_default : bool
        True for the system's default input.
    """

    index: int
    name: str
    channels: int
    default_sample_rate: float
    host_api: str
    is_default: bool

    def __str__(self) -> str:
        default = ", default" if self.is_default else ""
        return (
            f"[{self.index}] '{self.name}' ({self.host_api}, {self.channels} in, "
            f"{self.default_sample_rate:g} Hz{default})"
        )


@dataclass(frozen=True)
class OutputDevice(InputDevice):
    """An audio output as PortAudio describes it (``channels``: output channels)."""

    def __str__(self) -> str:
        default = ", default" if self.is_default else ""
        return (
            f"[{self.index}] '{self.name}' ({self.host_api}, {self.channels} out, "
            f"{self.default_sample_rate:g} Hz{default})"
        )


def _default_index(sd: ModuleType, kind: str = "input") -> int:
    try:
        idx = sd.default.device[0 if kind == "input" else 1]
    except Exception:  # PortAudio not initialised etc.
        return -1
    if isinstance(idx, str):
        try:
            idx = sd.query_devices(idx, kind)["index"]
        except Exception:
            return -1
    return int(idx) if idx is not None else -1


def _all_devices(sd: ModuleType, kind: str = "input") -> list[InputDevice]:
    """Every device PortAudio knows, with its ``kind`` ("input" or "output") channels
    (0 for a device without any)."""
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from exc
    default = _default_index(sd, kind)
    cls = InputDevice if kind == "input" else OutputDevice
    out = []
    for i, d in enumerate(raw):
        try:
            api = str(apis[d["hostapi"]]["name"])
        except (IndexError, KeyError, TypeError):
            api = "?"
        out.append(
            cls(
                index=i,
                name=str(d["name"]),
                channels=int(d[f"max_{kind}_channels"]),
                default_sample_rate=float(d["default_samplerate"]),
                host_api=api,
                is_default=(i == default),
            )
        )
    return out


def list_input_devices() -> list[InputDevice]:
    """List the devices that can record.

    Returns
    -------
    list of InputDevice
        Devices with at least one input channel, in PortAudio index order.

    Raises
    ------
    DeviceError
        If PortAudio is missing or cannot list devices.
    """
    return [d for d in _all_devices(_sd()) if d.channels > 0]


def list_output_devices() -> list[OutputDevice]:
    """List the devices that can play (at least one output channel), in index order.

    Raises
    ------
    DeviceError
        If PortAudio is missing or cannot list devices.
    """
    return [d for d in _all_devices(_sd(), "output") if d.channels > 0]


def _describe(devices: list[InputDevice], kind: str = "input") -> str:
    if not devices:
        return f"no {kind} devices exist"
    return f"{kind} devices: " + "; ".join(str(d) for d in devices)


def find_input_device(device: int | str | None = None) -> InputDevice:
    """Resolve a user's device choice to an :class:`InputDevice`.

    Parameters
    ----------
    device : int, str or None
        None: the default input. int: a PortAudio device index. str: an exact
        device name, or else a case-insensitive substring that matches exactly
        one input device.

    Returns
    -------
    InputDevice

    Raises
    ------
    DeviceError
        If the device does not exist, has no input channels, the name is
        ambiguous, or there is no default input. The message lists the inputs
        that do exist.
    TypeError
        If ``device`` is not None, an int or a str.
    """
    return _find_device(device, "input")


def find_output_device(device: int | str | None = None) -> OutputDevice:
    """Resolve a user's output choice (None: the system's default output; an index;
    an exact name or a substring matching one output) to an :class:`OutputDevice`.

    Raises
    ------
    DeviceError
        No such output, no output channels, an ambiguous name, or no default
        output; the message lists the outputs that exist.
    TypeError
        If ``device`` is not None, an int or a str.
    """
    return _find_device(device, "output")  # type: ignore[return-value]


def _find_device(device: int | str | None, kind: str) -> InputDevice:
    """:func:`find_input_device` for ``kind`` "input" or "output"."""
    if device is not None and (isinstance(device, bool) or not isinstance(device, int | str)):
        raise TypeError(f"device must be None, an int or a str, not {type(device).__name__}")
    sd = _sd()
    everything = _all_devices(sd, kind)
    usable = [d for d in everything if d.channels > 0]

    if device is None:
        defaults = [d for d in everything if d.is_default]
        if not defaults:
            raise DeviceError(f"there is no default {kind} device; {_describe(usable, kind)}")
        chosen = defaults[0]
        if chosen.channels <= 0:
            raise DeviceError(f"the default device '{chosen.name}' has no {kind} channels; "
                              f"{_describe(usable, kind)}")
        return chosen

    if isinstance(device, int):
        if not 0 <= device < len(everything):
            raise DeviceError(
                f"there is no audio device with index {device} "
                f"(valid: 0..{len(everything) - 1}); {_describe(usable, kind)}"
            )
        chosen = everything[device]
        if chosen.channels <= 0:
            raise DeviceError(f"device {device} '{chosen.name}' has no {kind} channels; "
                              f"{_describe(usable, kind)}")
        return chosen

    name = device.strip()
    if not name:
        raise DeviceError(f"empty {kind} device name; {_describe(usable, kind)}")
    exact = [d for d in usable if d.name == name]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        if any(d.name == name for d in everything):
            raise DeviceError(f"device '{name}' has no {kind} channels; "
                              f"{_describe(usable, kind)}")
        exact = [d for d in usable if name.lower() in d.name.lower()]
        if len(exact) == 1:
            return exact[0]
        if not exact:
            raise DeviceError(f"no {kind} device matches '{name}'; {_describe(usable, kind)}")
    raise DeviceError(
        f"{kind} device name '{name}' is ambiguous, it matches "
        + "; ".join(str(d) for d in exact)
        + " (use the index or a longer name)"
    )


# --------------------------------------------------------------------------- capture
def _check_seconds(name: str, value: object) -> None:
    """A duration option: a finite number of seconds > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0 seconds, got {value}")


class LiveCapture:
    """Record from an input device into a ring buffer; read immutable blocks.

    Parameters
    ----------
    device : int, str or None
        Which input; see :func:`find_input_device`.
    sample_rate : int or None
        Hz; None uses the device's default rate.
    channels : int or None
        Channels to record; None records ``min(2, device maximum)``.
    buffer_s : float
        Seconds of audio the ring buffer holds before it starts dropping.
    blocksize : int
        Frames per PortAudio callback.
    stall_timeout_s : float
        A running stream that delivers no callback for this long is declared
        lost (:class:`DeviceLostError`).
    start_timeout_s : float
        The same for the first callback after :meth:`start`; some host APIs
        take well over a second to deliver it (ALSA's PulseAudio plugin: ~1.5 s).
    latency : float or {'low', 'high'}
        PortAudio input latency; 'high' trades delay for robustness.

    Raises
    ------
    DeviceError
        If the device cannot be found or cannot record at ``sample_rate`` with
        ``channels`` channels.
    ValueError, TypeError
        For option values that are never valid (negative, wrong type).

    Notes
    -----
    ``with LiveCapture(...) as cap:`` starts the stream on entry and closes it
    on exit. One thread reads (:meth:`read`, :meth:`blocks`); :meth:`start`,
    :meth:`stop` and the counters may be used from any thread. A capture
    cannot be restarted once stopped.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        buffer_s: float = 30.0,
        blocksize: int = 1024,
        stall_timeout_s: float = 2.0,
        start_timeout_s: float = 5.0,
        latency: float | str = "high",
    ) -> None:
        # ---- validate options first (programming errors, no device needed)
        if sample_rate is not None:
            if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | float):
                raise TypeError(f"sample_rate must be a number, not {type(sample_rate).__name__}")
            if not math.isfinite(sample_rate) or sample_rate <= 0:
                raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
            if sample_rate != int(sample_rate):
                raise ValueError(f"sample_rate must be a whole number of Hz, got {sample_rate}")
        if channels is not None:
            if isinstance(channels, bool) or not isinstance(channels, int):
                raise TypeError(f"channels must be an int, not {type(channels).__name__}")
            if channels < 1:
                raise ValueError(f"channels must be >= 1, got {channels}")
        _check_seconds("buffer_s", buffer_s)
        if isinstance(blocksize, bool) or not isinstance(blocksize, int):
            raise TypeError(f"blocksize must be an int, not {type(blocksize).__name__}")
        if not 16 <= blocksize <= 65536:
            raise ValueError(f"blocksize must be 16..65536 frames, got {blocksize}")
        _check_seconds("stall_timeout_s", stall_timeout_s)
        _check_seconds("start_timeout_s", start_timeout_s)
        if isinstance(latency, str):
            if latency not in ("low", "high"):
                raise ValueError(f"latency must be 'low', 'high' or seconds, got {latency!r}")
        elif isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise ValueError(f"latency must be 'low', 'high' or seconds >= 0, got {latency!r}")

        # ---- resolve the device and check the settings
        self._device = find_input_device(device)
        dev = self._device
        rate = sample_rate if sample_rate is not None else dev.default_sample_rate
        if not math.isfinite(rate) or rate <= 0:
            raise DeviceError(f"device '{dev.name}' reports no usable sample rate ({rate})")
        self._sample_rate = int(round(rate))
        if not MIN_SAMPLE_RATE <= self._sample_rate <= MAX_SAMPLE_RATE:
            raise DeviceError(
                f"device '{dev.name}' cannot record at {self._sample_rate} Hz: vinylmon "
                f"supports {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
            )
        self._channels = channels if channels is not None else min(2, dev.channels)
        if self._channels > dev.channels:
            raise DeviceError(
                f"device '{dev.name}' has {dev.channels} input channel(s), "
                f"cannot record {self._channels}"
            )
        sd = _sd()
        try:
            sd.check_input_settings(
                device=dev.index,
                channels=self._channels,
                dtype="float32",
                samplerate=self._sample_rate,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(
                f"device '{dev.name}' cannot record at {self._sample_rate} Hz "
                f"({self._channels} ch, float32): {exc}"
            ) from exc

        self._blocksize = blocksize
        self._stall_timeout_s = float(stall_timeout_s)
        self._start_timeout_s = float(start_timeout_s)
        self._latency = latency

        # ---- preallocated state shared with the callback
        capacity = max(int(math.ceil(buffer_s * self._sample_rate)), 2 * blocksize)
        self._ring = RingBuffer(capacity, self._channels, dtype=np.float32)
        # Chunk table: one row per callback whose frames reached the ring.
        # pos = ring frames_written before the chunk, frame = stream frame index of
        # its first sample (dropped frames included), adc = its ADC time.
        n_chunks = capacity // blocksize * 2 + 64
        self._chunk_pos = np.zeros(n_chunks, dtype=np.int64)
        self._chunk_frame = np.zeros(n_chunks, dtype=np.int64)
        self._chunk_adc = np.zeros(n_chunks, dtype=np.float64)
        self._n_chunks = n_chunks
        self._chunk_w = 0  # producer-owned: chunks published
        self._chunk_r = 0  # consumer-owned: first chunk still referenced by unread frames
        self._chunk_dropped = 0  # producer: frames lost because the chunk table was full

        self._frames_captured = 0  # producer: frames delivered by PortAudio
        self._overflows = 0  # producer: callbacks that lost audio (flagged or ring full)
        self._last_callback = 0.0  # producer: time.monotonic() of the last callback
        self._callback_error: BaseException | None = None
        self._finished = False  # set by finished_callback

        self._lock = threading.Lock()
        self._stream = None
        self._state = "new"  # new -> running -> stopped
        self._started_at = 0.0
        self._fault: DeviceError | None = None

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> InputDevice:
        """The input this capture records from."""
        return self._device

    @property
    def sample_rate(self) -> int:
        """Frames per second of the stream and of every block."""
        return self._sample_rate

    @property
    def channels(self) -> int:
        """Channels recorded (rows of ``block.samples``)."""
        return self._channels

    @property
    def blocksize(self) -> int:
        """Frames per PortAudio callback."""
        return self._blocksize

    @property
    def overflow_count(self) -> int:
        """Input overflows: callbacks that lost audio, because PortAudio reported an
        input overflow (lost upstream) or the ring buffer was full (the reader fell
        behind; the frames are in :attr:`dropped_frames`)."""
        return self._overflows

    @property
    def dropped_frames(self) -> int:
        """Frames discarded because the ring buffer was full (newest dropped)."""
        return self._ring.dropped_frames + self._chunk_dropped

    @property
    def frames_captured(self) -> int:
        """Frames delivered by the device since start, including dropped ones."""
        return self._frames_captured

    @property
    def frames_available(self) -> int:
        """Frames buffered and not yet read."""
        return self._ring.available

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while no fault has occurred."""
        return self._state == "running" and self._check_fault() is None

    @property
    def fault(self) -> DeviceError | None:
        """The error that ended the capture (device lost, stalled), or None."""
        return self._check_fault()

    # ------------------------------------------------------------------ callbacks
    def _callback(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        """PortAudio input callback: copy, timestamp, count. Nothing else."""
        if self._callback_error is not None:
            return
        try:
            now = self._last_callback = time.monotonic()
            first_frame = self._frames_captured
            self._frames_captured = first_frame + frames
            # One overflow per callback that lost audio, upstream (flagged) or here.
            flagged = bool(status and status.input_overflow)
            ring = self._ring
            if ring.free <= 0:
                ring.write(indata)  # stores nothing, counts the frames as dropped
                self._overflows += 1
                return
            cw = self._chunk_w
            if cw - self._chunk_r >= self._n_chunks:
                self._chunk_dropped += frames  # chunk table full (pathological)
                self._overflows += 1
                return
            # Publish the chunk row before the frames: a reader that sees a frame
            # is then sure to see the row that places it in the stream. At least
            # one frame will be stored (only the reader can make room).
            slot = cw % self._n_chunks
            self._chunk_pos[slot] = ring.frames_written
            self._chunk_frame[slot] = first_frame
            # Host APIs without timestamps report 0: fall back to a clock that runs.
            self._chunk_adc[slot] = time_info.inputBufferAdcTime or time_info.currentTime or now
            self._chunk_w = cw + 1
            dropped = ring.dropped_frames
            ring.write(indata)
            if flagged or ring.dropped_frames != dropped:
                self._overflows += 1
        except BaseException as exc:  # nothing may escape into PortAudio
            self._callback_error = exc

    def _finished_callback(self) -> None:
        self._finished = True

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LiveCapture:
        """Open and start the input stream (no-op if already running).

        Returns
        -------
        LiveCapture
            ``self``.

        Raises
        ------
        DeviceError
            If PortAudio cannot open or start the stream.
        RuntimeError
            If the capture was already stopped.
        """
        with self._lock:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError("a LiveCapture cannot be restarted; create a new one")
            sd = _sd()
            dev = self._device
            try:
                stream = sd.InputStream(
                    device=dev.index,
                    samplerate=self._sample_rate,
                    channels=self._channels,
                    dtype="float32",
                    blocksize=self._blocksize,
                    latency=self._latency,
                    callback=self._callback,
                    finished_callback=self._finished_callback,
                )
            except (sd.PortAudioError, ValueError) as exc:
                raise DeviceError(f"cannot open input device '{dev.name}': {exc}") from exc
            self._last_callback = self._started_at = time.monotonic()
            try:
                stream.start()
            except sd.PortAudioError as exc:
                _close_quietly(stream)
                raise DeviceError(f"cannot start input device '{dev.name}': {exc}") from exc
            self._stream = stream
            self._state = "running"
            log.debug(
                "capturing from %s at %d Hz, %d ch, latency %.3f s",
                dev,
                self._sample_rate,
                self._channels,
                stream.latency,
            )
            return self

    def stop(self) -> None:
        """Stop capturing and release the device.

        Audio already buffered stays readable through :meth:`read` and
        :meth:`blocks`. Safe to call more than once and after a fault. Never
        blocks for more than a few seconds, even if the host API hangs.
        """
        with self._lock:
            if self._state == "stopped":
                return
            self._check_fault()  # record a fault that happened before this stop
            self._state = "stopped"
            stream, self._stream = self._stream, None
        if stream is None:
            return
        _close_stream(stream, what="input", name=self._device.name,
                      abort=self._fault is not None, thread="vinylmon-capture-close")

    close = stop

    def __enter__(self) -> LiveCapture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            if self._state == "running":
                self.stop()
        except Exception:
            pass

    # ------------------------------------------------------------------ faults
    def _check_fault(self) -> DeviceError | None:
        """Detect a lost/stalled device; remember and return the error."""
        if self._fault is not None:
            return self._fault
        if self._state != "running":
            return None
        name = self._device.name
        err: DeviceError | None = None
        if self._callback_error is not None:
            err = DeviceLostError(
                f"input device '{name}': the capture callback failed "
                f"({type(self._callback_error).__name__}: {self._callback_error})"
            )
            err.__cause__ = self._callback_error
        elif self._finished:
            err = DeviceLostError(
                f"input device '{name}' stopped delivering audio: the stream ended "
                "unexpectedly (device unplugged or sound server gone?)"
            )
        else:
            stream = self._stream
            try:
                active = stream is not None and stream.active
            except Exception:  # PortAudio may fail on a dead stream
                active = False
            if not active:
                err = DeviceLostError(
                    f"input device '{name}' stopped delivering audio: the stream is no "
                    "longer active (device unplugged or sound server gone?)"
                )
            else:
                silent_for = time.monotonic() - self._last_callback
                if self._frames_captured:
                    limit, what = self._stall_timeout_s, "stalled: no audio"
                else:
                    limit, what = self._start_timeout_s, "did not start: no audio"
                if silent_for > limit:
                    err = DeviceLostError(
                        f"input device '{name}' {what} for {silent_for:.1f} s "
                        "(device unplugged, busy, or sound server gone?)"
                    )
        if err is not None:
            self._fault = err
            log.warning("%s", err)
        return err

    # ------------------------------------------------------------------ reading
    def _take(self, max_frames: int | None) -> AudioBlock | None:
        """Take the oldest contiguous run of buffered frames as a block (consumer)."""
        ring = self._ring
        r = ring.frames_read
        w = ring.frames_written
        if w == r:
            return None
        cw = self._chunk_w
        m = self._n_chunks
        k = self._chunk_r
        # The frame at r belongs to the last chunk whose pos <= r.
        idx = np.arange(k, cw) % m
        pos = self._chunk_pos[idx]
        if pos.size == 0 or pos[0] > r:  # cannot happen: rows are published first
            return None
        j = int(np.searchsorted(pos, r, side="right")) - 1
        k += j
        self._chunk_r = k
        pos = pos[j:]
        frame = self._chunk_frame[idx[j:]]
        # Everything written, cut at the first gap (rows past w are harmless).
        end = w
        if pos.size > 1:
            gaps = np.flatnonzero(np.diff(frame) != np.diff(pos))
            if gaps.size:
                end = min(end, int(pos[gaps[0] + 1]))
        n = end - r
        if max_frames is not None:
            n = min(n, max_frames)
        if n <= 0:
            return None
        offset = r - int(pos[0])
        first_frame = int(frame[0]) + offset
        adc = float(self._chunk_adc[k % m]) + offset / self._sample_rate
        samples = ring.read(n)
        return AudioBlock(
            samples=samples,
            sample_rate=self._sample_rate,
            start_s=first_frame / self._sample_rate,
            stream_time_s=adc,
        )

    def analysis_blocks(self, *, poll_s: float = 0.1) -> Iterator[AudioBlock | None]:
        """The audio as it arrives, resampled to the analysis rate, for ever: None
        after each ``poll_s`` without a block out (so the caller can look at its
        clock or its stop flag, and stop iterating when it likes)."""
        resampler = BlockResampler(self.sample_rate, self.channels)
        while True:
            block = self.read(poll_s)
            yield resampler.push(block) if block is not None else None

    def read(self, timeout_s: float, *, max_frames: int | None = None) -> AudioBlock | None:
        """Wait up to ``timeout_s`` for audio and return all that is buffered.

        Parameters
        ----------
        timeout_s : float
            Longest wait in seconds (>= 0; 0 polls).
        max_frames : int or None
            Upper bound on the block length; None returns everything buffered
            (up to the next gap left by dropped frames).

        Returns
        -------
        AudioBlock or None
            ``samples`` shape (channels, frames), float32, read-only;
            ``start_s`` is the stream position of the first sample (frames since
            the first callback / sample_rate; exact, the reference for positions)
            and ``stream_time_s`` its PortAudio ADC time (interpolated within a
            callback; as good as the host API's timestamps -- ALSA's pulse plugin
            shifts them by some 0.1-0.6 s early in a stream). None if no audio
            arrived in time, or immediately if the capture is not running and
            nothing is buffered.

        Raises
        ------
        DeviceLostError
            Once the buffered audio is drained, if the device went away or stalled.
        DeviceError
            If the capture failed for another device reason.
        """
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
            raise TypeError(f"timeout_s must be a number, not {type(timeout_s).__name__}")
        if not timeout_s >= 0 or math.isinf(timeout_s):
            raise ValueError(f"timeout_s must be a finite number >= 0, got {timeout_s}")
        if max_frames is not None and (
            isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1
        ):
            raise ValueError(f"max_frames must be None or an int >= 1, got {max_frames!r}")
        deadline = time.monotonic() + timeout_s
        # Poll at a fraction of a callback period: the callback never signals,
        # so it never has to take a lock.
        poll = min(max(self._blocksize / self._sample_rate / 4.0, 0.001), 0.01)
        while True:
            block = self._take(max_frames)
            if block is not None:
                return block
            fault = self._check_fault()
            if fault is not None:
                # The callback may have added audio since _take() looked: drain it first.
                block = self._take(max_frames)
                if block is not None:
                    return block
                raise fault
            if self._state != "running":
                return None
            now = time.monotonic()
            if now >= deadline:
                return None
            time.sleep(min(poll, deadline - now))

    def blocks(self, *, poll_s: float = 0.1, max_frames: int | None = None) -> Iterator[AudioBlock]:
        """Yield blocks until the capture is stopped and drained.

        Parameters
        ----------
        poll_s : float
            How long each internal :meth:`read` waits.
        max_frames : int or None
            Passed to :meth:`read`.

        Yields
        ------
        AudioBlock
            ``samples`` shape (channels, frames).

        Raises
        ------
        DeviceLostError
            After the last buffered block, if the device went away.
        """
        while True:
            block = self.read(poll_s, max_frames=max_frames)
            if block is not None:
                yield block
            elif self._state != "running" and not self._ring.available:
                return

    def __repr__(self) -> str:
        return (
            f"LiveCapture(device={self._device.name!r}, sample_rate={self._sample_rate}, "
            f"channels={self._channels}, state={self._state!r})"
        )


def _close_stream(stream, *, what: str, name: str, abort: bool, thread: str) -> None:
    """Stop (or abort) and close a PortAudio stream on a helper thread, waiting at most
    :data:`_CLOSE_TIMEOUT_S`: a stream whose server died can block inside the host API,
    and the caller must never hang."""
    done = threading.Event()

    def _shutdown() -> None:
        try:
            if abort:
                stream.abort(ignore_errors=True)
            else:
                stream.stop(ignore_errors=True)
            stream.close(ignore_errors=True)
        except Exception as exc:
            log.debug("closing %s stream of '%s' failed: %s", what, name, exc)
        finally:
            done.set()

    threading.Thread(target=_shutdown, name=thread, daemon=True).start()
    if not done.wait(_CLOSE_TIMEOUT_S):
        log.warning("%s stream of '%s' did not close within %.0f s; abandoning it", what, name,
                    _CLOSE_TIMEOUT_S)


def _close_quietly(stream: object) -> None:
    try:
        stream.close(ignore_errors=True)
    except Exception:
        pass


# --------------------------------------------------------------------------- output
def _check_prime(seconds: float, buffer_s: float) -> None:
    if not 0 <= seconds < buffer_s:
        raise ValueError(f"prime_s must be in 0..buffer_s, got {seconds}")


class Playback:
    """Play audio through an output device without ever making the writer wait.

    Parameters
    ----------
    device : int, str or None
        See :func:`find_output_device`; None: the system's default output.
    sample_rate : int, keyword-only
        Rate of the samples written (the analysis rate by default).
    channels : int, keyword-only
        Channels played (1 or 2); mono writes play on both of a stereo output.
    buffer_s : float, keyword-only
        Seconds the stream ring holds; a writer further ahead loses the newest
        audio (counted in :attr:`dropped_frames`).
    blocksize : int, keyword-only
        Frames per callback.
    latency : str or float, keyword-only
        PortAudio's output latency ("low", "high" or seconds).
    prime_s : float, keyword-only
        Audio queued before the stream (re)starts playing after running dry, so a
        writer delivering blocks of this size does not starve it at once.

    Notes
    -----
    One thread writes (:meth:`write`, :meth:`cue`, :meth:`clear`); the PortAudio
    callback reads. A request to flush or cue is a reference the callback picks up,
    so no lock is ever held across the audio thread.
    """

    def __init__(self, device: int | str | None = None, *, sample_rate: int = 44100,
                 channels: int = 2, buffer_s: float = 4.0, blocksize: int = 512,
                 latency: str | float = "low", prime_s: float = 0.05) -> None:
        _check_seconds("buffer_s", buffer_s)
        _check_prime(prime_s, buffer_s)
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize <= 0:
            raise ValueError(f"blocksize must be a positive int, got {blocksize!r}")
        self._device = find_output_device(device)
        self._sample_rate = int(sample_rate)
        self._channels = min(int(channels), max(1, self._device.channels))
        self._blocksize = blocksize
        self._latency = latency
        self._ring = RingBuffer(max(blocksize * 2, int(buffer_s * sample_rate)), self._channels)
        self._flush = 0  # requests made by the writer
        self._flushed = 0  # requests the callback has carried out
        self._cue: tuple[np.ndarray, int] | None = None  # (frames-first samples, id)
        self._cue_id = 0  # the writer's last cue
        self._cue_seen = 0  # the callback's cue being played
        self._cue_pos = 0
        self._cue_done = 0  # the last cue played to its end
        self.prime_s = prime_s
        self._flowing = False
        self._ended = True  # the writer said the stream ended (no underrun when it runs dry)
        self._underruns = 0
        self._frames_played = 0
        self._stream = None
        self._state = "new"
        self._fault: DeviceError | None = None
        self._callback_error: BaseException | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ facts
    @property
    def device(self) -> OutputDevice:
        return self._device  # type: ignore[return-value]

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def prime_s(self) -> float:
        """Seconds queued before playing starts (again): more rides out a busy machine,
        less is heard sooner."""
        return self._prime / self._sample_rate

    @prime_s.setter
    def prime_s(self, seconds: float) -> None:
        _check_prime(seconds, self._ring.capacity / self._sample_rate)
        self._prime = int(seconds * self._sample_rate)

    @property
    def underruns(self) -> int:
        """Callbacks that found the stream ring empty while audio was flowing."""
        return self._underruns

    @property
    def dropped_frames(self) -> int:
        """Frames written while the ring was full (the writer ran ahead)."""
        return self._ring.dropped_frames

    @property
    def frames_played(self) -> int:
        return self._frames_played

    @property
    def queued_s(self) -> float:
        """Seconds written and not yet played."""
        return self._ring.available / self._sample_rate

    @property
    def latency_s(self) -> float:
        """From :meth:`write` to the speaker: what is queued plus the device's own latency."""
        st = self._stream
        dev = float(st.latency) if st is not None else 0.0
        return self.queued_s + dev

    @property
    def cueing(self) -> bool:
        """A cue (:meth:`cue`) is playing or waiting."""
        cue = self._cue
        return cue is not None and cue[1] != self._cue_done

    @property
    def running(self) -> bool:
        return self._state == "running" and self.fault is None

    @property
    def fault(self) -> DeviceError | None:
        if self._fault is None and self._callback_error is not None:
            self._fault = DeviceError(f"output '{self._device.name}' failed: "
                                      f"{self._callback_error!r}")
        if self._fault is None and self._state == "running" and self._stream is not None \
                and not self._stream.active:
            self._fault = DeviceError(f"output '{self._device.name}' stopped (was it unplugged?)")
        return self._fault

    # ------------------------------------------------------------------ writer
    def _frames(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"expected (channels, frames) samples, got shape {x.shape}")
        if x.shape[0] < self._channels:
            x = np.repeat(x[:1], self._channels, axis=0)
        elif x.shape[0] > self._channels:
            x = x[:self._channels] if self._channels > 1 else x.mean(axis=0, keepdims=True)
        return np.ascontiguousarray(np.clip(x, -1.0, 1.0).T)

    def write(self, samples: np.ndarray) -> int:
        """Queue ``(channels, frames)`` samples for the stream; returns the frames kept
        (fewer when the ring is full). Never waits."""
        self._ended = False
        return self._ring.write(self._frames(samples))

    def end(self) -> None:
        """The stream ends here (a file's end, a stop): running dry after what is
        queued is not an underrun."""
        self._ended = True

    def cue(self, samples: np.ndarray) -> None:
        """Play ``samples`` once, now, over the stream (the stream's audio meanwhile is
        skipped, so it goes on in time afterwards). A new cue replaces one playing."""
        self._cue_id += 1
        self._cue = (self._frames(samples), self._cue_id)

    def stop_cue(self) -> None:
        """Stop a cue that is playing."""
        self._cue = None

    def clear(self) -> None:
        """Forget the stream audio queued and not yet played."""
        self._flush += 1

    # ------------------------------------------------------------------ audio thread
    def _callback(self, outdata: np.ndarray, frames: int, time_info: object,
                  status: object) -> None:
        """PortAudio output callback: copy what is queued, count starvation."""
        if self._callback_error is not None:
            outdata.fill(0)
            return
        try:
            ring = self._ring
            if self._flushed != self._flush:
                self._flushed = self._flush
                ring.read(ring.available)
            cue = self._cue
            if cue is not None and cue[1] != self._cue_done:
                data, cid = cue
                if self._cue_seen != cid:  # a new cue: from its start
                    self._cue_seen, self._cue_pos = cid, 0
                n = min(frames, data.shape[0] - self._cue_pos)
                outdata[:n] = data[self._cue_pos:self._cue_pos + n]
                outdata[n:] = 0
                self._cue_pos += n
                ring.read(min(frames, ring.available))  # the stream goes on in time
                if self._cue_pos >= data.shape[0]:
                    self._cue_done = cid
                self._frames_played += frames
                return
            have = ring.available
            if not self._flowing and have < self._prime and not self._ended:
                have = 0  # (re)starting: wait until a little is queued
            n = min(frames, have)
            if n:
                outdata[:n] = ring.read(n).T
            outdata[n:] = 0
            if n < frames and self._flowing and not self._ended:
                self._underruns += 1
            self._flowing = n == frames
            if status is not None and getattr(status, "output_underflow", False) and n:
                self._underruns += 1
            self._frames_played += frames
        except BaseException as exc:  # nothing may escape into PortAudio
            self._callback_error = exc
            outdata.fill(0)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Playback:
        """Open and start the output stream (no-op when running).

        Raises
        ------
        DeviceError
            If PortAudio cannot open or start it.
        """
        with self._lock:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError("a Playback cannot be restarted; create a new one")
            sd = _sd()
            dev = self._device
            try:
                stream = sd.OutputStream(device=dev.index, samplerate=self._sample_rate,
                                         channels=self._channels, dtype="float32",
                                         blocksize=self._blocksize, latency=self._latency,
                                         callback=self._callback)
            except (sd.PortAudioError, ValueError) as exc:
                raise DeviceError(f"cannot open output device '{dev.name}': {exc}") from exc
            try:
                stream.start()
            except sd.PortAudioError as exc:
                _close_quietly(stream)
                raise DeviceError(f"cannot start output device '{dev.name}': {exc}") from exc
            self._stream = stream
            self._state = "running"
            log.debug("playing to %s at %d Hz, %d ch, latency %.3f s", dev,
                      self._sample_rate, self._channels, stream.latency)
            return self

    def stop(self) -> None:
        """Stop playing and release the device (safe to call twice; never hangs)."""
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
            stream, self._stream = self._stream, None
        if stream is None:
            return
        _close_stream(stream, what="output", name=self._device.name, abort=True,
                      thread="vinylmon-playback-close")

    close = stop

    def __enter__(self) -> Playback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"Playback({self._device.name!r}, {self._sample_rate} Hz, {self._channels} ch, "
                f"{self._state}, underruns={self._underruns})")

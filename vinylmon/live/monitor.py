"""The live monitor's back end: sources, capture thread, engine, journal, reports (no Qt).

The GUI drives a :class:`Monitor` and is told what happens through the three
callbacks it sets (``on_window``, ``on_error``, ``on_finished``), which run on
worker threads (the GUI's adapter turns them into Qt signals). It looks at the
live input with :attr:`Monitor.scope` from its paint timer.

Data flow, one thread each::

    source (live capture or a paced file) -> resample to 44.1 kHz -> scope (live
    spectrogram, levels) -> journal (16-bit audio on disk) -> 5-s windows
    -> [queue of at most 2; the oldest dropped] -> engine -> session
    -> journal (windows.jsonl) -> on_window

Sound out (:meth:`Monitor.open_output`): the reader thread also hands each block
to a :class:`~vinylmon.engine.declick.StreamDeclicker` and writes the stream the
listener chose (``original``, ``cleaned`` or ``removed``) to a
:class:`~vinylmon.audio.capture.Playback`, which never waits: a file or the demo
played at real time always, live input only with ``passthrough`` (headphones:
a microphone beside speakers would feed back). An event's +-1 s or the session
from a point on is *cued* over it (:meth:`Monitor.play_excerpt`,
:meth:`Monitor.play_from`). Nothing about the analysis depends on it; a failing
output is closed and reported in :attr:`Monitor.output_error`.

Everything blocking (opening a device, loading a file) happens on the reader
thread, so :meth:`Monitor.start` returns at once; a failure arrives at
``on_error``. A stopped or failed run keeps its session: the timeline and the
grade stay, and :meth:`Monitor.start` with ``resume=True`` goes on with them.

Each session is journalled as it runs (:mod:`vinylmon.live.journal`): its
audio and every analysed window are on disk before ``on_window`` is called, so
a killed process loses at most the window being analysed, and
:meth:`Monitor.restore` brings the session back on the next start. Starting a
new session (or :meth:`Monitor.discard`) finishes the old journal (it is removed);
:meth:`Monitor.close` keeps it when it holds windows that were never saved.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.io import audio_info, read_blocks
from vinylmon.audio.recording import SessionRecording
from vinylmon.audio.scope import Scope, SideSpectrogram
from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock
from vinylmon.audio.windowing import DEFAULT_WINDOW_S, Windower
from vinylmon.engine.declick import STREAMS, StreamDeclicker, clean_excerpt
from vinylmon.engine.engine import Engine, LiveAnalyser
from vinylmon.engine.session import Session, SessionState
from vinylmon.errors import AudioDataError, AudioFileError
from vinylmon.grading.events import AnalysedWindow
from vinylmon.live.journal import (
    RestoredSession,
    SessionJournal,
    restore_session,
    sessions_root,
)

log = logging.getLogger(__name__)

#: Seconds of sound queued before the output starts playing (after a stop or running
#: dry): room for the declicker's chunks (:data:`vinylmon.engine.declick.CHUNK_S`) and the
#: reader thread's jitter.
PRIME_S = 0.1
#: The same for a file or the demo, where nothing waits on the delay: a busy machine's
#: stalls of up to this long are not heard.
FILE_PRIME_S = 0.5
#: The output device's own buffer (s): PortAudio's "low" (23 ms here) ran dry on a
#: busy 2-core machine (ALSA's PulseAudio plugin, measured); capture to output is then
#: 0.42-0.47 s with the live input passed through (scripts/bench_playback.py).
OUTPUT_LATENCY_S = 0.15

#: Block length the demo/file source delivers (the live spectrogram's smoothness).
FILE_BLOCK_S = 1024 / ANALYSIS_RATE


class FileSource:
    """A recording played through the live pipeline, at real-time pace or faster.

    Parameters
    ----------
    path : path-like
    speed : float or None, keyword-only
        1.0: real time (the demo); 10.0: ten times faster; None: as fast as it reads.
    name : str, keyword-only
        Shown as the input's name (default: the file name).
    """

    def __init__(self, path, *, speed: float | None = 1.0, name: str | None = None) -> None:
        self.path = Path(path)
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive or None, got {speed}")
        self.info = audio_info(self.path)  # a missing or corrupt file fails here, clearly
        self.speed = speed
        self.name = name or self.path.name
        self.sample_rate = ANALYSIS_RATE
        self.channels = self.info.analysed_channels
        self.overflows = 0

    def blocks(self, stop: threading.Event) -> Iterator[AudioBlock]:
        t0 = time.monotonic()
        for block in read_blocks(self.path, block_s=FILE_BLOCK_S):
            if stop.is_set():
                return
            if self.speed is not None:
                delay = block.start_s / self.speed - (time.monotonic() - t0)
                if delay > 0 and stop.wait(delay):
                    return
            yield block


class LiveSource:
    """An input device (microphone or line-in), opened on the reader thread.

    Parameters
    ----------
    device : int, str or None
        See :func:`vinylmon.audio.capture.find_input_device`; None: the default input.
    sample_rate : int or None, keyword-only
        None: the device's default rate.
    buffer_s : float, keyword-only
        Seconds the capture buffers while the reader thread is busy; beyond
        that audio is lost and counted in :attr:`overflows`.
    """

    def __init__(self, device: int | str | None = None, *, sample_rate: int | None = None,
                 buffer_s: float = 30.0) -> None:
        self.device = device
        self.sample_rate = ANALYSIS_RATE
        self.requested_rate = sample_rate
        self.buffer_s = buffer_s
        self.name = "default input" if device is None else str(device)
        self.channels: int | None = None
        self._capture = None

    @property
    def overflows(self) -> int:
        return self._capture.overflow_count if self._capture is not None else 0

    def blocks(self, stop: threading.Event) -> Iterator[AudioBlock]:
        from vinylmon.audio.capture import LiveCapture

        capture = LiveCapture(self.device, sample_rate=self.requested_rate,
                              buffer_s=self.buffer_s)
        self._capture = capture
        self.name = f"{capture.device.name} ({capture.sample_rate} Hz)"
        self.channels = capture.channels
        with capture:
            for out in capture.analysis_blocks():
                if stop.is_set():
                    break
                if out is not None:
                    yield out


class _RestoredSource:
    """Stands for the input of a restored session (its name; nothing to read)."""

    overflows = 0

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """The status bar's figures (a snapshot; any thread)."""

    input_name: str
    compute_device: str
    running: bool
    elapsed_s: float
    overflows: int
    dropped_windows: int
    last_inference_s: float | None
    windows: int
    output_name: str | None = None
    output_underruns: int = 0
    output_latency_s: float | None = None


class Monitor:
    """One listening session at a time: source, engine, journal and results.

    Parameters
    ----------
    engine : Engine
    journal_dir : path-like or None, keyword-only
        Where session journals are kept, one folder per session (default: the
        user state folder, :func:`vinylmon.live.journal.sessions_root`).
    max_pending : int, keyword-only
        Windows waiting for the engine at most; older ones are dropped and counted.

    Attributes
    ----------
    on_window : callable(AnalysedWindow, SessionState)
    on_error : callable(Exception)
    on_finished : callable()
        Set by the GUI's adapter; called on worker threads.
    restored : RestoredSession or None
        The journal the current session was restored from (None: it was not).
    """

    def __init__(self, engine: Engine, *, journal_dir=None, max_pending: int = 2) -> None:
        self.engine = engine
        self._journal_dir = sessions_root(journal_dir or None)
        self.max_pending = int(max_pending)
        self.on_window: Callable[[AnalysedWindow, SessionState], None] = lambda a, s: None
        self.on_error: Callable[[Exception], None] = lambda exc: None
        self.on_finished: Callable[[], None] = lambda: None
        self.scope: Scope | None = None
        self.recording: SessionRecording | None = None
        self.source = None
        self.state: SessionState | None = None
        self.windows: list[AnalysedWindow] = []
        self.rpm: float | None = None
        self.restored: RestoredSession | None = None
        self.journal: SessionJournal | None = None
        self._session: Session | None = None
        self._details: dict | None = None
        self._models: dict | None = None  # of a restored session's journal
        self._window_s: float | None = None
        self._analyser: LiveAnalyser | None = None
        self._stop = threading.Event()
        self._offset_s = 0.0
        self._started = 0.0
        self._lock = threading.Lock()
        #: Sound out: the open output (None: silent), the stream it plays, whether live
        #: input is played too, and why the output last failed.
        self.output = None
        self.listen = "original"
        self.passthrough = False
        self.output_error: str | None = None
        self._declicker: StreamDeclicker | None = None

    # ---- running -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        a = self._analyser
        return a is not None and a.running

    @property
    def journal_root(self) -> Path:
        """The folder holding one journal folder per session."""
        return self._journal_dir

    @property
    def session(self) -> Session | None:
        """The engine session being listened to, stopped or restored (None: none yet)."""
        return self._session

    def start(self, source, *, rpm: float | None = None, window_s: float = DEFAULT_WINDOW_S,
              silence_threshold_db: float | None = None, resume: bool = False,
              details: dict | None = None) -> None:
        """Start listening to ``source`` (a :class:`LiveSource` or :class:`FileSource`).

        Returns at once. With ``resume``, the current session goes on (its events,
        grade and audio are kept; new audio follows the old on the timeline, and
        its journal goes on); otherwise the current session's journal is finished
        and a new one begins. ``details``: the record's (artist, title, side), kept
        in the journal.
        """
        if self.running:
            raise RuntimeError("the monitor is already running; stop it first")
        session = None
        if resume and self._session is not None:
            session = self._session
            self._offset_s = self.recording.duration_s if self.recording else 0.0
        else:
            self._drop_session()
        if details is not None:
            self.set_details(details)
        self._models = None  # the report names the models that ran last
        self._window_s = window_s
        if silence_threshold_db is not None:
            self.engine.gate = SilenceGate(threshold_db=silence_threshold_db)
        self.rpm = rpm
        self.source = source
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._analyser = LiveAnalyser(
            self.engine, self._windows(source, window_s), on_window=self._window,
            on_error=self._error, on_finished=self._finished, rpm=rpm,
            max_pending=self.max_pending, session=session)
        self._session = self._analyser.session
        self._analyser.start()

    def _drop_session(self) -> None:
        """Forget the current session; its journal is finished (removed)."""
        self._offset_s = 0.0
        with self._lock:
            self.windows = []
            self.state = None
        self._session = None
        self._models = None
        self.restored = None
        self.source = None
        if self.recording is not None:
            self.recording.close()
        self.recording = None
        self.scope = None
        if self.journal is not None:
            self.journal.finish()
        self.journal = None

    def set_details(self, details: dict | None) -> None:
        """The record's details (artist, title, side): kept in the journal."""
        self._details = {str(k): str(v) for k, v in details.items() if v} if details else None
        if self.journal is not None:
            self.journal.set_record(self._details)

    @property
    def details(self) -> dict | None:
        """The record's details last given (or restored from the journal)."""
        return dict(self._details) if self._details else None

    def restore(self, folder) -> RestoredSession:
        """Take up the session of an unfinished journal, as if it had stopped there.

        Its events, grade and audio are back (:meth:`report`, :meth:`save_session`,
        :meth:`export_html`, :meth:`excerpt`), and ``start(..., resume=True)``
        goes on with it, appending to the same journal. The current session (if
        any) is dropped, as by a new session, but only once the journal has loaded.

        Raises
        ------
        vinylmon.live.journal.JournalError
            The journal is missing, damaged, foreign, finished or in use; the
            monitor is then unchanged.
        """
        if self.running:
            raise RuntimeError("the monitor is listening; stop it before restoring a session")
        restored = restore_session(folder)
        try:
            journal = SessionJournal.reopen(restored.folder)
        except BaseException:
            restored.recording.close()
            raise
        self._drop_session()
        journal.recording = restored.recording
        c = restored.contents
        self.journal = journal
        self.restored = restored
        self.recording = restored.recording
        self.scope = _scope_of_tail(restored.recording, seconds=RESTORED_SCOPE_S)
        self._session = restored.session
        with self._lock:
            self.windows = list(restored.windows)
            self.state = restored.state
        self.rpm = c.rpm
        self.source = _RestoredSource(c.input_name)
        self._details = dict(c.record) if c.record else None
        self._models = dict(c.header["models"]) or None
        self._window_s = c.header.get("window_s") or DEFAULT_WINDOW_S
        return restored

    @property
    def unsaved(self) -> bool:
        """Whether the session holds windows analysed since it was last saved (quitting
        or starting another session would lose them)."""
        j = self.journal
        return j is not None and not j.closed and j.unsaved

    def mark_saved(self, windows: int, folder) -> None:
        if self.journal is not None:
            self.journal.mark_saved(windows, folder)

    def discard(self) -> None:
        """Stop and forget the current session; its journal is finished (removed)."""
        self.stop()
        self.join(5.0)
        self._drop_session()

    def close(self) -> None:
        """Stop and close the journal: kept (restorable) when it holds unsaved windows,
        finished otherwise."""
        self.stop()
        self.join(5.0)
        self.close_output()
        j = self.journal
        if j is not None:
            if j.unsaved:
                j.close()
            else:
                j.finish()
        self.journal = None
        if self.recording is not None:
            self.recording.close()

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Stop listening (the window being analysed is finished; the session stays)."""
        self._stop.set()
        if self._analyser is not None:
            self._analyser.stop(timeout_s=timeout_s)

    def join(self, timeout_s: float | None = None) -> None:
        if self._analyser is not None:
            self._analyser.join(timeout_s)

    def _windows(self, source, window_s: float):
        """The reader thread: blocks -> scope, journal -> windows."""
        stop = self._stop
        offset = self._offset_s
        windower = None
        for block in source.blocks(stop):
            if offset:
                block = AudioBlock(block.samples, block.sample_rate, block.start_s + offset,
                                   block.stream_time_s)
            if windower is None:
                if self.scope is None or self.scope.channels != block.channels:
                    self.scope = Scope(block.sample_rate, block.channels)
                if self.recording is None:
                    self.journal = self._new_journal(source, block)
                    path = self.journal.audio_path if self.journal is not None else Path(
                        tempfile.mkdtemp(prefix="vinylmon-session-")) / "audio.raw"
                    self.recording = SessionRecording(
                        path, sample_rate=block.sample_rate, channels=block.channels)
                    if self.journal is not None:
                        self.journal.recording = self.recording
                elif self.recording.channels != block.channels:
                    raise AudioDataError(
                        f"the input now has {block.channels} channel(s); the session was "
                        f"recorded with {self.recording.channels}: start a new session")
                elif self.journal is not None:
                    self.journal.mark_resumed(offset, getattr(source, "name", "input"))
                windower = Windower(block.sample_rate, block.channels, window_s=window_s)
            self.scope.push(block)
            self.recording.append(block)
            self._play(source, block)
            yield from windower.push(block)
        self._play_end(flush=not stop.is_set())
        if windower is not None and not stop.is_set():
            yield from windower.flush()

    def _new_journal(self, source, block: AudioBlock) -> SessionJournal | None:
        try:
            return SessionJournal.create(
                self._journal_dir, input_name=getattr(source, "name", "input"),
                sample_rate=block.sample_rate, channels=block.channels, rpm=self.rpm,
                record=self._details, window_s=self._window_s,
                learned_weight=self.engine.learned_weight, models=self.engine.models(),
                false_clicks_per_min=self.engine.false_clicks_per_min,
                noise_sd_db=self.engine.noise_sd_db,
                crackle_sd_log=self.engine.crackle_sd_log,
                click_sd_log=self.engine.click_sd_log,
                accept=self.engine.detector.event_accept)
        except OSError as exc:
            log.error("cannot write a session journal in %s (%s): this session cannot be "
                      "restored after a crash", self._journal_dir, exc)
            return None

    def _window(self, a: AnalysedWindow, state: SessionState) -> None:
        session = self._session
        if self.journal is not None:  # on disk before anyone hears of it
            self.journal.add_window(
                a, dropped=session.dropped_windows if session is not None else None,
                repeats=session.repeats if session is not None else None)
        with self._lock:
            self.windows.append(a)
            self.state = state
        self.on_window(a, state)

    def snapshot(self) -> tuple[SessionState | None, tuple[AnalysedWindow, ...]]:
        """The session's state and windows as they are now (safe from any thread)."""
        with self._lock:
            return self.state, tuple(self.windows)

    def _error(self, exc: Exception) -> None:
        log.info("monitor stopped: %s", exc, exc_info=exc)
        self.on_error(exc)

    def _finished(self) -> None:
        j, session = self.journal, self._session
        if j is not None:
            if session is not None:
                j.set_dropped(session.dropped_windows)
            j.sync()
        self.on_finished()

    # ---- sound out ----------------------------------------------------------------

    def open_output(self, device: int | str | None = None) -> str | None:
        """Play through output ``device`` (None: the system's default); the one open
        before is closed. Returns None, or why it cannot (the monitor stays silent)."""
        from vinylmon.audio.capture import Playback
        from vinylmon.errors import DeviceError

        self.close_output()
        try:
            out = Playback(device, sample_rate=ANALYSIS_RATE, channels=2, prime_s=PRIME_S,
                           latency=OUTPUT_LATENCY_S).start()
        except (DeviceError, ValueError) as exc:
            self.output_error = str(exc)
            return self.output_error
        self.output, self.output_error = out, None
        return None

    def close_output(self) -> None:
        """Stop playing; the monitor is silent (the analysis goes on)."""
        out, self.output = self.output, None
        if out is not None:
            out.stop()

    def set_listen(self, stream: str) -> None:
        """The stream played: ``original``, ``cleaned`` or ``removed`` (the clicks alone)."""
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
        self.listen = stream

    def _plays(self, source) -> bool:
        if isinstance(source, FileSource):
            return source.speed == 1.0
        return isinstance(source, LiveSource) and self.passthrough

    def _output(self):
        """The output when it is usable; one that failed is closed and said."""
        out = self.output
        if out is not None and out.fault is not None:
            self.output_error = str(out.fault)
            log.warning("sound output stopped: %s", out.fault)
            self.close_output()
            return None
        return out

    def _play(self, source, block: AudioBlock) -> None:
        """The reader thread hands a block to the output (never waits, never fails the
        analysis)."""
        out = self._output()
        if out is None or not self._plays(source):
            self._declicker = None
            return
        try:
            d = self._declicker
            if d is None:
                out.prime_s = FILE_PRIME_S if isinstance(source, FileSource) else PRIME_S
            if d is None or d.channels != block.channels:
                d = self._declicker = StreamDeclicker(self.engine.detector,
                                                      sample_rate=block.sample_rate,
                                                      channels=block.channels)
            for chunk in d.push(block.samples, start_s=block.start_s):
                out.write(chunk.stream(self.listen))
        except Exception as exc:  # the analysis goes on whatever the sound does
            log.warning("sound output: %s", exc, exc_info=exc)
            self._declicker = None
            out.write(block.samples)

    def _play_end(self, *, flush: bool) -> None:
        out, d = self._output(), self._declicker
        self._declicker = None
        if out is None:
            return
        if d is not None and flush:
            try:
                for chunk in d.flush():
                    out.write(chunk.stream(self.listen))
            except Exception as exc:
                log.warning("sound output: %s", exc, exc_info=exc)
        if not flush:
            out.clear()
        out.end()

    def play_samples(self, samples: np.ndarray, *, cleaned: bool = False,
                     stream: str | None = None) -> str | None:
        """Play ``(channels, frames)`` samples now, over the stream: as they are,
        ``cleaned`` (clicks repaired), or as ``stream`` says (original, cleaned, removed).
        Returns None, or why it cannot."""
        out = self._output()
        if out is None:
            return self.output_error or "no sound output is chosen (Settings)"
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] == 0:
            return "no audio there"
        stream = stream or ("cleaned" if cleaned else "original")
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
        if stream != "original":
            rate = self.recording.sample_rate if self.recording is not None else ANALYSIS_RATE
            fixed = clean_excerpt(self.engine.detector, x, sample_rate=rate)
            x = fixed if stream == "cleaned" else x - fixed
        out.cue(x)
        return None

    def play_excerpt(self, start_s: float, end_s: float, *, cleaned: bool = False) -> str | None:
        """Play the session's audio in ``[start_s, end_s)`` now (over the stream),
        original or with its clicks repaired. Returns None, or why it cannot."""
        return self.play_samples(self.excerpt(max(0.0, start_s), end_s), cleaned=cleaned)

    def play_from(self, start_s: float, *, seconds: float = 60.0) -> str | None:
        """Play the session's audio from ``start_s`` on (at most ``seconds``), as the
        listener chose (original, cleaned, removed). Returns None, or why not."""
        return self.play_samples(self.excerpt(max(0.0, start_s), start_s + seconds),
                                 stream=self.listen)

    def stop_playback(self) -> None:
        """Stop what :meth:`play_excerpt` or :meth:`play_from` is playing."""
        if self.output is not None:
            self.output.stop_cue()

    def stats(self) -> MonitorStats:
        src = self.source
        last = next((w.inference_s for w in reversed(self.windows) if not w.silent), None)
        return MonitorStats(
            input_name=getattr(src, "name", "no input"), compute_device=self.engine.device,
            running=self.running,
            elapsed_s=self.recording.duration_s if self.recording is not None else 0.0,
            overflows=int(getattr(src, "overflows", 0) or 0),
            dropped_windows=self.session.dropped_windows if self.session is not None else 0,
            last_inference_s=last, windows=len(self.windows),
            output_name=self.output.device.name if self.output is not None else None,
            output_underruns=self.output.underruns if self.output is not None else 0,
            output_latency_s=(self.output.latency_s + (self._declicker.delay_s
                                                       if self._declicker else 0.0))
            if self.output is not None else None)

    # ---- results -----------------------------------------------------------------

    def excerpt(self, start_s: float, end_s: float) -> np.ndarray:
        """The session's audio in ``[start_s, end_s)``, ``(channels, frames)`` float32."""
        if self.recording is None:
            return np.zeros((1, 0), dtype=np.float32)
        return self.recording.segment(start_s, end_s)

    def report(self, *, details: dict | None = None) -> dict:
        """The session's REPORT.md report, with the record's details (``record``)."""
        from vinylmon.reports.report import build_report

        with self._lock:
            state, windows = self.state, list(self.windows)
        if state is None or self.recording is None:
            raise AudioDataError("nothing has been analysed yet: start listening first")
        rep = build_report(state, windows, input_name=getattr(self.source, "name", "input"),
                           sample_rate=self.recording.sample_rate,
                           channels=self.recording.channels,
                           duration_s=self.recording.duration_s,
                           models=self._models or self.engine.models(),
                           crackle_method=self.engine.crackle_method)
        if details:
            rep["record"] = {k: str(v) for k, v in details.items()}
        return rep

    def save_session(self, folder, *, details: dict | None = None) -> Path:
        """Save the session to ``folder``: ``report.json`` and ``audio.flac``."""
        from vinylmon.reports.report import write_report

        out = Path(folder)
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".vinylmon-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise AudioFileError(out, "cannot be written to: "
                                 f"{exc.strerror or exc}; choose another folder") from exc
        rep = self.report(details=details)
        self.recording.save_flac(out / "audio.flac")
        write_report(rep, out / "report.json")
        self.mark_saved(len(rep["windows"]), out)  # not offered for restoring any more
        return out

    def export_csv(self, path, *, details: dict | None = None) -> Path:
        """Write the session's events as CSV (the table ``vinylmon grade --csv`` writes)."""
        from vinylmon.reports.csv import write_events_csv

        return write_events_csv(self.report(details=details), path)

    def export_html(self, path, *, details: dict | None = None) -> Path:
        """Write the seller's HTML page (grade, reasons, pictures, events)."""
        from vinylmon.reports.html import render_html
        from vinylmon.reports.strips import event_strips

        rep = self.report(details=details)
        spec = SideSpectrogram(self.recording.sample_rate)
        for x in self.recording.blocks():
            spec.push(x)
        sp = spec.result()
        # close-ups of the loudest events, from the session's audio (the journal's)
        strips = event_strips(self.excerpt, rep["events"],
                              sample_rate=self.recording.sample_rate)
        out = Path(path)
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(render_html(rep, spectrogram_db=sp.db, spectrogram_freqs_hz=sp.freqs_hz,
                                   spectrogram_hop_s=sp.hop_s, event_strips=strips),
                       encoding="utf-8")
        tmp.replace(out)
        return out


def load_session(folder) -> tuple[dict, Path | None]:
    """A saved session: its report (validated) and its audio file (None when missing).

    Raises
    ------
    AudioFileError
        No readable, valid ``report.json`` in ``folder``.
    """
    from vinylmon.reports.schema import report_problems

    folder = Path(folder)
    path = folder / "report.json" if folder.is_dir() else folder
    try:
        rep = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AudioFileError(path, f"is not a readable session report ({exc})") from exc
    problems = report_problems(rep)
    if problems:
        raise AudioFileError(path, "is not a vinylmon report: " + "; ".join(problems[:3]))
    audio = path.parent / "audio.flac"
    return rep, audio if audio.exists() else None


#: Seconds of a restored session's audio its scope holds (the spectrogram's widest view)
RESTORED_SCOPE_S = 60.0


def _scope_of_tail(recording: SessionRecording, *, seconds: float) -> Scope | None:
    """A scope holding the spectrogram columns of the recording's last ``seconds``
    (what a restored session shows before it resumes); None when it holds no audio."""
    if recording.frames == 0:
        return None
    end_s = recording.duration_s
    start_s = max(0.0, end_s - seconds)
    samples = recording.segment(start_s, end_s)
    samples.setflags(write=False)
    scope = Scope(recording.sample_rate, recording.channels)
    scope.push(AudioBlock(samples, recording.sample_rate, start_s))
    return scope

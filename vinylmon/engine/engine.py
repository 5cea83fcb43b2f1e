"""The analysis engine: windows in, analysed windows and a graded session out.

One engine serves both faces of vinylmon. :meth:`Engine.grade_file` streams a
recording through the silence gate, the detector and the learned grader in
batches and returns the side's report; :class:`LiveAnalyser` runs the same
analysis on a worker thread for live input, dropping the oldest windows (and
counting them) when inference falls behind. No Qt here: the GUI adapts the
callbacks to signals.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.io import audio_info
from vinylmon.audio.scope import SideSpectrogram, Spectrogram
from vinylmon.audio.types import ANALYSIS_RATE, Window
from vinylmon.audio.windowing import DEFAULT_WINDOW_S, file_windows
from vinylmon.engine.session import Session, SessionState
from vinylmon.grading.events import AnalysedWindow
from vinylmon.grading.fusion import learned_weight
from vinylmon.grading.skips import RepeatBuffer
from vinylmon.models.device import (
    cpu_threads,
    keep_freed_memory,
    prefetched,
    threads_beside_reader,
)
from vinylmon.models.inference import (
    Detector,
    LearnedGrader,
    WindowPrep,
    analyse_windows,
    model_input,
)


@dataclass(frozen=True)
class FileResult:
    """A graded recording: its session state, spectrogram and file facts.

    ``duration_s`` is the audio decoded and graded; ``declared_s`` what the file's
    header claims (more when the file is truncated: see :attr:`short_by_s`).
    """

    path: Path
    state: SessionState
    windows: tuple[AnalysedWindow, ...]
    spectrogram: Spectrogram
    sample_rate: int
    channels: int
    duration_s: float
    wall_s: float
    declared_s: float

    @property
    def short_by_s(self) -> float:
        """Seconds the header claims beyond what could be decoded (0 when none)."""
        return max(0.0, self.declared_s - self.duration_s)


class Engine:
    """Models and settings for analysing windows.

    Parameters
    ----------
    detector : Detector, optional, keyword-only
        Default: the shipped bundle.
    grader : LearnedGrader or None or False, keyword-only
        Default (None): the shipped bundle; False: no learned grader.
    device : str or None, keyword-only
        ``auto``, ``cpu`` or ``cuda`` for bundles loaded here.
    gate : SilenceGate, optional, keyword-only
    batch : int, keyword-only
        Windows per model call.
    grader_stride : int, keyword-only
        When grading a file, the learned grader hears every ``grader_stride``-th
        window (the others carry no ``grade_probs``); live input: every window.
    """

    def __init__(self, *, detector: Detector | None = None,
                 grader: LearnedGrader | None | bool = None, device: str | None = None,
                 gate: SilenceGate | None = None, batch: int = 8,
                 grader_stride: int = 2) -> None:
        self.detector = detector or Detector(device=device)
        if grader is False:
            self.grader = None
        else:
            self.grader = grader if isinstance(grader, LearnedGrader) else \
                LearnedGrader(device=device)
        self.gate = gate or SilenceGate()
        self.batch = int(batch)
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.grader_stride = int(grader_stride)
        if self.grader_stride < 1:
            raise ValueError(f"grader_stride must be >= 1, got {grader_stride}")
        # its accuracy on validation decides its weight (none: 0)
        self.learned_weight = learned_weight(
            self.grader.validation_exact if self.grader is not None else None)
        self.window_frames = int(self.detector.window_s * self.detector.sample_rate)

    @property
    def device(self) -> str:
        return str(self.detector.device)

    @property
    def false_clicks_per_min(self) -> float:
        """The click detector's false events per minute on clean music (0: unknown)."""
        return float(getattr(self.detector, "false_clicks_per_min", 0.0) or 0.0)

    @property
    def noise_sd_db(self) -> float:
        """The spread of the detector's surface-noise error (dB, its meta.json
        ``postprocess.noise_sd_db``, measured on validation music; 0: unknown)."""
        return self._spread("noise_sd_db")

    @property
    def crackle_sd_log(self) -> float:
        """The spread of the detector's crackle-density error (its meta.json
        ``postprocess.crackle_sd_log``, measured on validation music; 0: unknown)."""
        return self._spread("crackle_sd_log")

    @property
    def click_sd_log(self) -> float:
        """The spread of c's error (its meta.json ``postprocess.click_sd_log``, measured
        on validation music; 0: unknown)."""
        return self._spread("click_sd_log")

    @property
    def crackle_method(self) -> str | None:
        """How k is measured, for the report's ``methods`` (the detector's
        ``crackle_method``; None: the report says it from the windows)."""
        return getattr(self.detector, "crackle_method", None)

    def _spread(self, key: str) -> float:
        """A measurement's error spread from the detector's ``postprocess`` (0: unknown)."""
        pp = getattr(self.detector, "postprocess", None)
        return float(getattr(pp, key, 0.0) or 0.0)

    def models(self) -> dict:
        """REPORT.md's ``models``: NAME@VERSION of each bundle, and the device."""
        def tag(bundle):
            return f"{bundle.meta['name']}@{bundle.meta.get('version', '?')}" if bundle else None
        return {"detector": tag(self.detector), "grader": tag(self.grader),
                "device": self.device}

    def new_session(self, *, rpm: float | None = None) -> Session:
        return Session(rpm=rpm, learned_weight=self.learned_weight,
                       false_clicks_per_min=self.false_clicks_per_min,
                       noise_sd_db=self.noise_sd_db, crackle_sd_log=self.crackle_sd_log,
                       click_sd_log=self.click_sd_log,
                       accept=self.detector.event_accept)

    def _gated(self, windows: Sequence[Window]) -> list[Window]:
        """The windows through the silence gate (those not gated yet), rate checked."""
        sr = self.detector.sample_rate
        gated = [w if w.silent is not None else self.gate(w) for w in windows]
        for w in gated:
            if w.sample_rate != sr:
                raise ValueError(f"window at {w.sample_rate} Hz; the detector needs {sr} Hz")
        return gated

    def _model_input(self, w: Window) -> np.ndarray:
        return model_input(w.samples, self.window_frames)

    def grade_windows(self, windows: Sequence[Window], *, grader_stride: int = 1
                      ) -> tuple[dict[int, tuple[float, ...]], float]:
        """The learned grader on gated windows: ``({index: grade probs}, seconds)``.

        It hears the non-silent windows whose ``index`` is a multiple of
        ``grader_stride``; none without a grader.
        """
        graded = [w for w in self._gated(windows)
                  if not w.silent and w.index % grader_stride == 0]
        if not graded or self.grader is None:
            return {}, 0.0
        t0 = time.perf_counter()
        probs = self.grader.run([self._model_input(w) for w in graded])
        return ({w.index: tuple(float(p) for p in row) for w, row in
                 zip(graded, probs, strict=True)}, time.perf_counter() - t0)

    def analyse(self, windows: Sequence[Window], *, grader_stride: int = 1,
                grades: tuple[dict[int, tuple[float, ...]], float] | None = None,
                prepared: dict[int, WindowPrep] | None = None
                ) -> list[AnalysedWindow]:
        """Gate (when not yet gated) and analyse windows at the detector's rate.

        Short windows (the end of a file) are padded with zeros for the models;
        their events stay inside the audio. The learned grader hears the windows
        whose ``index`` is a multiple of ``grader_stride``, unless ``grades`` (from
        :meth:`grade_windows` on the same windows, e.g. on another thread) are given;
        ``prepared``: :meth:`prepare` of the same windows, made ahead (the same result).
        """
        gated = self._gated(windows)
        live = [w for w in gated if not w.silent]
        padded = [self._model_input(w) for w in live]
        t0 = time.perf_counter()
        outs = self.detector.run(padded) if padded else []
        detector_s = time.perf_counter() - t0
        probs, grader_s = grades if grades is not None else \
            self.grade_windows(live, grader_stride=grader_stride)
        share = (detector_s + grader_s) / max(1, len(live))
        return analyse_windows(self.detector, gated, outs, grades=probs, inference_s=share,
                               prepared=prepared)

    def prepare(self, windows: Sequence[Window]) -> dict[int, WindowPrep]:
        """By window index, what the analysis of the gated ``windows`` needs besides the
        detector's output (:meth:`Detector.prepare <vinylmon.models.inference.Detector.prepare>`:
        the click candidates and the patches the verifier judges first, the steady
        floor), for a reader thread to make ahead."""
        return {w.index: self.detector.prepare(w.samples) for w in windows if not w.silent}

    def grade_file(self, path: str | os.PathLike, *, rpm: float | None = None,
                   progress: Callable[[float, float], None] | None = None) -> FileResult:
        """Grade one recording end to end.

        Parameters
        ----------
        path : path-like
        rpm : float or None, keyword-only
        progress : callable, keyword-only
            Called as ``progress(done_s, total_s)`` after each batch.

        Raises
        ------
        AudioFileError, AudioDataError
            Unreadable, corrupt or unsupported files, NaN samples.
        """
        t0 = time.perf_counter()
        # batch speed: the models' buffers are reused, not faulted in anew (not for
        # live input, which has time to spare and where it would keep more memory)
        keep_freed_memory()
        p = Path(path)
        info = audio_info(p)
        self.gate.reset()
        session = self.new_session(rpm=rpm)
        repeats = RepeatBuffer(ANALYSIS_RATE)
        spec = SideSpectrogram(ANALYSIS_RATE)
        total = info.duration_s

        found: list = []  # the groove repeats, searched once all audio is in

        def read() -> Iterator[tuple[list[Window], tuple, dict[int, WindowPrep]]]:
            # on the reader thread, beside the detector: decoding, the gate (in
            # order), the repeat buffer, the picture, the learned grader and the
            # windows' click candidates, first patches and floors; at the end the
            # repeat search, while the detector takes the last batches
            heard = False
            for batch in _batched(file_windows(p, window_s=self.detector.window_s), self.batch):
                batch = self._gated(batch)
                for w in batch:
                    repeats.push(w.samples)
                    spec.push(w.samples)
                    heard = heard or not w.silent
                yield batch, self.grade_windows(batch, grader_stride=self.grader_stride), \
                    self.prepare(batch)
            if heard:
                found.extend(repeats.find())

        on_cpu = self.detector.device.type == "cpu"
        with cpu_threads(threads_beside_reader() if on_cpu else None):
            # two batches ahead: each holds its windows' candidates (about 5 MB a
            # window); three were no quicker on the bench side and held 125 MB more
            for batch, grades, prepared in prefetched(read(), depth=2,
                                                      name="vinylmon-file-reader"):
                for a in self.analyse(batch, grades=grades, prepared=prepared):
                    session.add(a)
                if progress is not None:
                    progress(min(total, batch[-1].end_s), total)
        session.set_repeats(found)
        state = session.state()
        windows = tuple(session.windows)
        # the decoder can end before the header's length (a truncated MP3, say)
        decoded = windows[-1].end_s if windows else 0.0
        return FileResult(p, state, windows, spec.result(), info.sample_rate,
                          min(info.channels, 2), decoded, time.perf_counter() - t0,
                          declared_s=info.declared_s)


def _batched(items: Iterable, n: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


class LiveAnalyser:
    """Analyse live windows on a worker thread, never falling behind.

    A reader thread takes windows from ``windows`` (e.g. capture + windowing) into
    a queue of at most ``max_pending``; when the queue is full the oldest window
    is dropped and counted (so are the windows still waiting when it is stopped:
    every window read is analysed or counted). The worker analyses one window at a
    time, updates the session and calls ``on_window(analysed, state)``. A gap
    between windows (dropped ones, audio lost by the input) restarts the
    groove-repeat search, which needs contiguous audio. Errors from either thread
    end the run and go to ``on_error`` (e.g. a device that was unplugged); the
    windows read before a source error are still analysed.

    Parameters
    ----------
    engine : Engine
    windows : iterable of Window
        Blocking source; ends when the input ends or is stopped.
    on_window : callable(AnalysedWindow, SessionState), keyword-only
    on_error : callable(Exception), keyword-only
    on_finished : callable(), keyword-only
        Called once from the worker when it ends (source done, stopped or failed).
    rpm : float or None, keyword-only
    max_pending : int, keyword-only
    session : Session, keyword-only
        Go on with this session (e.g. after the input came back); default: a new one.
    """

    def __init__(self, engine: Engine, windows: Iterable[Window], *,
                 on_window: Callable[[AnalysedWindow, SessionState], None],
                 on_error: Callable[[Exception], None] | None = None,
                 on_finished: Callable[[], None] | None = None,
                 rpm: float | None = None, max_pending: int = 2,
                 session: Session | None = None) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.engine = engine
        self.session = session if session is not None else engine.new_session(rpm=rpm)
        self._on_finished = on_finished
        self._windows = windows
        self._on_window = on_window
        self._on_error = on_error
        self._queue: collections.deque[Window] = collections.deque()
        self._max = max_pending
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._source_done = False
        # this run's groove-repeat buffer starts at its first window (a resumed
        # session keeps the repeats found before)
        self._repeats: RepeatBuffer | None = None
        self._repeats_origin_s = 0.0
        self._repeats_end_s = 0.0
        self._earlier_repeats: list = []
        self.error: Exception | None = None
        self._threads = [threading.Thread(target=self._read, name="vinylmon-reader", daemon=True),
                         threading.Thread(target=self._work, name="vinylmon-worker", daemon=True)]

    @property
    def dropped_windows(self) -> int:
        return self.session.dropped_windows

    def start(self) -> LiveAnalyser:
        self.engine.gate.reset()
        for t in self._threads:
            t.start()
        return self

    @property
    def pending(self) -> int:
        """Windows waiting for the engine now (at most ``max_pending``)."""
        return len(self._queue)

    @property
    def running(self) -> bool:
        """Whether its reader or its worker is still at work."""
        return any(t.is_alive() for t in self._threads)

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Stop after the window being analysed; pending windows are discarded (and
        counted as dropped: every window read is analysed or counted)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout_s)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait until the source has ended and every queued window is analysed."""
        for t in self._threads:
            t.join(timeout_s)

    def _report(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    def _fail(self, exc: Exception) -> None:
        self._report(exc)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def _read(self) -> None:
        try:
            for w in self._windows:
                with self._cond:
                    if self._stop.is_set():  # read, never to be analysed
                        self.session.dropped_windows += 1
                        break
                    if len(self._queue) >= self._max:
                        self._queue.popleft()
                        self.session.dropped_windows += 1
                    self._queue.append(w)
                    self._cond.notify()
        except Exception as exc:  # device lost, corrupt input: reported, not raised;
            self._report(exc)  # the windows already read are still analysed
        finally:
            with self._cond:
                self._source_done = True
                self._cond.notify_all()

    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._source_done and not self._stop.is_set():
                        self._cond.wait(0.5)
                    if self._stop.is_set() or (not self._queue and self._source_done):
                        return
                    w = self._queue.popleft()
                # The repeat buffer holds contiguous audio: after a gap (dropped
                # windows, audio lost by the input) it starts afresh at this window,
                # so that the repeats it finds stay at their times.
                if self._repeats is None or abs(w.start_s - self._repeats_end_s) > \
                        0.5 / w.sample_rate:
                    self._repeats = RepeatBuffer(w.sample_rate)
                    self._repeats_origin_s = w.start_s
                    self._earlier_repeats = list(self.session.repeats)
                self._repeats.push(w.samples)
                self._repeats_end_s = w.end_s
                (a,) = self.engine.analyse([w])
                self.session.add(a)
                if not a.silent:
                    t0 = self._repeats_origin_s
                    found = [dataclasses.replace(r, start_s=r.start_s + t0, end_s=r.end_s + t0)
                             for r in self._repeats.find(recent_s=w.duration_s)]
                    self.session.set_repeats(self._earlier_repeats + found)
                self._on_window(a, self.session.state())
        except Exception as exc:
            self._fail(exc)
        finally:
            reader = self._threads[0]
            if self.error is None and reader.is_alive() and \
                    reader is not threading.current_thread():
                reader.join(2.0)  # stopped: it puts nothing more in the queue
            with self._cond:  # stopped or failed: what was waiting is never analysed
                self.session.dropped_windows += len(self._queue)
                self._queue.clear()
            if self._on_finished is not None:
                self._on_finished()


__all__ = ["DEFAULT_WINDOW_S", "Engine", "FileResult", "LiveAnalyser"]

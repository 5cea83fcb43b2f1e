"""The desktop monitor's entry point: builds the engine, the monitor and the window.

This module is where the layers meet: it imports the engine (torch) and the
capture module (sounddevice) and hands them to the GUI as an :class:`AppBackend`,
so that ``vinylmon.gui`` itself imports neither.

``vinylmon`` (or ``vinylmon monitor``) starts listening on the default input at
once; with no input device, or with ``--demo``, it plays the bundled demo
recording through the same pipeline at real-time pace.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from vinylmon.errors import AudioFileError, DeviceError, VinylmonError

log = logging.getLogger(__name__)

DEMO_PATH = Path(__file__).parents[1] / "data" / "demo.ogg"


class AppBackend:
    """What the window needs from the layers below it.

    Parameters
    ----------
    engine : vinylmon.engine.engine.Engine, optional, keyword-only
        Default: the shipped models on ``device``.
    device : str, keyword-only
        ``auto``, ``cpu`` or ``cuda``.
    demo_path : path-like, keyword-only
    journal_dir : path-like, optional, keyword-only
        Where session journals are kept (default: the user state folder; see
        :mod:`vinylmon.live.journal`).
    profiles_root : path-like, optional, keyword-only
        Where microphone profiles live (default: the user data folder; see
        :mod:`vinylmon.store.profiles`).
    """

    def __init__(self, *, engine=None, device: str = "auto", demo_path=DEMO_PATH,
                 journal_dir=None, profiles_root=None) -> None:
        from vinylmon.audio.scope import Scope
        from vinylmon.audio.types import ANALYSIS_RATE
        from vinylmon.engine.engine import Engine
        from vinylmon.live.monitor import Monitor

        self.engine = engine or Engine(device=device)
        self.device = device
        self.profiles_root = profiles_root
        #: The engine with the base models (profiles are made from these).
        self.base_engine = self.engine
        #: The profile whose models the engine runs (None: the base models).
        self.active_profile: str | None = None
        self.monitor = Monitor(self.engine, journal_dir=journal_dir)
        self.demo_path = Path(demo_path)
        probe = Scope(ANALYSIS_RATE, 2)
        self.scope_freqs_hz = probe.freqs_hz
        self.scope_hop_s = probe.column_hop_s

    @property
    def cuda_available(self) -> bool:
        import torch

        return bool(torch.cuda.is_available())

    def input_names(self) -> list[str]:
        """Names of the inputs that can record, the system's default first (empty when
        PortAudio finds none)."""
        from vinylmon.audio.capture import list_input_devices, rescan_devices

        try:
            rescan_devices()
            devices = sorted(list_input_devices(), key=lambda d: not d.is_default)
            return [d.name for d in devices]
        except DeviceError as exc:
            log.info("no inputs listed: %s", exc)
            return []

    def output_names(self) -> list[str]:
        """Names of the outputs that can play, the system's default first (empty when
        PortAudio finds none)."""
        from vinylmon.audio.capture import list_output_devices

        try:
            devices = sorted(list_output_devices(), key=lambda d: not d.is_default)
            return [d.name for d in devices]
        except DeviceError as exc:
            log.info("no outputs listed: %s", exc)
            return []

    def live_source(self, name: str | None, *, sample_rate: int | None = None):
        from vinylmon.live.monitor import LiveSource

        return LiveSource(name, sample_rate=sample_rate)

    def file_source(self, path, *, speed: float | None = 1.0, name: str | None = None):
        from vinylmon.live.monitor import FileSource

        return FileSource(path, speed=speed, name=name)

    # ---- microphone profiles (Qt-free; the GUI runs the slow ones on a worker thread) ----

    def profiles(self) -> list[str]:
        """``base`` and the names of the enabled, usable profiles."""
        from vinylmon.store.profiles import list_profiles

        return ["base", *(p.name for p in list_profiles(self.profiles_root)
                          if p.enabled and p.problem is None)]

    def profile_infos(self) -> list:
        """Every profile with its device, state and metrics (ProfileInfo), broken ones too."""
        from vinylmon.store.profiles import list_profiles

        return list_profiles(self.profiles_root)

    def profile_for_device(self, device_name: str | None) -> str | None:
        """The name of the enabled profile made for this input device, if any."""
        from vinylmon.store.profiles import profile_for_device

        info = profile_for_device(device_name, root=self.profiles_root)
        return info.name if info is not None else None

    def use_profile(self, name: str | None) -> str | None:
        """Run the models of profile ``name`` (None or ``base``: the base models).

        Builds a new engine and hands it to the monitor; not while it is listening.

        Returns
        -------
        str or None
            A warning when the profile could not be used (missing, broken or
            tampered): the base models run instead.
        """
        from vinylmon.engine.engine import Engine
        from vinylmon.store.profiles import RESERVED, load_profile_models

        if self.monitor.running:
            raise VinylmonError("stop listening before switching the model profile")
        if name is None or str(name).strip().lower() in RESERVED:
            engine, active, warning = self.base_engine, None, None
        else:
            detector, grader, warning = load_profile_models(name, device=self.device,
                                                            root=self.profiles_root)
            if warning is not None:
                engine, active = self.base_engine, None
            else:
                engine = Engine(detector=detector,
                                grader=grader if grader is not None else False,
                                gate=self.engine.gate, batch=self.engine.batch,
                                grader_stride=self.engine.grader_stride)
                active = str(name).strip()
        self.engine = engine
        self.monitor.engine = engine
        self.active_profile = active
        return warning

    def use_profile_for_device(self, device_name: str | None) -> tuple[str | None, str | None]:
        """Select the profile of an input device (the base models when it has none):
        ``(profile name or None, warning or None)``."""
        name = self.profile_for_device(device_name)
        warning = self.use_profile(name)
        return self.active_profile, warning

    def rename_profile(self, old: str, new: str):
        from vinylmon.store.profiles import rename_profile

        info = rename_profile(old, new, root=self.profiles_root)
        if self.active_profile == old:
            self.active_profile = info.name
        return info

    def remove_profile(self, name: str) -> None:
        from vinylmon.store.profiles import remove_profile

        remove_profile(name, root=self.profiles_root)
        if self.active_profile == name and not self.monitor.running:
            self.use_profile(None)

    def set_profile_enabled(self, name: str, enabled: bool):
        from vinylmon.store.profiles import set_enabled

        return set_enabled(name, enabled, root=self.profiles_root)

    def take_from_file(self, path) -> np.ndarray:
        """A calibration take from a recording: ``(2, frames)`` float32 at 44.1 kHz
        (1-5 minutes; a longer one is cut to 5 minutes)."""
        from vinylmon.training.finetune.inputs import read_take

        take, note = read_take(path)
        if note:
            log.info(note)
        return take

    def record_take(self, device_name: str | None, *, seconds: float = 120.0,
                    progress=None, cancel=None) -> np.ndarray:
        """Record a calibration take from an input device.

        Parameters
        ----------
        device_name : str or None
            The input (None: the default input).
        seconds : float, keyword-only
        progress : callable(float, str), keyword-only
            Fraction recorded and a message.
        cancel : threading.Event, keyword-only
            Set to stop: raises :class:`~vinylmon.errors.Cancelled`.

        Returns
        -------
        np.ndarray, shape (2, frames), float32 at 44.1 kHz
        """
        import time

        from vinylmon.audio.capture import LiveCapture
        from vinylmon.audio.types import ANALYSIS_RATE, to_stereo
        from vinylmon.errors import Cancelled

        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        want = int(round(seconds * ANALYSIS_RATE))
        parts, have = [], 0
        capture = LiveCapture(device_name)
        deadline = time.monotonic() + seconds * 2 + 10  # a stalled input does not hang us
        with capture:
            for out in capture.analysis_blocks():
                if have >= want:
                    break
                if cancel is not None and cancel.is_set():
                    raise Cancelled("recording cancelled")
                if time.monotonic() > deadline:
                    raise DeviceError(f"{capture.device.name}: the input delivered "
                                      f"{have / ANALYSIS_RATE:.1f} s in {seconds * 2 + 10:.0f} s")
                if out is not None:
                    parts.append(np.asarray(out.samples))
                    have += out.frames
                    if progress is not None:
                        progress(min(1.0, have / want),
                                 f"recording {have / ANALYSIS_RATE:.0f} of {seconds:.0f} s")
        x = np.concatenate(parts, axis=1)[:, :want].astype(np.float32)
        return np.ascontiguousarray(to_stereo(x))

    def run_finetune(self, take: np.ndarray, *, grade: str = "NM", name: str,
                     device_name: str | None, progress=None, cancel=None, config=None):
        """Fine-tune the base models on a take and save the result as a profile.

        Returns
        -------
        (ProfileInfo, FinetuneResult)
        """
        from vinylmon.store.profiles import check_name, save_profile
        from vinylmon.training.finetune.inputs import check_grade
        from vinylmon.training.finetune.run import finetune

        check_name(name)  # before minutes of work, not after
        check_grade(grade)
        result = finetune(take, grade=grade, detector=self.base_engine.detector,
                          grader=self.base_engine.grader, config=config, progress=progress,
                          cancel=cancel)
        info = save_profile(name, result, device_name=device_name, root=self.profiles_root)
        return info, result

    def open_session(self, folder):
        from vinylmon.live.monitor import load_session

        return load_session(folder)

    # ---- sessions left behind by a killed vinylmon (the journal) ----

    def unfinished_session(self):
        """The newest session a killed (or closed, unsaved) vinylmon left behind, as a
        :class:`~vinylmon.live.journal.JournalInfo` (input_name, duration_s, events,
        modified, ...), or None. Journals with nothing to restore are removed first."""
        from vinylmon.live.journal import prune_sessions, unfinished_sessions

        root = self.monitor.journal_root
        try:
            prune_sessions(root)
            found = unfinished_sessions(root)
        except OSError as exc:
            log.warning("cannot look for unfinished sessions in %s: %s", root, exc)
            return None
        return found[0] if found else None

    def restore_session(self, folder):
        """Have the monitor take up that session (``RestoredSession``); raises
        :class:`~vinylmon.live.journal.JournalError` when it cannot."""
        return self.monitor.restore(folder)

    def discard_session(self, folder) -> None:
        """Mark that session finished (its journal is removed): not offered again."""
        from vinylmon.live.journal import discard_session

        discard_session(folder)

    def read_excerpt(self, path, start_s: float, end_s: float) -> tuple[np.ndarray, int]:
        """``(channels, frames)`` float32 of a saved session's audio, and its rate."""
        import soundfile as sf

        try:
            with sf.SoundFile(str(path)) as f:
                sr = f.samplerate
                f.seek(min(f.frames, int(start_s * sr)))
                x = f.read(max(0, int((end_s - start_s) * sr)), dtype="float32",
                           always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(path, f"cannot be read ({exc})") from exc
        return x.T, int(sr)


def add_parser(sub) -> None:
    m = sub.add_parser("monitor", help="the desktop monitor (the default command)",
                       description="The desktop monitor: listens to an input (or plays a "
                       "recording) and shows its damage and grade as they are heard.")
    m.add_argument("--demo", action="store_true",
                   help="play the bundled demo recording instead of listening to an input")
    m.add_argument("--device", help="input device: (part of) its name")
    m.add_argument("--file", help="play this recording through the monitor at real-time pace")
    m.add_argument("--compute", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the models run")
    m.add_argument("--no-start", action="store_true", help="open the window without listening")
    m.set_defaults(func=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> int:
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                 os.environ.get("WAYLAND_DISPLAY") or
                                                 os.environ.get("QT_QPA_PLATFORM")):
        raise VinylmonError("no display to open the monitor's window on (DISPLAY is not "
                            "set): use 'vinylmon listen' for the console monitor, or "
                            "'vinylmon grade FILE' to grade a recording")
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("vinylmon")
    app.setOrganizationName("vinylmon")
    try:
        backend = AppBackend(device=args.compute)
    except VinylmonError as exc:  # e.g. damaged shipped weights: one line, one dialog
        log.error("cannot start: %s", exc, exc_info=exc)
        print(f"vinylmon: cannot start: {exc}", file=sys.stderr, flush=True)
        QMessageBox.critical(None, "vinylmon cannot start", str(exc))
        return 2
    from vinylmon.gui.main_window import MainWindow

    window = MainWindow(backend)
    window.show()
    if window.pending_restore is not None:
        # the window asks whether to restore the session a killed vinylmon left; what the
        # command line asked for goes on once that is answered, whichever the answer
        window.statusBar().showMessage("A session was left unfinished: restore or discard "
                                       "it first.", 15000)
    window.after_restore_prompt(lambda: start_requested(window, backend, args))
    return int(app.exec())


def start_requested(window, backend, args: argparse.Namespace) -> None:
    """Start what the command line asked for: ``--file``, ``--demo``, ``--device``, the
    first input (the demo when there is none), or nothing with ``--no-start``."""
    from vinylmon.gui.main_window import DEMO_INPUT

    if args.file:
        try:
            source = backend.file_source(args.file, speed=1.0)
        except VinylmonError as exc:
            window.show_error("Cannot play this recording", exc)
            return
        window.start_source(source)
    elif not args.no_start:
        names = backend.input_names()
        if args.demo or not names:
            if not names and not args.demo:
                window.statusBar().showMessage("No input device found: playing the demo "
                                               "recording.", 10000)
            window.input_combo.setCurrentText(DEMO_INPUT)
            window.start(input_name=DEMO_INPUT)
        else:
            if args.device:
                window.input_combo.setCurrentText(args.device)
            window.start(input_name=args.device or None)

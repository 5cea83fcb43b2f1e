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

DEMO_PATH = Path(__file__).parent / "data" / "demo.ogg"


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
    """

    def __init__(self, *, engine=None, device: str = "auto", demo_path=DEMO_PATH,
                 journal_dir=None) -> None:
        from vinylmon.audio.scope import Scope
        from vinylmon.audio.types import ANALYSIS_RATE
        from vinylmon.engine.engine import Engine
        from vinylmon.engine.monitor import Monitor

        self.engine = engine or Engine(device=device)
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

    def live_source(self, name: str | None, *, sample_rate: int | None = None):
        from vinylmon.engine.monitor import LiveSource

        return LiveSource(name, sample_rate=sample_rate)

    def file_source(self, path, *, speed: float | None = 1.0, name: str | None = None):
        from vinylmon.engine.monitor import FileSource

        return FileSource(path, speed=speed, name=name)

    def profiles(self) -> list[str]:
        return ["base"]

    def open_session(self, folder):
        from vinylmon.engine.monitor import load_session

        return load_session(folder)

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
    m = sub.add_parser("monitor", help="the desktop monitor (the default command)")
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
    except VinylmonError as exc:
        log.error("cannot start: %s", exc, exc_info=exc)
        QMessageBox.critical(None, "vinylmon cannot start", str(exc))
        return 2
    from vinylmon.gui.main_window import DEMO_INPUT, MainWindow

    window = MainWindow(backend)
    window.show()
    if args.file:
        try:
            window.start_source(backend.file_source(args.file, speed=1.0))
        except VinylmonError as exc:
            window.show_error("Cannot play this recording", exc)
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
    return int(app.exec())

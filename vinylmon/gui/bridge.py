"""The thin adapter between the engine's monitor and Qt: callbacks in, signals out.

The monitor (``vinylmon.live.monitor.Monitor``) calls back on its worker
threads; :class:`MonitorBridge` turns each callback into a Qt signal, which Qt
delivers on the GUI thread (queued connection). The GUI never calls the models
itself and never imports torch or sounddevice: the monitor object is handed to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class MonitorBridge(QObject):
    """Signals for what the monitor does, emitted from any thread.

    Signals
    -------
    windowAnalysed(AnalysedWindow, SessionState)
    failed(Exception)
        The run stopped because of this error (e.g. the device was unplugged).
    finished()
        The run ended (source done, stopped or failed).
    taskDone(str, object)
        A background task (:meth:`run_task`) finished: its name and result.
    taskFailed(str, Exception)
    """

    windowAnalysed = Signal(object, object)
    failed = Signal(object)
    finished = Signal()
    taskDone = Signal(str, object)
    taskFailed = Signal(str, object)

    def __init__(self, monitor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        monitor.on_window = self.windowAnalysed.emit
        monitor.on_error = self.failed.emit
        monitor.on_finished = self.finished.emit

    def run_task(self, name: str, func: Callable[[], object]) -> threading.Thread:
        """Run ``func`` on a worker thread (saving, exporting); report by signal."""
        def work() -> None:
            try:
                result = func()
            except Exception as exc:  # reported to the user by the window
                log.info("task %s failed", name, exc_info=exc)
                self.taskFailed.emit(name, exc)
            else:
                self.taskDone.emit(name, result)

        t = threading.Thread(target=work, name=f"vinylmon-{name}", daemon=True)
        t.start()
        return t

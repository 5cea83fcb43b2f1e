"""GUI test fixtures."""

import pytest
from PySide6.QtCore import QSettings

from vinylmon.cli.monitor import AppBackend
from vinylmon.gui.main_window import MainWindow


@pytest.fixture
def make_window(qtbot, cpu_engine, tmp_path):
    """``make_window(journal_dir=None, **kw)``: a :class:`MainWindow` on the shipped CPU
    models, with its settings in ``tmp_path`` (shared by the windows of a test, as by
    restarts) and session journals in ``journal_dir`` (default: a new folder for each
    window). ``kw`` goes to the window. Their monitors are stopped after the test."""
    windows = []

    def make(*, journal_dir=None, **kw):
        qs = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        journal_dir = journal_dir or tmp_path / f"journal{len(windows)}"
        w = MainWindow(AppBackend(engine=cpu_engine, journal_dir=journal_dir), qsettings=qs,
                       **kw)
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.monitor.stop()

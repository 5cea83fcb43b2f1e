"""The window while the models are slower than real time (offscreen, a throttled detector).

A recording plays 20x faster than real time through the live pipeline while each
window's inference also sleeps two window lengths (at that speed): the engine cannot
keep up. Windows are dropped and counted in the status bar, every window is accounted
for, and the GUI thread never waits for the models: the repaint timer keeps ticking and
an event posted to it runs at once, also while the model is busy.
"""

import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings, QTimer

from vinylmon.audio.types import ANALYSIS_RATE
from vinylmon.cli.monitor import AppBackend
from vinylmon.gui.main_window import MainWindow
from vinylmon.gui.settings import Settings

SR = ANALYSIS_RATE
WINDOW_S = 1.0
SPEED = 20.0
WINDOWS = 30


@pytest.fixture(scope="module")
def side(tmp_path_factory):
    """30 s: 24 s of noisy tones, then 6 s of digital silence."""
    rng = np.random.default_rng(9)
    n = 24 * SR
    t = np.arange(n) / SR
    x = 0.1 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(n)
    audio = np.concatenate([np.stack([x, 0.8 * x]), np.zeros((2, 6 * SR))], axis=1)
    path = tmp_path_factory.mktemp("throttled") / "side.flac"
    sf.write(path, audio.T, SR)
    return path


def test_slow_models_drop_windows_counted_and_the_window_stays_responsive(qtbot,
                                                                          throttled_engine,
                                                                          side, tmp_path):
    engine, det = throttled_engine(2 * WINDOW_S / SPEED)
    backend = AppBackend(engine=engine, journal_dir=tmp_path / "journal",
                         profiles_root=tmp_path / "profiles")
    qs = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(backend, qsettings=qs,
                   settings=Settings(window_s=WINDOW_S, hop_s=WINDOW_S))
    qtbot.addWidget(w)
    finished = []
    w.bridge.finished.connect(lambda: finished.append(time.monotonic()))
    w.reset_frame_stats()
    assert w.start_source(backend.file_source(side, speed=SPEED))

    # while it runs: post an event to the GUI thread every 20 ms; note how late it runs
    # and whether the model was busy when it was posted
    latencies = []  # (seconds late, model busy)

    def post():
        t0, busy = time.monotonic(), det.busy.is_set()
        QTimer.singleShot(0, lambda: latencies.append((time.monotonic() - t0, busy)))

    poster = QTimer(w)
    poster.setInterval(20)
    poster.timeout.connect(post)
    poster.start()
    pending = []
    sampler = QTimer(w)  # the queue, seen from the GUI thread
    sampler.setInterval(5)
    sampler.timeout.connect(lambda: pending.append(w.monitor._analyser.pending))
    sampler.start()
    qtbot.waitUntil(lambda: bool(finished), timeout=60_000)
    poster.stop()
    sampler.stop()
    stats = w.frame_stats()
    w.monitor.join(5)

    session = w.monitor.session
    dropped = session.dropped_windows
    analysed = [a for a in w.monitor.windows if not a.silent]
    silent = [a for a in w.monitor.windows if a.silent]
    busy_lat = [dt for dt, busy in latencies if busy]
    print(f"\n[throttled GUI] {len(analysed)} analysed, {len(silent)} silent, {dropped} dropped"
          f"; {stats['ticks_per_s']:.1f} ticks/s, longest gap {stats['max_tick_gap_s']:.3f} s"
          f"; posted events: {len(latencies)} ({len(busy_lat)} while the model was busy), "
          f"latest {max(dt for dt, _ in latencies):.3f} s; pending max {max(pending)}")
    # windows dropped, counted, shown
    assert dropped > 0
    assert len(analysed) + len(silent) + dropped == WINDOWS
    assert det.calls == len(analysed) and len(silent) >= 1
    assert max(pending) <= w.monitor.max_pending
    qtbot.waitUntil(lambda: w.status_dropped.text() == f"Dropped windows: {dropped}",
                    timeout=3_000)
    # the GUI thread kept going: repaints at (nearly) their pace, events at once
    assert stats["ticks_per_s"] > 15 and stats["max_tick_gap_s"] < 0.5
    assert len(busy_lat) >= 20, "the model was hardly ever busy: not a test of that"
    assert max(dt for dt, _ in latencies) < 0.5
    assert sorted(busy_lat)[len(busy_lat) // 2] < 0.1
    assert w.error_messages == []

"""End to end: a damaged file played into a PulseAudio null sink shows on the running app's
timeline, each click within 50 ms of where it is in the file.

The app records the sink's monitor through PortAudio's ALSA ``pulse`` device
(real capture, real engine on its worker thread, real window offscreen). Where
the file starts inside the capture is found by cross-correlating the session's
recording with the file; the click times are then compared on that clock.
"""

import numpy as np
import pytest
import soundfile as sf
from pulse_rig import lag as lag_of

from vinylmon.cli.monitor import AppBackend
from vinylmon.engine.engine import Engine
from vinylmon.gui.main_window import MainWindow
from vinylmon.simulate import ClickSpec, DamageSpec, simulate, synthetic_music

pytestmark = pytest.mark.pulse
SR = 44100
SECONDS = 9.0


def test_played_clicks_land_on_the_timeline(qtbot, pulse, tmp_path):
    x = synthetic_music(np.random.default_rng(21), SECONDS)
    d = simulate(x, DamageSpec(seed=8, clicks=ClickSpec(rate_per_min=50.0, peak_db=(4.0, 8.0))))
    audio = d.audio.copy()
    fade = np.linspace(0.0, 1.0, int(0.05 * SR))  # no step at either end: a step is a click
    audio[:, :len(fade)] *= fade
    audio[:, -len(fade):] *= fade[::-1]
    path = tmp_path / "damaged.wav"
    sf.write(path, audio.T, SR, subtype="FLOAT")
    truth_s = np.array(sorted({i.start for i in d.truth.impulses})) / SR
    assert len(truth_s) >= 4

    from PySide6.QtCore import QSettings
    backend = AppBackend(engine=Engine(device="cpu"), journal_dir=tmp_path / "journal")
    w = MainWindow(backend, qsettings=QSettings(str(tmp_path / "s.ini"),
                                                QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    assert w.start(input_name="pulse")
    qtbot.waitUntil(lambda: w.monitor.stats().elapsed_s > 0.5, timeout=15_000)
    player = pulse.play(path)
    player.wait(timeout=SECONDS + 15)
    played_until_s = w.monitor.recording.duration_s
    # every click must sit in a whole analysed window: wait for the one after the file
    qtbot.waitUntil(lambda: bool(w.monitor.windows)
                    and w.monitor.windows[-1].end_s >= played_until_s, timeout=30_000)
    w.stop()
    qtbot.waitUntil(lambda: not w.monitor.running, timeout=10_000)
    rec = w.monitor.excerpt(0.0, w.monitor.recording.duration_s)
    lag = lag_of(rec, audio) / SR
    shown = np.array(w.timeline.event_times())
    assert len(shown) == len(w.monitor.state.events)
    near = [np.min(np.abs(shown - (t + lag))) if len(shown) else np.inf for t in truth_s]
    hits = sum(n <= 0.05 for n in near)
    assert hits >= 0.75 * len(truth_s), (lag, truth_s, shown)
    # and nothing far from a click: events only where the file has one (or before it
    # started / after it ended: silence and the sink's noise floor)
    inside = shown[(shown > lag) & (shown < lag + SECONDS)]
    stray = [s for s in inside if np.min(np.abs(truth_s + lag - s)) > 0.05]
    assert len(stray) <= 2, stray


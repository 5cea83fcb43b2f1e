"""The window's sound through a real PulseAudio daemon: a second null sink (``outsink``)
is the output (PULSE_SINK), ``parec`` records its monitor. A file plays as it is
graded; an event's Play button, "Play from here" and the Listen menu act on it."""

import numpy as np
import pytest
import soundfile as sf
from pulse_rig import lag, read_recording
from PySide6.QtCore import QSettings

from vinylmon.cli.monitor import AppBackend
from vinylmon.gui.main_window import MainWindow
from vinylmon.gui.settings import Settings, load_settings
from vinylmon.simulate import ClickSpec, DamageSpec, simulate, synthetic_music

pytestmark = pytest.mark.pulse
SR = 44100


@pytest.fixture
def clicked_wav(tmp_path):
    x = synthetic_music(np.random.default_rng(31), 4.0)
    d = simulate(x, DamageSpec(seed=3, clicks=ClickSpec(rate_per_min=120.0, peak_db=(12.0, 20.0),
                                                        pop_fraction=0.0)))
    audio = d.audio.copy()
    fade = np.linspace(0.0, 1.0, int(0.05 * SR))
    audio[:, :len(fade)] *= fade
    audio[:, -len(fade):] *= fade[::-1]
    path = tmp_path / "clicked.wav"
    sf.write(path, audio.T, SR, subtype="FLOAT")
    return path, audio


def _pieces_found(rec, ref, piece_s: float = 0.1) -> float:
    """The share of ``ref``'s pieces found in ``rec`` sample-correct (within 2.5 steps of
    16-bit audio, the sink's grid), in order: each where the one before it ended, or,
    after a gap in what played, up to 2 s later (the best-correlated place there)."""
    n = int(piece_s * SR)
    at = lag(rec, ref)  # where ``ref`` starts, by the whole of it

    def same(i, piece) -> bool:
        got = rec[:, i:i + n]
        return got.shape == piece.shape and bool(np.max(np.abs(got - piece)) < 2.5 / 32768)

    found = []
    for a in range(0, ref.shape[1] - n + 1, n):
        piece = ref[:, a:a + n]
        ok = same(at + a, piece)
        if not ok:  # a gap moved the rest later: look for it by normalised correlation
            lo = at + a
            win = rec[:, lo:lo + 2 * SR + n].astype(np.float64)
            if win.shape[1] > n:
                xc = sum(np.correlate(win[c], piece[c], "valid") for c in range(2))
                energy = np.convolve((win ** 2).sum(0), np.ones(n), "valid")
                shift = int(np.argmax(xc / np.sqrt(energy + 1e-20)))
                ok = same(lo + shift, piece)
                if ok:
                    at += shift
        found.append(ok)
    return float(np.mean(found))


def _energy(path) -> float:
    y = read_recording(path)
    return float(np.sum(y.astype(np.float64) ** 2))


def test_a_file_plays_as_it_is_graded_and_events_play_on_request(qtbot, pulse, outsink,
                                                                  cpu_engine, clicked_wav,
                                                                  tmp_path):
    path, audio = clicked_wav
    qs = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(AppBackend(engine=cpu_engine, journal_dir=tmp_path / "j"), qsettings=qs,
                   settings=Settings(output_device="pulse"), offer_restore=False)
    qtbot.addWidget(w)
    out = tmp_path / "out.f32"
    rec = pulse.record(outsink, out)
    try:
        qtbot.waitUntil(lambda: "parec" in pulse.pactl("list", "source-outputs").stdout,
                        timeout=10_000)
        # the window opened its output as it started; the stream is running (past its
        # start, where the ALSA plugin loses what it holds) before the file plays
        qtbot.waitUntil(lambda: w.monitor.output is not None
                        and w.monitor.output.frames_played > SR, timeout=15_000)
        assert w.start_source(w.backend.file_source(path, speed=1.0))
        qtbot.waitUntil(lambda: not w._listening, timeout=30_000)
        qtbot.waitUntil(lambda: w.monitor.output.queued_s == 0.0, timeout=10_000)
        # what came back is the file
        def back() -> bool:  # all of the file has come back
            y = read_recording(out)
            return y.shape[1] > audio.shape[1] and y.shape[1] - lag(y, audio) >= audio.shape[1]

        qtbot.waitUntil(back, timeout=15_000)
        # what came back is the file, sample for sample, piece by piece: a busy machine
        # may starve the output for a moment (a gap, counted as an underrun), never alter it
        y = read_recording(out)
        assert _pieces_found(y, audio[:, int(0.2 * SR):int(3.8 * SR)]) >= 0.9
        w._update_status()
        assert w.status_output.text().startswith("Sound: pulse (original)")

        # an event's pop-up plays +-1 s, cleaned
        event = w.monitor.state.events[0]
        dialog = w.show_event(event)
        assert set(dialog.play_buttons) == {"original", "cleaned"}
        before = _energy(out)
        dialog.play_buttons["cleaned"].click()
        assert dialog.play_note.text() == ""
        qtbot.waitUntil(lambda: _energy(out) > before + 1e-3, timeout=10_000)
        dialog.close()

        # the Listen menu switches the stream and is remembered
        w.listen_actions["removed"].trigger()
        assert w.monitor.listen == "removed" and load_settings(qs).listen == "removed"
        # "Play from here" on the timeline plays the clicks alone from there
        qtbot.waitUntil(lambda: not w.monitor.output.cueing, timeout=10_000)
        assert w.timeline.play_from_at(0.5) == 0.5
        qtbot.waitUntil(lambda: not w.monitor.output.cueing, timeout=15_000)
    finally:
        pulse.stop_recording(rec)
        w.monitor.close()


def test_with_no_sound_chosen_play_says_so_and_nothing_opens(qtbot, make_window, clicked_file):
    w = make_window(settings=Settings(output_device="none"))
    assert w.start_source(w.backend.file_source(clicked_file[0], speed=None))
    qtbot.waitUntil(lambda: not w._listening, timeout=30_000)
    assert w.monitor.output is None
    dialog = w.show_event(w.monitor.state.events[0])
    dialog.play_buttons["original"].click()
    assert dialog.play_note.text() == "Cannot play: sound is off (Settings: Play sound through)"
    assert w.play_from(1.0) is not None and w.monitor.output is None
    w._update_status()
    assert w.status_output.text() == "Sound: off"
    dialog.close()

"""The disc map in the window: a side played from its lead-in to its run-out spreads its
length over the recorded area once the file has finished; the record size is kept."""

import numpy as np
import soundfile as sf

from vinylmon.simulate import synthetic_music

SR = 44100


def test_a_whole_side_spreads_the_disc_map_when_it_ends(qtbot, make_window, tmp_path, rng):
    quiet = np.zeros((2, 6 * SR), np.float32)
    path = tmp_path / "side.flac"
    sf.write(path, np.concatenate([quiet, synthetic_music(rng, 12.0), quiet], axis=1).T, SR)
    w = make_window()
    with qtbot.waitSignal(w.bridge.finished, timeout=60_000):
        assert w.start_source(w.backend.file_source(path, speed=None))
    qtbot.waitUntil(lambda: w.discmap._side_s is not None, timeout=5_000)
    w.discmap.refresh()
    assert w.discmap.map.side_s == w.discmap._side_s > 20.0
    assert "spread from the lead-in" in w.discmap.note_label.toolTip()


def test_the_record_size_chosen_on_the_disc_map_is_remembered(make_window):
    from vinylmon.gui.settings import load_settings

    w = make_window()
    assert w.discmap.size_in == 12
    w.discmap.size_combo.setCurrentIndex(w.discmap.size_combo.findData(7))
    assert w.discmap.size_in == 7 and w.settings.disc_size_in == 7
    assert load_settings(w._qsettings).disc_size_in == 7
    assert make_window().discmap.size_in == 7  # the next start

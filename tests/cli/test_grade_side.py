"""A recording heard from its lead-in to its run-out is a whole side: its report says
``side_complete`` and the disc map spreads its length over the recorded area."""

import json

import numpy as np
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.grading.discmap import whole_side
from vinylmon.simulate import synthetic_music

SR = 44100


def test_whole_side_needs_silence_at_both_ends_and_music_between():
    assert whole_side([True, False, False, True])
    assert not whole_side([False, False, True])  # no lead-in
    assert not whole_side([True, False, False])  # no run-out: stopped mid-side
    assert not whole_side([True, True, True])  # nothing but silence
    assert not whole_side([True, True])


def test_a_side_with_lead_in_and_run_out_is_marked_complete(tmp_path, rng):
    music = synthetic_music(rng, 12.0)
    quiet = np.zeros((2, 6 * SR), np.float32)
    side = tmp_path / "side.flac"
    sf.write(side, np.concatenate([quiet, music, quiet], axis=1).T, SR)
    track = tmp_path / "track.flac"
    sf.write(track, music.T, SR)
    out = tmp_path / "out"
    assert main(["grade", str(side), str(track), "--json", str(out), "--html", str(out),
                 "--device", "cpu", "--no-grader", "--quiet"]) == 0
    assert json.loads((out / "side.json").read_text())["side_complete"] is True
    assert "side_complete" not in json.loads((out / "track.json").read_text())
    assert "spread from the lead-in" in (out / "side.html").read_text()
    assert "standard pitch" in (out / "track.html").read_text()

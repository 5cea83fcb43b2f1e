"""train_verifier's --shots: a folder without one-shots stops the run with how to fetch them."""

import sys
from pathlib import Path

import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import train_verifier  # noqa: E402


def test_no_folder_means_no_shots():
    assert train_verifier.one_shots(None) == []


@pytest.mark.parametrize("make", ["missing", "empty", "other files"])
def test_a_folder_without_one_shots_says_how_to_fetch_them(tmp_path, make):
    folder = tmp_path / "shots"
    if make != "missing":
        folder.mkdir()
    if make == "other files":
        (folder / "README.txt").write_text("not audio")
    with pytest.raises(SystemExit, match="get_train_shots.py"):
        train_verifier.one_shots(folder)


def test_the_one_shots_of_every_font_are_found(tmp_path, rng):
    for font in ("A", "B"):
        (tmp_path / font).mkdir()
        sf.write(tmp_path / font / "0000_x.wav", rng.standard_normal(100) * 0.1, 44100)
    got = train_verifier.one_shots(tmp_path)
    assert [Path(p).parent.name for p in got] == ["A", "B"]

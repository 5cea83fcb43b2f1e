"""``vinylmon clean`` on bad input: one clear line naming the file, exit status 2,
and nothing half-written left behind."""

import os

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.simulate import synthetic_music

SR = 44100


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.flac"
    sf.write(path, synthetic_music(np.random.default_rng(1), 4.0).T, SR, subtype="PCM_16")
    return path


def run(capsys, *args):
    code = main(["clean", *map(str, args), "--device", "cpu", "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_missing_file(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nope.flac")
    assert code == 2
    assert "nope.flac" in err and "no such file" in err
    assert len(err.strip().splitlines()) == 1


def test_not_audio(tmp_path, capsys):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n" * 20)
    code, _, err = run(capsys, path)
    assert code == 2 and "notes.wav" in err and "not a readable recording" in err
    assert not (tmp_path / "notes.clean.wav").exists()


def test_output_in_a_missing_folder(good, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "out.flac"
    code, _, err = run(capsys, good, "-o", out)
    assert code == 2 and "no folder" in err and not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(good, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = run(capsys, good, "-o", folder / "out.flac")
    finally:
        folder.chmod(0o755)
    assert code == 2 and "not writable" in err


def test_output_that_cannot_be_opened_leaves_nothing(good, tmp_path, capsys):
    out = tmp_path / "out.flac"
    (tmp_path / "out.flac.part").mkdir()  # the temporary file's name is taken by a folder
    code, _, err = run(capsys, good, "-o", out)
    assert code == 2 and "cannot write the repaired audio" in err
    assert not out.exists()


def test_output_is_the_input(good, tmp_path, capsys):
    code, _, err = run(capsys, good, "-o", good)
    assert code == 2 and "is the input" in err


def test_output_named_as_another_format(good, tmp_path, capsys):
    code, _, err = run(capsys, good, "-o", tmp_path / "out.wav")
    assert code == 2 and "keeps the input's format (FLAC)" in err


def test_output_is_a_folder_for_removed(good, tmp_path, capsys):
    code, _, err = run(capsys, good, "-o", tmp_path / "o.flac", "--removed", tmp_path)
    # a folder given for --removed takes NAME.removed.EXT in it
    assert code == 0, err
    assert (tmp_path / "good.removed.flac").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "5000"])
def test_bad_max_span(good, capsys, value):
    code, _, err = run(capsys, good, "--max-span-ms", value)
    assert code == 2 and "--max-span-ms" in err


def test_bad_rpm(good, capsys):
    with pytest.raises(SystemExit) as e:
        main(["clean", str(good), "--rpm", "16"])
    assert e.value.code == 2
    assert "16 2/3" in capsys.readouterr().err


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "only.clean.flac").write_bytes(b"")
    code, _, err = run(capsys, tmp_path)
    assert code == 2 and "no audio files" in err

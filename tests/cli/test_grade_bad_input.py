"""``vinylmon grade`` and ``vinylmon listen`` on bad arguments: one clear line on
stderr, exit status 2, no usage dump and no traceback."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.simulate import synthetic_music

SR = 44100
CHEAP = ["--no-grader", "--quiet", "--device", "cpu"]


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.flac"
    sf.write(path, synthetic_music(np.random.default_rng(1), 6.0).T, SR)
    return path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "usage:" not in err
    return lines[0]


@pytest.mark.parametrize("text", ["50", "34", "33.5", "44", "0", "7", "250", "fast",
                                  "1/0", "33 1/2"])
def test_a_speed_that_is_no_record_speed(song, text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["grade", str(song), "--rpm", text, *CHEAP])
    assert exc.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("vinylmon grade: argument --rpm: ")
    assert "accepted speeds: 33 1/3" in line and "45, 78" in line


@pytest.mark.parametrize("text", ["16 2/3", "16⅔", "16.67", "16.6", "50/3"])
def test_16_rpm_is_refused_with_its_reason(song, text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["grade", str(song), "--rpm", text, *CHEAP])
    assert exc.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert "16 2/3 rpm records cannot be graded yet" in line
    assert "accepted speeds: 33 1/3" in line


def test_a_bad_speed_in_a_subprocess_is_one_line(song):
    r = subprocess.run([sys.executable, "-m", "vinylmon", "grade", str(song), "--rpm", "50"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert "50 rpm is not a record speed" in one_line(r.stderr)


def test_json_and_csv_cannot_both_print(song, capsys):
    assert main(["grade", str(song), "--json", "-", "--csv", "-", *CHEAP]) == 2
    captured = capsys.readouterr()
    assert "--json - and --csv - would both print" in one_line(captured.err)
    assert captured.out == ""


def test_csv_to_stdout_takes_one_file(song, tmp_path, capsys):
    other = tmp_path / "other.flac"
    sf.write(other, synthetic_music(np.random.default_rng(2), 6.0).T, SR)
    assert main(["grade", str(song), str(other), "--csv", "-", *CHEAP]) == 2
    captured = capsys.readouterr()
    assert "--csv - prints one report" in one_line(captured.err)
    assert captured.out == ""


def test_a_record_name_that_is_not_utf8_is_kept_printable(song, capsys):
    import json

    artist = b"Caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 byte on argv
    assert main(["grade", str(song), "--json", "-", "--artist", artist, *CHEAP]) == 0
    assert json.loads(capsys.readouterr().out)["record"] == {"artist": "Caf\\xe9"}


@pytest.mark.parametrize(("args", "fragment"), [
    (["--rpm", "50"], "50 rpm is not a record speed"),
    (["--duration-s", "0"], "--duration-s must be more than 0 s"),
    (["--window-s", "3"], "the models analyse 5-s windows"),
])
def test_listen_bad_arguments(song, args, fragment, capsys):
    try:
        code = main(["listen", "--file", str(song), "--compute", "cpu", "--no-grader", *args])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert fragment in one_line(capsys.readouterr().err)

"""``vinylmon finetune``: a profile from a take file; one clear line for bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.training.finetune.data import synthetic_take

SR = 44100


def run(*args, data_home):
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "XDG_STATE_HOME": str(data_home)}
    return subprocess.run([sys.executable, "-m", "vinylmon", "finetune", *args],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def take_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("take") / "take.flac"
    sf.write(path, synthetic_take(61.0, seed=5).T, SR, subtype="PCM_24")
    return path


def test_finetune_saves_a_profile(take_file, tmp_path):
    r = run("--take", str(take_file), "--grade", "nm", "--name", "desk mic",
            "--device-name", "USB Audio Device", "--compute", "cpu", "--steps", "3",
            "--replay-windows", "4", "--val-windows", "4", "--no-grader", data_home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "event_f1" in r.stdout and "class_accuracy" in r.stdout
    assert "saved profile 'desk mic' for input 'USB Audio Device'" in r.stdout
    assert "ETA" in r.stderr and "100%" in r.stderr
    folder = tmp_path / "vinylmon" / "profiles" / "desk mic"
    assert (folder / "detector" / "model.pt").is_file()
    assert not (folder / "grader").exists()


@pytest.mark.parametrize("args, message", [
    (["--take", "{missing}", "--name", "x"], "no such file"),
    (["--take", "{corrupt}", "--name", "x"], "corrupt"),
    (["--take", "{short}", "--name", "x"], "needs at least 60 s"),
    (["--take", "{nan}", "--name", "x"], "NaN"),
    (["--take", "{short}", "--name", "x", "--grade", "Mint-"], "unknown grade"),
    (["--take", "{short}", "--name", "../escape"], "profile name"),
    (["--take", "{short}", "--name", "base"], "reserved"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message, monkeypatch, capsys):
    files = {"missing": tmp_path / "nope.wav", "corrupt": tmp_path / "bad.flac",
             "short": tmp_path / "short.wav", "nan": tmp_path / "nan.wav"}
    files["corrupt"].write_bytes(b"fLaC" + bytes(range(256)) * 4)
    sf.write(files["short"], np.zeros((SR * 10, 2), np.float32) + 0.1, SR)
    x = np.full((SR * 70, 2), 0.1, np.float32)
    x[SR] = np.nan
    sf.write(files["nan"], x, SR, subtype="FLOAT")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code = main(["finetune", *[a.format(**files) for a in args]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("vinylmon: ")
    assert not (tmp_path / "vinylmon" / "profiles").exists()


def test_missing_take_in_a_real_process(tmp_path):
    r = run("--take", str(tmp_path / "nope.flac"), "--name", "x", data_home=tmp_path)
    assert r.returncode == 2
    assert "nope.flac: no such file" in r.stderr and "Traceback" not in r.stderr

"""The command line: clear messages, no tracebacks in a user's face."""

import subprocess
import sys

import numpy as np
import soundfile as sf


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vinylmon", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_listen_to_a_file(tmp_path):
    path = tmp_path / "side.flac"
    x = np.zeros((44100 * 11, 2))
    x[: 44100 * 5] = 0.1
    sf.write(str(path), x, 44100, subtype="PCM_16")
    r = run("listen", "--file", str(path))
    assert r.returncode == 0, r.stderr
    lines = [ln.split() for ln in r.stdout.splitlines() if ln[:1] == " " and "." in ln]
    assert [ln[-1] for ln in lines] == ["sound", "silent", "silent"]
    assert "3 windows." in r.stdout


def test_missing_file_is_one_clear_line(tmp_path):
    r = run("listen", "--file", str(tmp_path / "nope.wav"))
    assert r.returncode == 2
    assert "nope.wav: no such file" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_corrupt_file_is_one_clear_line(tmp_path):
    path = tmp_path / "bad.flac"
    path.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    r = run("listen", "--file", str(path))
    assert r.returncode == 2 and "corrupt" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_device_is_one_clear_line():
    r = run("listen", "--device", "no such turntable 12345")
    assert r.returncode == 2
    assert "no such turntable 12345" in r.stderr
    assert "Traceback" not in r.stderr


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("vinylmon ")

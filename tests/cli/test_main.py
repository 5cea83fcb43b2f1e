"""The command line: clear messages, no tracebacks in a user's face."""

import re
import subprocess
import sys

import numpy as np
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.grading.names import CRITERION_NAMES, KIND_NAMES, SHELLAC_NOTE

#: A window's line of ``listen``: start, end, level, gate state, then the grade so far.
WINDOW_LINE = re.compile(r"^\s*(\d+\.\d\d)\s+(\d+\.\d\d)\s+(-?\d+\.\d|-inf)\s+"
                         r"(sound|silent)\s+(.*)$")
#: An event's line under its window: kind, time, peak dB re L.
EVENT_LINE = re.compile(r"^\s+- (.+?)\s+at\s+(\d+\.\d{4}) s\s+([+-]\d+\.\d) dB re L$")


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vinylmon", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_listen_to_a_file(tmp_path):
    path = tmp_path / "side.flac"
    x = np.zeros((44100 * 11, 2))
    x[: 44100 * 5] = 0.1
    sf.write(str(path), x, 44100, subtype="PCM_16")
    r = run("listen", "--file", str(path), "--compute", "cpu", "--no-grader")
    assert r.returncode == 0, r.stderr
    lines = [m for ln in r.stdout.splitlines() if (m := WINDOW_LINE.match(ln))]
    assert [m[4] for m in lines] == ["sound", "silent", "silent"]
    assert "3 windows." in r.stdout


def test_listen_prints_events_and_the_running_grade(clicked_file, capsys):
    path, clicks_s = clicked_file
    assert main(["listen", "--file", str(path), "--compute", "cpu", "--no-grader"]) == 0
    out = capsys.readouterr().out.splitlines()
    windows, events = [], []  # events: (window index, kind, time, dB)
    for line in out:
        if m := WINDOW_LINE.match(line):
            windows.append((float(m[1]), float(m[2]), m[5]))
        elif m := EVENT_LINE.match(line):
            events.append((len(windows) - 1, m[1], float(m[2]), float(m[3])))
    assert [w[:2] for w in windows] == [(0.0, 5.0), (5.0, 10.0), (10.0, 12.0)]
    for _, _, grade in windows:  # the grade so far, with its limiting reason in words
        assert re.match(r"(NM|VG\+|VG|G\+|G|F) \(\d+%\)", grade), grade
        assert "limited by " + CRITERION_NAMES["clicks_per_min"] in grade
        assert "clicks_per_min" not in grade
    assert len(events) >= len(clicks_s) // 2
    for w, kind, t, _db in events:  # each event under the window it was found in
        assert windows[w][0] <= t < windows[w][1]
        assert kind in KIND_NAMES.values()
    found = np.array([t for *_, t, _ in events])
    near = [np.min(np.abs(found - c)) < 0.01 for c in clicks_s]
    assert sum(near) >= len(clicks_s) - 1  # the simulated clicks are listed
    assert out[-1] == "3 windows."


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


def test_listen_at_78_says_the_shellac_note_once(clicked_file, capsys):
    assert main(["listen", "--file", str(clicked_file[0]), "--rpm", "78", "--compute", "cpu",
                 "--no-grader"]) == 0
    out = capsys.readouterr().out
    assert out.count(SHELLAC_NOTE) == 1
    assert out.count("limited by ") == 3  # the limiting reason stays on every window

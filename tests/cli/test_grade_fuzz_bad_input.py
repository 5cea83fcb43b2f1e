"""``vinylmon grade`` on hostile files, fuzzed (issue 8).

Whatever the files, ``vinylmon grade`` ends with status 0 (all graded) or 2 (some
could not be): each input is either a row of the summary table or one line on
stderr that names it and says what is wrong. Never status 3 (an internal error),
never a traceback, never a hang. The good files among bad ones are still graded.
"""

from __future__ import annotations

import faulthandler
import io
import logging
import struct
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vinylmon.cli.main import main
from vinylmon.simulate import synthetic_music

REPO = Path(__file__).resolve().parents[2]
SR = 44100

#: The cheapest grading: rule-based grade only, on the CPU, no progress bars.
CHEAP = ["--no-grader", "--quiet", "--device", "cpu"]

FUZZ = settings(max_examples=40, deadline=timedelta(seconds=20), derandomize=True,
                database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _hang_guard():
    """``vinylmon grade`` that hangs kills the run with every thread's stack."""
    faulthandler.dump_traceback_later(400, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """The log file in a temporary folder; the handlers each main() call adds are closed."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    logger = logging.getLogger("vinylmon")
    before = list(logger.handlers)
    yield tmp_path / "state" / "vinylmon" / "vinylmon.log"
    for h in logger.handlers[:]:
        if h not in before:
            logger.removeHandler(h)
            h.close()


# --- hostile files ---------------------------------------------------------------------


def wav_bytes(*, rate=SR, channels=2, bits=16, fmt_code=1, data=b"", riff_size=None,
              data_size=None) -> bytes:
    """A RIFF/WAVE file written field by field (any value, consistent or not)."""
    align = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", fmt_code, channels, rate, (rate * align) & 0xFFFFFFFF, align,
                      bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def encoded(fmt: str, samples: np.ndarray, rate: int = SR, subtype: str | None = None) -> bytes:
    """``samples`` (frames, channels) as a file, written a second at a time (libsndfile's
    Vorbis encoder can crash on one big write)."""
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", rate, samples.shape[1], subtype, format=fmt) as f:
        for i in range(0, len(samples), rate):
            f.write(samples[i:i + rate])
    return buf.getvalue()


def flac_total(raw: bytes, total: int) -> bytes:
    """A FLAC file whose STREAMINFO claims ``total`` frames."""
    x = int.from_bytes(raw[18:26], "big")
    x = (x & ~(2**36 - 1)) | (total & (2**36 - 1))
    return raw[:18] + x.to_bytes(8, "big") + raw[26:]


def noise(seed: int, frames: int, channels: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.4, 0.4, (frames, channels))


@st.composite
def odd_files(draw) -> tuple[str, bytes]:
    """(suffix, contents) of a valid but odd file: 8 to 192 kHz, 1, 2 or 8 channels, one
    sample to 6 s, hot or nearly silent float samples."""
    fmt, subtype = draw(st.sampled_from((("WAV", "FLOAT"), ("WAV", "PCM_U8"),
                                         ("FLAC", "PCM_24"), ("OGG", "VORBIS"))))
    rate = draw(st.sampled_from((8000, 22050, 48000, 96000, 192000)))
    channels = draw(st.sampled_from((1, 2, 8)))
    gain = draw(st.sampled_from((1e-6, 1.0, 8.0))) if subtype == "FLOAT" else 1.0
    frames = draw(st.sampled_from((1, 100, rate // 2, rate * 6)))
    x = noise(draw(st.integers(0, 2**16)), frames, channels) * gain
    return fmt.lower(), encoded(fmt, x, rate, subtype=subtype)


@st.composite
def hostile_files(draw) -> tuple[str, bytes]:
    """(suffix, contents) of one hostile file."""
    kind = draw(st.sampled_from(("rate", "sizes", "channels", "nonfinite", "mutated", "garbage",
                                 "tiny", "flac_liar", "odd")))
    seed = draw(st.integers(0, 2**16))
    channels = draw(st.sampled_from((1, 2, 8)))
    frames = draw(st.sampled_from((0, 1, 2, 300, 4410)))
    pcm = (noise(seed, frames, channels) * 32767).astype("<i2").tobytes()
    if kind == "rate":
        rate = draw(st.sampled_from((0, 1, 1000, 192001, 1_000_000, 0xFFFFFFFF)))
        return "wav", wav_bytes(rate=rate, channels=channels, data=pcm)
    if kind == "sizes":
        return "wav", wav_bytes(channels=channels, data=pcm,
                                riff_size=draw(st.sampled_from((0, 0xFFFFFFFF, 2**31))),
                                data_size=draw(st.sampled_from((0, 1, 0xFFFFFFFF, 2**31))))
    if kind == "channels":
        return "wav", wav_bytes(channels=draw(st.sampled_from((0, 255, 65535))), data=pcm)
    if kind == "nonfinite":
        x = noise(seed, max(frames, 1), channels).astype(np.float32)
        x[draw(st.integers(0, len(x) - 1)), 0] = draw(st.sampled_from((np.nan, np.inf, -np.inf,
                                                                       3e38)))
        return "wav", encoded("WAV", x, subtype="FLOAT")
    if kind == "flac_liar":
        raw = encoded("FLAC", noise(seed, max(frames, 1), channels))
        return "flac", flac_total(raw, draw(st.sampled_from((0, 2**31, 2**36 - 1, frames + 1))))
    if kind == "tiny":  # zero or one sample, at rates from 8 to 192 kHz
        rate = draw(st.sampled_from((8000, 44100, 96000, 192000)))
        return "wav", encoded("WAV", noise(seed, draw(st.integers(0, 2)), channels), rate,
                              subtype="FLOAT")
    if kind == "odd":
        return draw(odd_files())
    if kind == "garbage":
        magic = draw(st.sampled_from((b"", b"RIFF", b"fLaC", b"OggS", b"ID3\x03\0\0\0\0\0\0",
                                      b"\xff\xfb\x90\x00")))
        suffix = draw(st.sampled_from(("wav", "flac", "ogg", "mp3")))
        return suffix, magic + draw(st.binary(max_size=2000))
    fmt = draw(st.sampled_from(("WAV", "FLAC", "OGG")))  # "mutated": a valid file, damaged
    raw = bytearray(encoded(fmt, noise(seed, 4410, channels)))
    cut = draw(st.integers(1, len(raw)))
    for _ in range(draw(st.integers(0, 4))):
        raw[draw(st.integers(0, min(len(raw), 120) - 1))] = draw(st.integers(0, 255))
    return {"WAV": "wav", "FLAC": "flac", "OGG": "ogg"}[fmt], bytes(raw[:cut])


def run_grade(paths: list[Path], *extra: str, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["grade", *map(str, paths), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def check_each_input_accounted_for(paths: list[Path], code: int, out: str, err: str) -> None:
    """Each input is one row of the table or one 'vinylmon: <path>: ...' line, not both."""
    assert "Traceback" not in out + err
    assert code in (0, 2), f"status {code}:\n{err}"
    rows = out.splitlines()[1:]  # after the table's header
    failures = [ln for ln in err.splitlines() if ln.startswith("vinylmon: ")]
    assert len(rows) + len(failures) == len(paths), (out, err)
    for p in paths:
        graded = sum(ln.startswith(p.name) for ln in rows)
        failed = sum(ln.startswith(f"vinylmon: {p}: ") for ln in failures)
        assert graded + failed == 1, f"{p.name}: {graded} rows, {failed} errors\n{out}\n{err}"
        if failed:
            line = next(ln for ln in failures if ln.startswith(f"vinylmon: {p}: "))
            assert line.count(str(p)) == 1, f"the path twice: {line}"
    assert code == (2 if failures else 0)


# --- fuzzed ----------------------------------------------------------------------------


@FUZZ
@given(files=st.lists(hostile_files(), min_size=1, max_size=4))
def test_grade_hostile_files_in_process(tmp_path, state_home, capsys, files):
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    paths = []
    for i, (suffix, raw) in enumerate(files):
        paths.append(d / f"h{i}.{suffix}")
        paths[-1].write_bytes(raw)
    code, out, err = run_grade(paths, *CHEAP, "--json", str(tmp_path / "json"), capsys=capsys)
    check_each_input_accounted_for(paths, code, out, err)
    event(f"{len(out.splitlines()[1:])} of {len(paths)} graded")
    if state_home.exists():
        assert "Traceback" not in state_home.read_text(encoding="utf-8", errors="replace")


@settings(FUZZ, max_examples=15)
@given(file=odd_files())
def test_grade_odd_but_valid_files_in_process(tmp_path, state_home, capsys, file):
    suffix, raw = file
    path = tmp_path / f"odd.{suffix}"
    path.write_bytes(raw)
    code, out, err = run_grade([path], *CHEAP, capsys=capsys)
    check_each_input_accounted_for([path], code, out, err)
    event("graded" if code == 0 else err.split(": ", 2)[-1][:40])


# --- chosen by hand --------------------------------------------------------------------


def test_mono_file_with_clicks_is_graded(tmp_path, state_home, capsys):
    """Mono stays mono (README); the detector's events must not assume two channels."""
    x = synthetic_music(np.random.default_rng(3), 6.0)[:1].T.copy()
    x[SR * 2, 0] = 0.99
    x[SR * 4, 0] = -0.99
    path = tmp_path / "mono.wav"
    sf.write(path, np.full((SR, 1), 0.1), SR)  # a DC step: the detector hears a click
    sf.write(tmp_path / "mono_music.wav", x, SR)
    paths = [path, tmp_path / "mono_music.wav"]
    code, out, err = run_grade(paths, *CHEAP, capsys=capsys)
    check_each_input_accounted_for(paths, code, out, err)
    assert code == 0, err


def test_file_name_that_is_not_utf8_is_graded(tmp_path, state_home, capsys):
    name = b"side \xff\xfe.flac".decode("utf-8", "surrogateescape")
    path = tmp_path / name
    sf.write(tmp_path / "plain.flac", synthetic_music(np.random.default_rng(1), 6.0).T, SR)
    (tmp_path / "plain.flac").rename(path)  # soundfile itself cannot write to such a name
    code, out, err = run_grade([path], *CHEAP, "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, err
    assert "side \\xff\\xfe.flac" in out
    assert '"input": "side \\\\xff\\\\xfe.flac"' in (tmp_path / "r.json").read_text()


def test_a_folder_without_audio_does_not_stop_the_others(tmp_path, state_home, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = tmp_path / "good.flac"
    sf.write(good, synthetic_music(np.random.default_rng(2), 6.0).T, SR)
    code, out, err = run_grade([empty, good], *CHEAP, capsys=capsys)
    assert code == 2
    assert f"vinylmon: {empty}: no audio files in this folder" in err
    assert any(ln.startswith("good.flac") for ln in out.splitlines())


def test_grade_a_folder_of_hostile_files_in_a_subprocess(tmp_path):
    """The real command: a folder of hostile files with one good one, plus a missing file
    and a folder without audio. Status 2, one line per bad input, the good file graded."""
    d = tmp_path / "side"
    d.mkdir()
    sf.write(d / "good.flac", synthetic_music(np.random.default_rng(0), 6.0).T, SR)
    pcm = (noise(1, 4410, 2) * 20000).astype("<i2").tobytes()
    bad = {
        "rate_1hz.wav": wav_bytes(rate=1, data=pcm),
        "rate_1mhz.wav": wav_bytes(rate=1_000_000, channels=8, data=pcm),
        "rate_0.wav": wav_bytes(rate=0, data=pcm),
        "sizes_ffffffff.wav": wav_bytes(channels=1, data=b"", riff_size=0xFFFFFFFF,
                                        data_size=0xFFFFFFFF),
        "billions.flac": flac_total(encoded("FLAC", noise(2, 4410, 2)), 2**31),
        "nan.wav": encoded("WAV", np.full((4410, 2), np.nan, dtype=np.float32), subtype="FLOAT"),
        "truncated.flac": encoded("FLAC", noise(3, 44100, 2))[:300],
        "garbage.mp3": np.random.default_rng(4).integers(0, 256, 5000, np.uint8).tobytes(),
        "empty.wav": b"",
        "one_sample.wav": encoded("WAV", np.full((1, 2), 0.5), 192000, subtype="FLOAT"),
    }
    for name, raw in bad.items():
        (d / name).write_bytes(raw)
    (d / "notes.txt").write_text("not audio, not an input")
    missing, empty = tmp_path / "missing.wav", tmp_path / "nothing_here"
    empty.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path),
           "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-m", "vinylmon.cli.main", "grade", str(d), str(missing),
                        str(empty), "--no-grader", "--device", "cpu",
                        "--json", str(tmp_path / "json")],
                       capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert "Traceback" not in r.stdout + r.stderr
    assert r.returncode == 2, r.stderr
    failures = [ln for ln in r.stderr.splitlines() if ln.startswith("vinylmon: ")]
    expected = [str(d / name) for name in bad] + [str(missing), str(empty)]
    assert len(failures) == len(expected), r.stderr
    for path in expected:
        assert sum(ln.startswith(f"vinylmon: {path}: ") for ln in failures) == 1, (path, r.stderr)
    assert [ln.split()[0] for ln in r.stdout.splitlines()[1:]] == ["good.flac"], r.stdout
    assert (tmp_path / "json" / "good.json").exists()
    assert "good.flac: 100%" in r.stderr  # its progress reached the end
    log = tmp_path / "vinylmon" / "vinylmon.log"
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")

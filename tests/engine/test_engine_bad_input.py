"""Bad input to the engine and to ``vinylmon grade``: clear errors, nothing lost."""

import argparse
import json

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.grade import parse_rpm
from vinylmon.cli.main import main
from vinylmon.engine.engine import Engine
from vinylmon.engine.session import Session
from vinylmon.errors import AudioDataError, AudioFileError
from vinylmon.reports.report import build_report
from vinylmon.simulate import synthetic_music

SR = 44100


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu", grader=False)


def test_missing_file(engine, tmp_path):
    with pytest.raises(AudioFileError):
        engine.grade_file(tmp_path / "nope.flac")


def test_nan_samples(engine, tmp_path):
    x = synthetic_music(np.random.default_rng(0), 6.0)
    x[0, 3 * SR] = np.nan
    sf.write(tmp_path / "nan.wav", x.T, SR, subtype="FLOAT")
    with pytest.raises(AudioDataError, match="NaN"):
        engine.grade_file(tmp_path / "nan.wav")


def test_silent_file_has_nothing_to_grade(engine, tmp_path):
    sf.write(tmp_path / "silent.flac", np.zeros((6 * SR, 2)), SR)
    result = engine.grade_file(tmp_path / "silent.flac")
    assert result.state.grade is None and all(w.silent for w in result.windows)
    with pytest.raises(AudioDataError, match="silent"):
        build_report(result.state, result.windows, input_name="silent.flac", sample_rate=SR,
                     channels=2, duration_s=6.0, models=engine.models())


def test_silent_file_fails_in_the_cli_with_one_line(tmp_path, capsys):
    sf.write(tmp_path / "silent.flac", np.zeros((6 * SR, 2)), SR)
    assert main(["grade", str(tmp_path / "silent.flac"), "--no-grader", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "silent" in err and "Traceback" not in err


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2
    assert "no audio files" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["7", "250", "fast", "-45"])
def test_bad_rpm(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rpm(text)


def test_bad_rpm_in_the_cli_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["grade", str(tmp_path / "x.flac"), "--rpm", "fast"])
    assert exc.value.code == 2


def test_session_refuses_a_bad_rpm():
    with pytest.raises(ValueError, match="rpm"):
        Session(rpm=1000.0)


def test_unwritable_report_folder_fails_that_file_only(tmp_path, capsys):
    sf.write(tmp_path / "a.flac", synthetic_music(np.random.default_rng(0), 6.0).T, SR)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    code = main(["grade", str(tmp_path / "a.flac"), "--json", str(blocker / "a.json"),
                 "--no-grader", "--quiet", "--device", "cpu"])
    assert code == 2
    assert "a.flac" in capsys.readouterr().err


def test_a_wav_cut_mid_audio_is_graded_for_what_is_there_and_says_so(engine, tmp_path,
                                                                      capsys):
    """libsndfile reads a cut WAV's frames without a word; the header's data size says
    30 s were meant, so the user is warned and the report carries the note."""
    path = tmp_path / "cut.wav"
    sf.write(path, synthetic_music(np.random.default_rng(5), 30.0).T, SR, subtype="PCM_16")
    raw = path.read_bytes()
    path.write_bytes(raw[: 44 + (len(raw) - 44) // 3])
    result = engine.grade_file(path)
    assert result.declared_s == pytest.approx(30.0)
    assert result.duration_s == pytest.approx(10.0, abs=0.05) and result.short_by_s > 19.0

    code = main(["grade", str(path), "--json", str(tmp_path / "r.json"), "--quiet",
                 "--device", "cpu", "--no-grader"])
    err = capsys.readouterr().err
    assert code == 0
    assert "cut.wav: warning: its header says 30.0 s, but only 10.0 s" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["duration_s"] == pytest.approx(10.0, abs=0.05)
    assert any("truncated" in n and "30.0 s" in n for n in report["summary"]["notes"])


def test_a_truncated_mp3_is_graded_for_what_decodes_and_says_so(engine, tmp_path, capsys):
    """Its header (Xing) still claims the whole length; the decoder stops early."""
    path = tmp_path / "cut.mp3"
    sf.write(path, synthetic_music(np.random.default_rng(4), 30.0).T, SR, format="MP3")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    declared = sf.info(path).duration
    assert declared == pytest.approx(30.0, abs=0.1)  # the header does not know
    result = engine.grade_file(path)
    assert result.declared_s == pytest.approx(declared)
    assert 7.0 < result.duration_s < 13.0 and result.short_by_s > 15.0
    assert result.windows[-1].end_s == result.duration_s

    code = main(["grade", str(path), "--json", str(tmp_path / "r.json"), "--quiet",
                 "--device", "cpu", "--no-grader"])
    err = capsys.readouterr().err
    assert code == 0
    assert "cut.mp3: warning: its header says 30.0 s, but only" in err and "truncated" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["duration_s"] == pytest.approx(result.duration_s, abs=1e-3)
    assert report["summary"]["measured"]["analysed_s"] <= report["duration_s"] + 1e-3

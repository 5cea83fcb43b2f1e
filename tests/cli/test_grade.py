"""``vinylmon grade``: folders, reports, progress, one bad file among good ones."""

import json

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.grade import parse_rpm
from vinylmon.cli.main import main
from vinylmon.reports.schema import report_problems
from vinylmon.simulate import synthetic_music

SR = 44100


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "side"
    d.mkdir()
    for i, seconds in enumerate((12.0, 7.0)):
        sf.write(d / f"good{i}.flac", synthetic_music(np.random.default_rng(i), seconds).T, SR)
    (d / "broken.flac").write_bytes(b"fLaC" + bytes(range(200)))
    (d / "notes.txt").write_text("not audio")
    return d


def test_folder_with_a_bad_file_grades_the_others(folder, tmp_path, capsys):
    out_json, out_html = tmp_path / "json", tmp_path / "html"
    code = main(["grade", str(folder), "--json", str(out_json), "--html", str(out_html),
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 2
    assert "broken.flac" in captured.err
    rows = [line for line in captured.out.splitlines() if line.startswith("good")]
    assert len(rows) == 2
    for name in ("good0", "good1"):
        report = json.loads((out_json / f"{name}.json").read_text())
        assert report_problems(report) == []
        assert report["input"] == f"{name}.flac"
        page = (out_html / f"{name}.html").read_text()
        assert page.lower().startswith("<!doctype html>") and report["summary"]["grade"] in page
    assert not (out_json / "broken.json").exists()
    assert "100%" in captured.err  # progress reached the end of each good file


def test_json_to_stdout_is_the_report_alone(folder, capsys):
    code = main(["grade", str(folder / "good1.flac"), "--json", "-", "--rpm", "45",
                 "--quiet", "--device", "cpu"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report_problems(report) == []
    assert report["rpm"] == 45.0
    assert report["duration_s"] == pytest.approx(7.0)


@pytest.mark.parametrize(("text", "rpm"), [("33", 100 / 3), ("33 1/3", 100 / 3),
                                           ("33.3", 100 / 3), ("45", 45.0), ("78", 78.0),
                                           ("auto", None)])
def test_parse_rpm(text, rpm):
    assert parse_rpm(text) == (pytest.approx(rpm) if rpm else None)

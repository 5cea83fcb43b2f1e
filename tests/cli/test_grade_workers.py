"""``vinylmon grade --workers N``: the files graded in N processes give the same rows,
reports, messages and exit status as one process; ``--ray`` without Ray says how to
get it (``--ray`` on a real local cluster: test_grade_ray.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.grade import RAY_MISSING
from vinylmon.cli.main import main

SR = 44100


@pytest.fixture
def folder(side_folder):
    d = side_folder((9.0, 6.0))
    sf.write(d / "silent.flac", np.zeros((SR * 6, 2)), SR)
    return d


@pytest.mark.slow
def test_workers_give_what_one_process_gives(folder, tmp_path, capsys, table_rows):
    one, two = tmp_path / "one", tmp_path / "two"
    code1 = main(["grade", str(folder), "--json", str(one), "--html", str(one),
                  "--device", "cpu", "--quiet"])
    out1 = capsys.readouterr()
    code2 = main(["grade", str(folder), "--json", str(two), "--html", str(two),
                  "--device", "cpu", "--quiet", "--workers", "2"])
    out2 = capsys.readouterr()
    assert code1 == code2 == 2
    assert table_rows(out1.out) == table_rows(out2.out) and len(table_rows(out2.out)) == 2
    assert out1.err == out2.err  # the same messages, in the same order
    assert "broken.flac" in out2.err and "silent" in out2.err
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir()) == \
        ["good0.html", "good0.json", "good1.html", "good1.json"]
    for name in ("good0.json", "good1.json"):
        assert json.loads((two / name).read_text()) == json.loads((one / name).read_text())


def test_workers_must_be_at_least_one(folder, capsys):
    assert main(["grade", str(folder), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_ray_missing_says_how_to_install_it(folder, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    assert main(["grade", str(folder), "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert RAY_MISSING in err and "pip install vinylmon[ray]" in err

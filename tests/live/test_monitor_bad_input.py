"""The monitor refuses bad sources and bad saved sessions with clear errors."""

import json

import numpy as np
import pytest

from vinylmon.engine.engine import Engine
from vinylmon.errors import AudioDataError, AudioFileError
from vinylmon.live.monitor import FileSource, Monitor, load_session


def test_missing_or_corrupt_file_source(tmp_path):
    with pytest.raises(AudioFileError):
        FileSource(tmp_path / "nope.flac")
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(AudioFileError):
        FileSource(bad)
    with pytest.raises(ValueError, match="speed"):
        FileSource(bad, speed=0)


def test_reports_need_something_analysed(tmp_path):
    mon = Monitor(Engine(device="cpu"), journal_dir=tmp_path)
    with pytest.raises(AudioDataError, match="nothing has been analysed"):
        mon.report()
    assert mon.excerpt(0, 1).shape[1] == 0
    assert np.isfinite(mon.stats().elapsed_s)


@pytest.mark.parametrize("content", [b"", b"{not json", json.dumps({"schema": "x"}).encode(),
                                     b"\xff\xfe\x00"])
def test_broken_saved_sessions(tmp_path, content):
    (tmp_path / "report.json").write_bytes(content)
    with pytest.raises(AudioFileError, match="report"):
        load_session(tmp_path)


def test_missing_session_folder(tmp_path):
    with pytest.raises(AudioFileError):
        load_session(tmp_path / "nothing-here")

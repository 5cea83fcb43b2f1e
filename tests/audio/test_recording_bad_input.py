"""The session recording refuses to reopen what is not there."""

import pytest

from vinylmon.audio.recording import SessionRecording
from vinylmon.errors import AudioFileError


def test_append_to_a_missing_journal(tmp_path):
    with pytest.raises(AudioFileError, match="cannot be reopened"):
        SessionRecording(tmp_path / "nope.raw", sample_rate=44100, channels=2, append=True)


def test_append_to_a_folder(tmp_path):
    with pytest.raises(AudioFileError, match="cannot be reopened"):
        SessionRecording(tmp_path, sample_rate=44100, channels=2, append=True)

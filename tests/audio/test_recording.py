"""The session recording: excerpts come back as written, gaps are silence, FLAC round-trip."""

import numpy as np
import soundfile as sf

from vinylmon.audio.recording import SessionRecording
from vinylmon.audio.types import AudioBlock

SR = 44100


def test_excerpts_gaps_and_flac(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, (2, SR)).astype(np.float32)
    rec = SessionRecording(tmp_path / "a.raw", sample_rate=SR, channels=2)
    rec.append(AudioBlock(x[:, :SR // 2], SR, 0.0))
    rec.append(AudioBlock(x[:, SR // 2:], SR, 0.5))
    rec.append(AudioBlock(x[:, :100], SR, 1.5))  # 0.5 s lost: silence keeps the clock
    assert rec.frames == SR + SR // 2 + 100
    seg = rec.segment(0.25, 0.75)
    np.testing.assert_allclose(seg, x[:, SR // 4:3 * SR // 4], atol=1 / 32767)
    assert np.all(rec.segment(1.1, 1.4) == 0)
    np.testing.assert_allclose(rec.segment(1.5, 10.0), x[:, :100], atol=1 / 32767)
    out = rec.save_flac(tmp_path / "a.flac")
    y, sr = sf.read(out, dtype="float32", always_2d=True)
    assert sr == SR and y.shape == (rec.frames, 2)
    np.testing.assert_allclose(y[:SR].T, x, atol=1 / 32767)
    rec.close()


def test_append_mode_goes_on_after_what_was_recorded(tmp_path):
    """A journal left by a killed process: reopened, a torn last frame cut off, excerpts
    read back and new blocks follow the old."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.5, 0.5, (2, SR)).astype(np.float32)
    rec = SessionRecording(tmp_path / "a.raw", sample_rate=SR, channels=2)
    rec.append(AudioBlock(x[:, :SR // 2], SR, 0.0))
    rec.close()
    with open(tmp_path / "a.raw", "ab") as f:
        f.write(b"\x07\x00\x01")  # killed mid-frame
    again = SessionRecording(tmp_path / "a.raw", sample_rate=SR, channels=2, append=True)
    assert again.frames == SR // 2
    np.testing.assert_allclose(again.segment(0.0, 0.5), x[:, :SR // 2], atol=1 / 32767)
    again.append(AudioBlock(x[:, SR // 2:], SR, 0.5))
    again.sync()
    assert again.frames == SR
    np.testing.assert_allclose(again.segment(0.0, 1.0), x, atol=1 / 32767)
    again.close()

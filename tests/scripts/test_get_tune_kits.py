"""get_tune_kits reads a SoundFont's samples one by one."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import get_tune_kits  # noqa: E402


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _sf2(samples: list[tuple[str, np.ndarray, int]]) -> bytes:
    """A minimal SoundFont 2: the samples back to back (46 zeros after each, as the format
    asks), one sample header each and the terminal one."""
    data, headers, at = b"", b"", 0
    for name, x, rate in samples:
        data += x.astype("<i2").tobytes() + b"\0" * 92
        headers += (name.encode("latin-1").ljust(20, b"\0")
                    + struct.pack("<IIIIIBbHH", at, at + len(x), at, at + len(x), rate, 60, 0,
                                  0, 1))
        at += len(x) + 46
    headers += b"EOS".ljust(20, b"\0") + b"\0" * 26
    sdta = _chunk(b"LIST", b"sdta" + _chunk(b"smpl", data))
    pdta = _chunk(b"LIST", b"pdta" + _chunk(b"shdr", headers))
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)))
    body = b"sfbk" + info + sdta + pdta
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_every_sample_comes_out_with_its_name_and_rate(rng):
    want = [("38-Snare-1", (rng.standard_normal(300) * 3000).astype(np.int16), 44100),
            ("42-HatClosed", (rng.standard_normal(123) * 3000).astype(np.int16), 48000)]
    got = get_tune_kits.sf2_samples(_sf2(want))
    assert [(n, r) for n, _, r in got] == [(n, r) for n, _, r in want]
    for (_, x, _), (_, y, _) in zip(got, want, strict=True):
        assert np.array_equal(x, y)


def test_a_file_that_is_not_a_soundfont_is_refused():
    with pytest.raises(ValueError, match="SoundFont"):
        get_tune_kits.sf2_samples(b"RIFF\0\0\0\0WAVEfmt ")
    with pytest.raises(ValueError, match="samples"):
        get_tune_kits.sf2_samples(b"RIFF" + struct.pack("<I", 4) + b"sfbk")


def test_a_kit_comes_as_one_shots_from_a_folder_or_a_soundfont(tmp_path, rng):
    import soundfile as sf

    folder = tmp_path / "kit"
    folder.mkdir()
    for name in ("808_Clap.flac", "808_Hat_Closed.wav"):
        sf.write(folder / name, rng.standard_normal(200) * 0.1, 44100)
    (folder / "drumkit.xml").write_text("<drumkit/>")
    out = tmp_path / "out1"
    out.mkdir()
    assert get_tune_kits._write_kit(folder, out) == 2
    assert sorted(p.name for p in out.iterdir()) == ["808_Clap.flac", "808_Hat_Closed.wav"]
    font = tmp_path / "kit.sf2"
    font.write_bytes(_sf2([("37-Side stick", (rng.standard_normal(100) * 3000).astype(np.int16),
                            44100)]))
    out2 = tmp_path / "out2"
    out2.mkdir()
    assert get_tune_kits._write_kit(font, out2) == 1
    assert [p.name for p in out2.iterdir()] == ["37-Side_stick.wav"]

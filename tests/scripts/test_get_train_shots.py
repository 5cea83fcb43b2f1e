"""get_train_shots writes a SoundFont's samples as short one-shots."""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import get_train_shots  # noqa: E402
from test_get_tune_kits import _sf2  # noqa: E402


def test_a_long_sample_is_cut_and_faded_a_short_or_silent_one_left_out(rng):
    rate = 22050
    long = (rng.standard_normal(3 * rate) * 8000).astype(np.int16)
    y = get_train_shots.one_shot(long, rate)
    assert y.size == int(get_train_shots.MAX_S * rate)
    assert np.allclose(y[:100], long[:100] / 32768.0)
    f = int(get_train_shots.FADE_S * rate)
    raw = long[y.size - f:y.size] / 32768.0
    assert y[-1] == 0 and np.all(np.abs(y[-f:]) <= np.abs(raw) + 1e-7)
    assert np.abs(y[-f // 4:]).max() < 0.3 * np.abs(raw[-f // 4:]).max()
    assert get_train_shots.one_shot(long[:int(0.01 * rate)], rate) is None
    assert get_train_shots.one_shot(np.zeros(rate, np.int16), rate) is None
    short = (rng.standard_normal(rate // 4) * 8000).astype(np.int16)
    assert np.allclose(get_train_shots.one_shot(short, rate), short / 32768.0)


def test_every_usable_sample_of_a_font_becomes_a_file_at_its_rate(tmp_path, rng):
    want = [("Conga Hi", (rng.standard_normal(900) * 3000).astype(np.int16), 32000),
            ("Sine loop", (rng.standard_normal(40) * 3000).astype(np.int16), 44100),
            ("Pizz E4(R)", (rng.standard_normal(2000) * 3000).astype(np.int16), 44100)]
    n = get_train_shots.write_font(_sf2(want), tmp_path)
    files = sorted(tmp_path.iterdir())
    assert n == 2 and [f.name for f in files] == ["0000_Conga_Hi.wav", "0002_Pizz_E4_R_.wav"]
    x, rate = sf.read(files[0], dtype="int16")
    assert rate == 32000 and np.array_equal(x, want[0][1])


def test_a_drum_kits_own_pieces_are_left_out(tmp_path, rng):
    names = ["Std Kick 1(L)", "Hi-Hat Closed", "ElectTom(R)", "808 Conga", "Rim Shot",
             "Low Conga", "Marimba C4", "Tom Hi(L)", "Castanet"]
    want = [(n, (rng.standard_normal(2000) * 3000).astype(np.int16), 44100) for n in names]
    assert get_train_shots.write_font(_sf2(want), tmp_path) == 3
    assert [f.name for f in sorted(tmp_path.iterdir())] == [
        "0005_Low_Conga.wav", "0006_Marimba_C4.wav", "0008_Castanet.wav"]

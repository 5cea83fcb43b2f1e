"""The shipped bundles load, run and hear a click in synthetic music."""

import shutil

import numpy as np
import pytest

from vinylmon.audio.simulate import ClickSpec, DamageSpec, simulate
from vinylmon.errors import AudioDataError, WeightsError
from vinylmon.models.bundle import read_meta
from vinylmon.models.inference import (
    WEIGHTS_DIR,
    Detector,
    LearnedGrader,
    analyse_excerpt,
)
from vinylmon.rubric import GRADES

SR = 44100


@pytest.fixture(scope="module")
def detector():
    return Detector(device="cpu")


def music(rng, seconds=10.0):
    """Seeded synthetic 'music': decaying harmonic notes over a soft pad, stereo.

    Each note rises over 5 ms, as an instrument's does: a note that starts at
    full slope is itself a click.
    """
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = 0.05 * np.sin(2 * np.pi * 110 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * t))
    for start in np.arange(0, seconds, 0.25):
        f0 = 220 * 2 ** (rng.integers(0, 12) / 12)
        seg = t[int(start * SR):] - start
        note = sum(np.sin(2 * np.pi * f0 * h * seg) / h for h in range(1, 6))
        attack = np.sin(0.5 * np.pi * np.minimum(seg / 0.005, 1.0)) ** 2
        x[int(start * SR):] += 0.08 * note * np.exp(-seg * 6) * attack
    return np.stack([x, np.roll(x, 200)]).astype(np.float32)


def test_bundles_carry_their_metadata():
    total = 0
    for name in ("detector", "grader"):
        meta = read_meta(WEIGHTS_DIR / name)
        assert meta["name"] == name
        assert meta["metrics"], f"{name}: no measured metrics in meta.json"
        total += (WEIGHTS_DIR / name / "model.pt").stat().st_size
    assert total < 20e6


def test_detector_hears_clicks_within_1ms(detector, rng):
    clean = music(rng)
    spec = DamageSpec(seed=7, clicks=ClickSpec(rate_per_min=60.0, peak_db=(0.0, 12.0)))
    d = simulate(clean, spec)
    truth = [i for i in d.truth.impulses if i.peak_db >= -10]
    assert len(truth) >= 5
    a = analyse_excerpt(d.audio, detector)
    found = 0
    for imp in truth:
        if any(abs(e.start_s * SR - imp.start) <= 44 for e in a.events):
            found += 1
    assert found / len(truth) >= 0.8
    assert len(a.events) <= len(truth) + 3


def test_clean_synthetic_music_has_few_events(detector, rng):
    a = analyse_excerpt(music(rng), detector)
    assert len(a.events) <= 1


def test_grader_runs(rng):
    g = LearnedGrader(device="cpu")
    p = g.run([music(rng, 5.0)])
    assert p.shape == (1, len(GRADES))
    assert p.sum() == pytest.approx(1.0, abs=1e-4)


def test_bad_windows(detector):
    with pytest.raises(AudioDataError, match="NaN"):
        detector.run([np.full((2, SR), np.nan, np.float32)])
    with pytest.raises(AudioDataError, match="no windows"):
        detector.run([])
    with pytest.raises(AudioDataError, match="expected"):
        detector.run([np.zeros((2, SR), np.float32), np.zeros((2, 10), np.float32)])


def test_tampered_bundle_is_refused(tmp_path):
    folder = tmp_path / "detector"
    shutil.copytree(WEIGHTS_DIR / "detector", folder)
    data = bytearray((folder / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.pt").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        Detector(folder, device="cpu")

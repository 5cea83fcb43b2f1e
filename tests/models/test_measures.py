"""The shipped window measures: surface noise under the music, crackle as a density."""

import numpy as np
import pytest

from vinylmon.audio.simulate import CrackleSpec, DamageSpec, NoiseSpec, simulate
from vinylmon.models.bundle import read_meta
from vinylmon.models.inference import WEIGHTS_DIR, Detector, analyse_excerpt, crackle_rate
from vinylmon.models.measures import OUTPUTS


@pytest.fixture(scope="module")
def detector():
    return Detector(device="cpu")


def test_the_bundle_is_shipped_with_its_metrics(detector):
    meta = read_meta(WEIGHTS_DIR / "measures")
    assert meta["labels"]["outputs"] == list(OUTPUTS)
    assert meta["metrics"]["val"]["clips"] > 50
    assert detector.measures is not None


def test_noise_sweep_under_music(detector, music):
    """Beds from -70 to -20 dB re L under (synthetic) music: n follows them."""
    clean = music(15.0)
    truth, est = [], []
    for i, db in enumerate((-70.0, -60.0, -50.0, -40.0, -30.0, -20.0)):
        d = simulate(clean, DamageSpec(seed=i, noise=NoiseSpec(hiss_db=db)))
        a = analyse_excerpt(d.audio, detector, repeats=[])
        truth.append(d.truth.surface_noise_db)
        est.append(a.noise_db)
    err = np.array(est) - np.array(truth)
    assert np.all(np.diff(est) > 0), est  # louder beds read louder
    assert np.median(np.abs(err)) <= 6.0, err


@pytest.mark.parametrize("rate", [0.1, 1.0, 10.0, 100.0])
def test_crackle_is_counted_as_a_density(detector, music, rate):
    clean = music(15.0)
    d = simulate(clean, DamageSpec(seed=3, crackle=CrackleSpec(rate_per_s=rate),
                                   noise=NoiseSpec(hiss_db=-60.0)))
    a = analyse_excerpt(d.audio, detector, repeats=[])
    k = crackle_rate(a, "measures")
    true_k = d.truth.quantities.crackle_per_s
    assert k is not None and k >= 0
    if true_k >= 5:
        assert true_k / 3 <= k <= true_k * 3, (k, true_k)
    else:
        assert k <= 5.0, (k, true_k)

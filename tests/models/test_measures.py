"""Window measures: k from the count heads, and a measures bundle wired into the Detector.

No measures bundle is shipped yet (trained ones did not beat the detector's heads on
validation: see vinylmon/weights/README.md); these tests build one to check the wiring.
"""

import numpy as np
import pytest
import torch

from vinylmon.audio.noisefloor import n_inputs
from vinylmon.errors import WeightsError
from vinylmon.models.bundle import save_bundle
from vinylmon.models.grader import (
    MEASURE_OFFSET_DB,
    MEASURE_OUTPUTS,
    MEASURE_SCALE_DB,
    build_grader,
)
from vinylmon.models.inference import Detector, analyse_excerpt
from vinylmon.models.measures import MeasuresConfig, decode, encode
from vinylmon.simulate import CrackleSpec, DamageSpec, NoiseSpec, simulate


@pytest.fixture(scope="module")
def detector():
    return Detector(device="cpu", measures=False)


def test_encode_decode_round_trip():
    n, k = decode(encode([-63.0, -20.0], [0.0, 42.0]))
    np.testing.assert_allclose(n, [-63.0, -20.0], atol=1e-4)
    np.testing.assert_allclose(k, [0.0, 42.0], rtol=1e-5)
    assert MeasuresConfig().features == n_inputs()


def test_without_measures_k_comes_from_the_count_heads(detector, music):
    assert detector.measures is None
    d = simulate(music(10.0), DamageSpec(seed=3, crackle=CrackleSpec(rate_per_s=30.0),
                                         noise=NoiseSpec(hiss_db=-60.0)))
    a = analyse_excerpt(d.audio, detector, repeats=[])
    outs = [o for o, s in zip(a.outputs, a.silent, strict=True) if not s]
    assert len(outs) == 2 and None not in outs
    for o in outs:
        assert o.crackle_per_s == pytest.approx(max(0.0, o.impulses - o.clicks) / 5.0)
    # the side's k: the windows' densities (equal lengths here), as the app measures it
    assert a.side.quantities.crackle_per_s == pytest.approx(
        np.mean([o.crackle_per_s for o in outs]))


def test_a_measures_bundle_sets_each_windows_noise_and_crackle(tmp_path, music,
                                                               measures_bundle):
    det = Detector(device="cpu", measures=measures_bundle(tmp_path / "measures"))
    assert det.measures is not None
    outs = det.run([music(5.0), music(5.0)])
    for o in outs:
        assert o.noise_db == pytest.approx(-47.0, abs=1e-3)
        assert o.crackle_per_s == pytest.approx(3.0, rel=1e-4)


def test_a_bundle_used_for_n_alone_leaves_k_to_the_count_heads(tmp_path, music, detector,
                                                                measures_bundle):
    det = Detector(device="cpu",
                   measures=measures_bundle(tmp_path / "measures", use=["noise_db"]))
    x = [music(5.0), music(5.0)]
    outs, heads = det.run(x), detector.run(x)
    for o, h in zip(outs, heads, strict=True):
        assert o.noise_db == pytest.approx(-47.0, abs=1e-3)
        assert h.noise_db != pytest.approx(-47.0, abs=0.5)
        assert o.crackle_per_s == pytest.approx(h.crackle_per_s)
        assert o.crackle_per_s == pytest.approx(max(0.0, o.impulses - o.clicks) / 5.0)
    assert detector.counts_crackle  # (the shipped verifier counts crackle)
    # the verifier still counts k (its ticks, raised to the heads' density), as without it
    assert det.counts_crackle == detector.counts_crackle
    assert det.crackle_method == detector.crackle_method


def test_a_damaged_measures_bundle_is_refused(tmp_path, measures_bundle):
    folder = measures_bundle(tmp_path / "measures")
    raw = bytearray((folder / "model.pt").read_bytes())
    raw[len(raw) // 2] ^= 1
    (folder / "model.pt").write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="does not match"):
        Detector(device="cpu", measures=folder)


def _grader_bundle(folder, *, noise_db=-52.0, crackle=7.0, measures=True):
    """A stereo grader bundle whose measures head is constant."""
    torch.manual_seed(0)
    g = build_grader("stereo")
    with torch.no_grad():
        last = g.measure_head[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([(noise_db - MEASURE_OFFSET_DB) / MEASURE_SCALE_DB,
                                      np.log1p(crackle), 0.0]))
    meta = {"name": "grader", "version": "0.0.1", "architecture": "test",
            "params": {"size": "stereo", "config": g.config}, "sample_rate": 44100,
            "labels": ["NM", "VG+", "VG", "G+", "G", "F"], "training_data": "none (a test)",
            "metrics": {}}
    if measures:
        meta["measures"] = {"outputs": list(MEASURE_OUTPUTS)}
    save_bundle(folder, {k: v.contiguous() for k, v in g.state_dict().items()}, meta)
    return folder


def test_a_stereo_grader_bundle_measures_each_window(tmp_path, music):
    det = Detector(device="cpu", measures=_grader_bundle(tmp_path / "grader"))
    assert "stereo grader" in det.measures.source
    outs = det.run([music(5.0), music(5.0)])
    for o in outs:
        assert o.noise_db == pytest.approx(-52.0, abs=1e-3)
        assert o.crackle_per_s == pytest.approx(7.0, rel=1e-4)


def test_a_grader_bundle_without_measures_is_refused_as_measures(tmp_path):
    with pytest.raises(WeightsError, match="measures"):
        Detector(device="cpu", measures=_grader_bundle(tmp_path / "g", measures=False))

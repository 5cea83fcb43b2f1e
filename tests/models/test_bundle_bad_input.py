"""Weights bundles: a damaged, tampered or hostile file is refused with WeightsError."""

import json
import pickle

import pytest
import torch

from vinylmon.errors import WeightsError
from vinylmon.models.bundle import load_bundle, read_meta, save_bundle, sha256_file
from vinylmon.models.inference import Detector

META = {"name": "tiny", "version": "0.0.1", "architecture": "linear", "params": {"n": 4},
        "sample_rate": 44100, "labels": ["a", "b"], "training_data": "none (test)",
        "metrics": {}}


@pytest.fixture
def bundle(tmp_path):
    torch.manual_seed(0)
    state = {"w": torch.randn(4, 2), "b": torch.zeros(2), "steps": torch.tensor(3)}
    save_bundle(tmp_path / "tiny", state, META)
    return tmp_path / "tiny", state


def test_round_trip(bundle):
    folder, state = bundle
    loaded, meta = load_bundle(folder)
    assert meta["sha256"] == sha256_file(folder / "model.pt")
    assert meta["labels"] == ["a", "b"]
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_one_flipped_byte_is_refused(bundle):
    folder, _ = bundle
    raw = bytearray((folder / "model.pt").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (folder / "model.pt").write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="does not match"):
        load_bundle(folder)


def test_code_running_pickle_is_refused_even_with_a_matching_hash(bundle, tmp_path):
    folder, _ = bundle
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(folder / "model.pt", "wb") as f:
        pickle.dump({"w": Evil()}, f, protocol=2)
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"] = sha256_file(folder / "model.pt")  # an attacker can fix the hash too
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="not a plain tensor file"):
        load_bundle(folder)
    assert not marker.exists()


def test_non_finite_weights_are_refused(tmp_path):
    save_bundle(tmp_path / "nan", {"w": torch.tensor([1.0, float("nan")])}, META)
    with pytest.raises(WeightsError, match="non-finite"):
        load_bundle(tmp_path / "nan")


def test_missing_and_malformed_meta(bundle, tmp_path):
    folder, _ = bundle
    with pytest.raises(WeightsError, match="not a weights bundle"):
        load_bundle(tmp_path / "nowhere")
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(WeightsError, match="unreadable"):
        read_meta(folder)
    (folder / "meta.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(WeightsError, match="missing"):
        read_meta(folder)


def test_missing_weights_file(bundle):
    folder, _ = bundle
    (folder / "model.pt").unlink()
    with pytest.raises(WeightsError, match="no model.pt"):
        load_bundle(folder)


def test_truncated_file_with_matching_hash(bundle):
    folder, _ = bundle
    raw = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(raw[: len(raw) // 3])
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"] = sha256_file(folder / "model.pt")
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="not a plain tensor file"):
        load_bundle(folder)


def test_save_needs_complete_meta(tmp_path):
    with pytest.raises(ValueError, match="meta lacks"):
        save_bundle(tmp_path / "x", {"w": torch.ones(1)}, {"name": "x"})


@pytest.mark.parametrize("use", [[], ["noise"], "noise_db", [1]])
def test_a_measures_bundle_with_a_bad_use_is_refused(tmp_path, use, measures_bundle):
    with pytest.raises(WeightsError, match="'use'"):
        Detector(device="cpu", measures=measures_bundle(tmp_path / "measures", use=use))

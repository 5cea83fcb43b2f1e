"""Shared fixtures of the models' tests."""

import json
import shutil

import pytest
import torch

from vinylmon.models.bundle import save_bundle
from vinylmon.models.inference import WEIGHTS_DIR
from vinylmon.models.measures import OUTPUTS, MeasuresConfig, build_measures, encode


@pytest.fixture
def measures_bundle():
    """Makes a window-measures bundle whose output is constant: ``make(folder, *,
    noise_db=-47.0, crackle=3.0, use=None)``; ``use``: its meta's ``use`` (None: no key,
    so both outputs)."""
    def make(folder, *, noise_db=-47.0, crackle=3.0, use=None):
        torch.manual_seed(0)
        m = build_measures()
        with torch.no_grad():
            last = m.net[-1]
            last.weight.zero_()
            last.bias.copy_(torch.from_numpy(encode([noise_db], [crackle])[0]))
        save_bundle(folder, {k: v.contiguous() for k, v in m.state_dict().items()},
                    {"name": "measures", "version": "0.0.1", "architecture": "test",
                     "params": MeasuresConfig().to_dict(), "sample_rate": 44100,
                     "labels": {"outputs": list(OUTPUTS)}, "training_data": "none (a test)",
                     "metrics": {}, **({} if use is None else {"use": use})})
        return folder
    return make


@pytest.fixture
def verifier_bundle(tmp_path):
    """``make(name, **postprocess)``: a copy of the shipped verifier bundle under
    ``tmp_path / name`` with those ``postprocess`` settings (None removes one)."""
    def make(name: str, **postprocess):
        folder = tmp_path / name / "verifier"
        shutil.copytree(WEIGHTS_DIR / "verifier", folder)
        meta = json.loads((folder / "meta.json").read_text())
        for key, value in postprocess.items():
            if value is None:
                meta["postprocess"].pop(key, None)
            else:
                meta["postprocess"][key] = value
        (folder / "meta.json").write_text(json.dumps(meta))
        return folder
    return make

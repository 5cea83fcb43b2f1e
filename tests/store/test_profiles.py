"""Microphone profiles: saved atomically in the user data folder, listed, selected by
device, switched off, renamed, removed; a broken one falls back to the base models."""

import json

import numpy as np
import pytest

from vinylmon.cli.monitor import AppBackend
from vinylmon.models.inference import WEIGHTS_DIR
from vinylmon.store import profiles as pf
from vinylmon.store.profiles import (
    ProfileError,
    list_profiles,
    load_profile_models,
    profile_for_device,
    remove_profile,
    rename_profile,
    save_profile,
    set_enabled,
)


def leftovers(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def test_save_list_load(fake_result, tmp_path, music):
    info = save_profile("USB mic", fake_result, device_name="USB Audio Device", root=tmp_path)
    assert info.path == tmp_path / "USB mic" and info.enabled and info.problem is None
    assert (info.path / "detector" / "model.pt").is_file()
    assert (info.path / "grader" / "model.pt").is_file()
    meta = json.loads((info.path / "detector" / "meta.json").read_text())
    assert meta["version"] == "1.1.0+mic.USB-mic"
    assert meta["profile"]["base"] == "detector@1.1.0"
    assert meta["profile"]["device_name"] == "USB Audio Device"
    assert meta["postprocess"]["threshold"] == 0.7
    assert meta["metrics"]["finetune"]["before"]["base_val"]["event_f1"] == 0.8
    data = json.loads((info.path / "profile.json").read_text())
    assert data["base"] == {"detector": "detector@1.1.0", "grader": "grader@1.0.0"}
    assert data["metrics"]["after"]["take"]["class_accuracy"] is None  # NaN: strict JSON
    assert data["created"] and data["take"]["grade"] == "NM"
    assert [p.name for p in list_profiles(tmp_path)] == ["USB mic"]
    assert leftovers(tmp_path) == []

    det, grader, warning = load_profile_models("USB mic", device="cpu", root=tmp_path)
    assert warning is None
    assert det.folder == info.path / "detector" and det.postprocess.threshold == 0.7
    assert grader.folder == info.path / "grader"
    assert len(det.run([music(5.0)])) == 1


def test_selected_by_device_and_switched_off(fake_result, tmp_path):
    save_profile("desk", fake_result, device_name="USB Audio Device", root=tmp_path)
    save_profile("laptop", fake_result, device_name="Built-in Microphone", root=tmp_path)
    assert profile_for_device("USB Audio Device", root=tmp_path).name == "desk"
    assert profile_for_device("Built-in Microphone", root=tmp_path).name == "laptop"
    assert profile_for_device("Other", root=tmp_path) is None
    assert profile_for_device(None, root=tmp_path) is None
    assert not set_enabled("desk", False, root=tmp_path).enabled
    assert profile_for_device("USB Audio Device", root=tmp_path) is None
    assert {p.name: p.enabled for p in list_profiles(tmp_path)} == {"desk": False,
                                                                    "laptop": True}
    set_enabled("desk", True, root=tmp_path)
    assert profile_for_device("USB Audio Device", root=tmp_path).name == "desk"


def test_rename_and_remove(fake_result, tmp_path):
    save_profile("a", fake_result, device_name="dev", root=tmp_path)
    save_profile("b", fake_result, device_name="dev2", root=tmp_path)
    with pytest.raises(ProfileError, match="already exists"):
        rename_profile("a", "b", root=tmp_path)
    info = rename_profile("a", "kitchen mic", root=tmp_path)
    assert info.name == "kitchen mic" and info.device_name == "dev"
    assert json.loads((info.path / "profile.json").read_text())["name"] == "kitchen mic"
    assert [p.name for p in list_profiles(tmp_path)] == ["b", "kitchen mic"]
    remove_profile("kitchen mic", root=tmp_path)
    assert [p.name for p in list_profiles(tmp_path)] == ["b"]
    with pytest.raises(ProfileError, match="no profile named"):
        remove_profile("kitchen mic", root=tmp_path)
    assert leftovers(tmp_path) == []


def test_save_replaces_only_when_complete(fake_result, tmp_path, monkeypatch):
    first = save_profile("mic", fake_result, device_name="old device", root=tmp_path)
    before = (first.path / "detector" / "model.pt").read_bytes()

    import vinylmon.models.bundle as bundle

    real = bundle.save_bundle
    calls = []

    def failing(folder, state, meta):
        calls.append(folder)
        if len(calls) == 2:  # the detector is written, the grader fails
            raise OSError(28, "No space left on device")
        return real(folder, state, meta)

    monkeypatch.setattr(bundle, "save_bundle", failing)
    with pytest.raises(OSError):
        save_profile("mic", fake_result, device_name="new device", root=tmp_path)
    info = list_profiles(tmp_path)
    assert [(p.name, p.device_name) for p in info] == [("mic", "old device")]
    assert (first.path / "detector" / "model.pt").read_bytes() == before
    assert leftovers(tmp_path) == []
    monkeypatch.setattr(bundle, "save_bundle", real)
    again = save_profile("mic", fake_result, device_name="new device", root=tmp_path)
    assert again.device_name == "new device" and leftovers(tmp_path) == []


@pytest.mark.parametrize("damage", ["tamper", "no_meta", "bad_json", "missing"])
def test_broken_profile_falls_back_to_base_models_with_a_warning(fake_result, tmp_path,
                                                                  damage):
    info = save_profile("mic", fake_result, device_name="dev", root=tmp_path)
    if damage == "tamper":
        w = info.path / "detector" / "model.pt"
        data = bytearray(w.read_bytes())
        data[-100] ^= 0xFF
        w.write_bytes(bytes(data))
    elif damage == "no_meta":
        (info.path / "grader" / "meta.json").unlink()
    elif damage == "bad_json":
        (info.path / "profile.json").write_text("{not json")
    name = "gone" if damage == "missing" else "mic"
    det, grader, warning = load_profile_models(name, device="cpu", root=tmp_path)
    assert warning and "using the base models" in warning and repr(name) in warning
    assert det.folder == WEIGHTS_DIR / "detector"
    assert grader.folder == WEIGHTS_DIR / "grader"
    if damage == "tamper":
        assert "sha256" in warning
    if damage == "bad_json":
        assert list_profiles(tmp_path)[0].problem  # listed, so it can be removed
        assert profile_for_device("dev", root=tmp_path) is None


@pytest.mark.parametrize("name", ["", "   ", "../evil", "a/b", "a\\b", "..", ".hidden",
                                  "x" * 65, "base", "None", "a\0b", "trailing.", "-dash"])
def test_bad_names_are_refused(fake_result, tmp_path, name):
    with pytest.raises(ProfileError):
        save_profile(name, fake_result, device_name="dev", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_rename_to_a_bad_name_is_refused(fake_result, tmp_path):
    save_profile("ok", fake_result, device_name="dev", root=tmp_path)
    with pytest.raises(ProfileError):
        rename_profile("ok", "../../escape", root=tmp_path)
    assert [p.name for p in list_profiles(tmp_path)] == ["ok"]


def test_never_writes_under_the_shipped_weights(fake_result):
    with pytest.raises(ProfileError, match="shipped weights"):
        save_profile("x", fake_result, device_name="dev", root=WEIGHTS_DIR / "profiles")
    assert not (WEIGHTS_DIR / "profiles").exists()


def test_default_root_is_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert pf.profiles_root() == tmp_path / "vinylmon" / "profiles"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pf.profiles_root() == tmp_path / ".local" / "share" / "vinylmon" / "profiles"


def test_app_backend_switches_profiles(fake_result, tmp_path, cpu_engine, music):
    backend = AppBackend(engine=cpu_engine, profiles_root=tmp_path, journal_dir=tmp_path / "j")
    assert backend.profiles() == ["base"]
    save_profile("desk", fake_result, device_name="USB Audio Device", root=tmp_path)
    save_profile("off", fake_result, device_name="Other", root=tmp_path)
    backend.set_profile_enabled("off", False)
    assert backend.profiles() == ["base", "desk"]
    assert [p.name for p in backend.profile_infos()] == ["desk", "off"]
    assert backend.profile_for_device("USB Audio Device") == "desk"
    assert backend.use_profile_for_device("USB Audio Device") == ("desk", None)
    assert backend.engine is backend.monitor.engine is not cpu_engine
    assert backend.engine.detector.folder == tmp_path / "desk" / "detector"
    assert backend.engine.models()["detector"] == "detector@1.1.0+mic.desk"
    assert backend.engine.analyse  # a working engine
    backend.rename_profile("desk", "desk 2")
    assert backend.active_profile == "desk 2"
    assert backend.use_profile(None) is None
    assert backend.engine is cpu_engine and backend.active_profile is None
    (tmp_path / "desk 2" / "detector" / "model.pt").write_bytes(b"tampered")
    warning = backend.use_profile("desk 2")
    assert "using the base models" in warning
    assert backend.engine is cpu_engine and backend.active_profile is None
    backend.remove_profile("desk 2")
    assert backend.profiles() == ["base"]
    assert np.isfinite(backend.engine.detector.run([music(5.0)])[0].class_probs).all()


def test_a_profile_carries_its_fine_tuned_click_verifier(fake_result, tmp_path, music):
    """The verifier's weights and its acceptance for the microphone travel with the
    profile; a profile without one keeps the base verifier."""
    import dataclasses

    import torch

    from vinylmon.models.inference import Detector

    base = Detector(device="cpu")
    if base.verifier is None:
        pytest.skip("no click verifier shipped")
    state = {k: v + 0.01 if v.is_floating_point() else v
             for k, v in base.verifier.state_dict().items()}
    vmeta = json.loads((WEIGHTS_DIR / "verifier" / "meta.json").read_text())
    vmeta["postprocess"] = {**vmeta["postprocess"], "accept": 0.61}
    with_v = dataclasses.replace(fake_result, verifier_state=state, verifier_meta=vmeta)
    info = save_profile("Laptop mic", with_v, device_name=None, root=tmp_path)
    meta = json.loads((info.path / "verifier" / "meta.json").read_text())
    assert meta["profile"]["base"].startswith("verifier@") and "+mic.Laptop-mic" in meta["version"]
    det, _, warning = load_profile_models("Laptop mic", device="cpu", root=tmp_path)
    assert warning is None
    assert det.verifier_folder == info.path / "verifier" and det.accept == pytest.approx(0.61)
    # the base bundle's lower acceptance for windows that click is held to the profile's
    assert det.accept_clicked is None or det.accept_clicked <= det.accept
    for k, v in det.verifier.state_dict().items():
        torch.testing.assert_close(v, state[k])
    det.events(music(5.0), det.run([music(5.0)])[0])  # it runs
    # a profile made before verifiers were fine-tuned
    save_profile("Old mic", fake_result, device_name=None, root=tmp_path)
    old, _, _ = load_profile_models("Old mic", device="cpu", root=tmp_path)
    assert old.verifier_folder == WEIGHTS_DIR / "verifier"

"""Damaged weights, loaded the way the app loads them: the shipped bundles (``vinylmon/weights/``)
and a microphone profile's, truncated, with a byte flipped, or with ``meta.json`` altered.

Every damage is refused with one WeightsError that names the file. A damaged profile
makes the app fall back to the base models with a warning; damaged shipped weights stop
``vinylmon`` and ``vinylmon grade`` with one line on stderr (no traceback) and exit 2.

``model.pt`` is hash-checked against ``meta.json``, so any change to it is caught by the
hash; ``meta.json`` itself is not hashed, so an altered one that still names the right
hash must be caught by checking what it says (architecture, rates, labels, thresholds).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.monitor import AppBackend
from vinylmon.engine.engine import Engine
from vinylmon.errors import WeightsError
from vinylmon.models import inference
from vinylmon.models.inference import WEIGHTS_DIR, Detector, LearnedGrader
from vinylmon.store.profiles import load_profile_models, save_profile


def _truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _flip(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0x01  # one bit
    path.write_bytes(bytes(raw))


def _flip_first(path):
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0x01  # '{' becomes 'z'
    path.write_bytes(bytes(raw))


def _edit_meta(**changes):
    def edit(folder):
        path = folder / "meta.json"
        meta = json.loads(path.read_text())
        for key, value in changes.items():
            if callable(value):
                value(meta)
            else:
                meta[key] = value
        path.write_text(json.dumps(meta))
    return edit


def _set_in(*keys, value):
    def edit(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


#: (bundle, damage, the file the error must name, a phrase it must hold)
DAMAGES = {
    "detector model.pt truncated": ("detector", lambda f: _truncate(f / "model.pt"),
                                    "model.pt", "sha256"),
    "detector model.pt emptied": ("detector", lambda f: (f / "model.pt").write_bytes(b""),
                                  "model.pt", "sha256"),
    "detector model.pt one bit flipped": ("detector", lambda f: _flip(f / "model.pt"),
                                          "model.pt", "damaged or was changed"),
    "grader model.pt truncated": ("grader", lambda f: _truncate(f / "model.pt"), "model.pt",
                                  "sha256"),
    "grader model.pt one bit flipped": ("grader", lambda f: _flip(f / "model.pt"), "model.pt",
                                        "sha256"),
    "detector model.pt missing": ("detector", lambda f: (f / "model.pt").unlink(), "detector",
                                  "no model.pt"),
    "detector meta.json truncated": ("detector", lambda f: _truncate(f / "meta.json"),
                                     "meta.json", "unreadable"),
    "grader meta.json first byte flipped": ("grader", lambda f: _flip_first(f / "meta.json"),
                                           "meta.json", "unreadable"),
    "detector meta.json names another hash": ("detector", _edit_meta(sha256="0" * 64),
                                              "model.pt", "does not match"),
    "detector meta.json unknown architecture": (
        "detector", _edit_meta(params=_set_in("params", "layers", value=7)), "meta.json",
        "'params' do not describe a detector"),
    "detector meta.json other architecture": (
        "detector", _edit_meta(params=_set_in("params", "width", value=48)), "detector",
        "do not fit the architecture"),
    "detector meta.json sample rate": ("detector", _edit_meta(sample_rate="44.1k"),
                                       "meta.json", "'sample_rate'"),
    "detector meta.json window": ("detector", _edit_meta(window_s=-5.0), "meta.json",
                                  "'window_s'"),
    "detector meta.json classes": (
        "detector", _edit_meta(labels=_set_in("labels", "classes",
                                              value=["clean", "crackle", "click", "scratch",
                                                     "noise"])),
        "meta.json", "'labels.classes'"),
    "detector meta.json threshold": (
        "detector", _edit_meta(postprocess=_set_in("postprocess", "threshold", value="low")),
        "meta.json", "'postprocess.threshold'"),
    "verifier model.pt one bit flipped": ("verifier", lambda f: _flip(f / "model.pt"),
                                          "model.pt", "does not match meta.json"),
    "verifier meta.json outputs": (
        "verifier", _edit_meta(labels=_set_in("labels", "outputs", value=["logit"])),
        "meta.json", "'labels.outputs'"),
    "verifier meta.json accept": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "accept", value=7)),
        "meta.json", "'postprocess.accept'"),
    "verifier meta.json crackle floor above the click floor": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "crackle_floor_db",
                                                   value=-3.0)),
        "meta.json", "'postprocess.crackle_floor_db'"),
    "verifier meta.json crackle floor not a number": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "crackle_floor_db",
                                                   value="deep")),
        "meta.json", "'postprocess.crackle_floor_db'"),
    "verifier meta.json negative crackle gate": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "crackle_gate_per_s",
                                                   value=-1.0)),
        "meta.json", "'postprocess.crackle_gate_per_s'"),
    "verifier meta.json both-channel offset out of range": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "both_logit_offset",
                                                   value=-50.0)),
        "meta.json", "'postprocess.both_logit_offset'"),
    "verifier meta.json clicked-window offset not a number": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "both_logit_offset_clicked",
                                                   value="lax")),
        "meta.json", "'postprocess.both_logit_offset_clicked'"),
    "verifier meta.json clicked-window acceptance over 1": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "accept_clicked",
                                                   value=1.5)),
        "meta.json", "'postprocess.accept_clicked'"),
    "verifier meta.json faint peak offsets not pairs": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "faint_peak_offsets_db",
                                                   value=[-20.0, -3.0])),
        "meta.json", "'postprocess.faint_peak_offsets_db'"),
    "verifier meta.json faint peak offset raising a peak": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "faint_peak_offsets_db",
                                                   value=[[-20.0, 3.0]])),
        "meta.json", "'postprocess.faint_peak_offsets_db[0].offset'"),
    "verifier meta.json faint peak knots out of order": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "faint_peak_offsets_db",
                                                   value=[[-15.0, -2.0], [-25.0, -3.0]])),
        "meta.json", "peaks are not increasing"),
    "verifier meta.json faint peak knot over the click floor": (
        "verifier", _edit_meta(postprocess=_set_in("postprocess", "faint_peak_offsets_db",
                                                   value=[[-5.0, -2.0]])),
        "meta.json", "'postprocess.faint_peak_offsets_db[0].peak'"),
    "verifier meta.json other architecture": (
        "verifier", _edit_meta(params=_set_in("params", "members", 0, "width", value=48)),
        "verifier",
        "do not fit the architecture"),
    "grader meta.json grades reordered": (
        "grader", _edit_meta(labels=["F", "G", "G+", "VG", "VG+", "NM"]), "meta.json",
        "'labels'"),
    "grader meta.json size": ("grader", _edit_meta(params={"size": "huge"}), "meta.json",
                              "'params' do not describe a grader"),
    "grader meta.json metrics": ("grader", _edit_meta(metrics=[0.9]), "meta.json",
                                 "'metrics'"),
}


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of ``vinylmon/weights/`` that the default loaders (``Detector()``, ``Engine()``,
    ``AppBackend()``) read instead of the shipped one."""
    root = tmp_path / "weights"
    for part in ("detector", "grader", "verifier"):
        shutil.copytree(WEIGHTS_DIR / part, root / part)
    monkeypatch.setattr(inference, "WEIGHTS_DIR", root)
    return root


def _check_refusal(exc, folder, file, phrase):
    msg = str(exc)
    assert "\n" not in msg, msg
    named = folder / file if file in ("model.pt", "meta.json") else folder
    assert str(named) in msg, msg
    assert phrase in msg, msg


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_shipped_weights_are_refused_naming_the_file(shipped_copy, damage):
    part, harm, file, phrase = DAMAGES[damage]
    folder = shipped_copy / part
    harm(folder)
    load = LearnedGrader if part == "grader" else Detector
    with pytest.raises(WeightsError) as direct:
        load(device="cpu")  # the default folder, as the app loads it
    _check_refusal(direct.value, folder, file, phrase)
    with pytest.raises(WeightsError) as via_engine:
        Engine(device="cpu")
    assert str(via_engine.value) == str(direct.value)
    with pytest.raises(WeightsError):
        AppBackend(device="cpu", journal_dir=shipped_copy.parent / "journal")
    assert not (shipped_copy.parent / "journal").exists()  # nothing half-started


def test_the_intact_copy_loads(shipped_copy):
    """The damage, not the copying, is what the tests above refuse."""
    det, gr = Detector(device="cpu"), LearnedGrader(device="cpu")
    assert det.folder == shipped_copy / "detector" and gr.folder == shipped_copy / "grader"
    assert det.verifier_folder == shipped_copy / "verifier"
    assert Engine(detector=det, grader=gr).learned_weight > 0


def test_a_grader_without_measured_accuracy_gets_no_weight(shipped_copy):
    """``metrics.validation.grade.exact`` of another type (an altered meta.json), or
    only a test-split accuracy (the weight comes from validation): the learned grader
    gets no say in the grade instead of crashing the engine."""
    _edit_meta(metrics={"validation": ["0.9"]})(shipped_copy / "grader")
    assert Engine(device="cpu").learned_weight == 0.0
    _edit_meta(metrics={"validation": {"grade": {"exact": "0.9"}}})(shipped_copy / "grader")
    assert Engine(device="cpu").learned_weight == 0.0
    _edit_meta(metrics={"test": {"grade": {"exact": 0.9}}})(shipped_copy / "grader")
    assert Engine(device="cpu").learned_weight == 0.0
    _edit_meta(metrics={"validation": {"grade": {"exact": 0.9}}})(shipped_copy / "grader")
    assert Engine(device="cpu").learned_weight > 0.8


def test_a_huge_tampered_value_makes_a_short_message(shipped_copy):
    _edit_meta(labels=["NM"] * 100_000)(shipped_copy / "grader")
    with pytest.raises(WeightsError) as exc:
        LearnedGrader(device="cpu")
    assert len(str(exc.value)) < 300 and "'labels'" in str(exc.value)


# ---- a microphone profile's weights ---------------------------------------------------

#: The profile's bundles are loaded by the same classes as the shipped ones (all the
#: damages above); these check the fallback, one of each kind.
PROFILE_DAMAGES = ["detector model.pt truncated", "grader model.pt one bit flipped",
                   "detector meta.json truncated", "detector meta.json unknown architecture",
                   "detector meta.json threshold", "grader meta.json grades reordered",
                   "grader meta.json metrics"]


@pytest.fixture(scope="module")
def pristine_profile(fake_result, tmp_path_factory):
    root = tmp_path_factory.mktemp("profiles")
    save_profile("desk mic", fake_result, device_name="USB Audio", root=root)
    return root


@pytest.mark.parametrize("damage", PROFILE_DAMAGES)
def test_damaged_profile_falls_back_to_the_base_models(pristine_profile, cpu_engine, tmp_path,
                                                        music, damage):
    part, harm, file, phrase = DAMAGES[damage]
    root = tmp_path / "profiles"
    shutil.copytree(pristine_profile, root)
    folder = root / "desk mic" / part
    harm(folder)
    # the app: the profile of this input is chosen, refused, and the base models run
    backend = AppBackend(engine=cpu_engine, profiles_root=root, journal_dir=tmp_path / "j")
    assert backend.profile_for_device("USB Audio") == "desk mic"
    name, warning = backend.use_profile_for_device("USB Audio")
    assert name is None and backend.active_profile is None
    assert backend.engine is backend.monitor.engine is cpu_engine
    assert warning is not None and "\n" not in warning
    assert "'desk mic'" in warning and "using the base models" in warning
    named = folder / file if file in ("model.pt", "meta.json") else folder
    assert str(named) in warning and phrase in warning, warning
    out = backend.engine.detector.run([music(5.0)])[0]
    assert np.isfinite(out.class_probs).all()


def test_load_profile_models_hands_back_the_base_models(pristine_profile, tmp_path):
    root = tmp_path / "profiles"
    shutil.copytree(pristine_profile, root)
    det, grader, warning = load_profile_models("desk mic", device="cpu", root=root)
    assert warning is None and det.folder == root / "desk mic" / "detector"
    _truncate(root / "desk mic" / "grader" / "model.pt")
    det, grader, warning = load_profile_models("desk mic", device="cpu", root=root)
    assert det.folder == WEIGHTS_DIR / "detector" and grader.folder == WEIGHTS_DIR / "grader"
    assert str(root / "desk mic" / "grader" / "model.pt") in warning


# ---- the command line ------------------------------------------------------------------

_RUN = """
import sys
from pathlib import Path
import vinylmon.models.inference as inference
inference.WEIGHTS_DIR = Path(sys.argv[1])
if sys.argv[2] == "monitor":  # the start-up dialog would wait for a click: say it instead
    from PySide6.QtWidgets import QMessageBox
    QMessageBox.critical = staticmethod(lambda parent, title, text: print("DIALOG", title,
                                                                          text, sep="|"))
from vinylmon.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def _vinylmon(tmp_path, weights, *args):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", _RUN, str(weights), *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.fixture
def broken_weights(tmp_path):
    root = tmp_path / "weights"
    for part in ("detector", "grader", "verifier"):
        shutil.copytree(WEIGHTS_DIR / part, root / part)
    _truncate(root / "detector" / "model.pt")
    return root


def test_vinylmon_grade_with_damaged_weights_is_one_line(tmp_path, broken_weights, music):
    wav = tmp_path / "side.wav"
    sf.write(wav, music(3.0).T, 44100)
    r = _vinylmon(tmp_path, broken_weights, "grade", str(wav), "--device", "cpu", "--quiet")
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("vinylmon: ") and "Traceback" not in r.stderr
    assert str(broken_weights / "detector" / "model.pt") in lines[0]
    assert "damaged or was changed" in lines[0]
    assert r.stdout.strip() == ""  # no table header for a run that never started


def test_vinylmon_monitor_with_damaged_weights_is_one_line_and_one_dialog(tmp_path,
                                                                          broken_weights):
    r = _vinylmon(tmp_path, broken_weights, "monitor", "--no-start", "--compute", "cpu")
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("vinylmon: cannot start: ") and "Traceback" not in r.stderr
    assert str(broken_weights / "detector" / "model.pt") in lines[0]
    dialogs = [x for x in r.stdout.splitlines() if x.startswith("DIALOG|")]
    assert len(dialogs) == 1, r.stdout
    _, title, text = dialogs[0].split("|", 2)
    assert title == "vinylmon cannot start" and lines[0].endswith(text)
    # a clean state: no session journal begun; the details are in the log
    state = tmp_path / "state" / "vinylmon"
    assert sorted(p.name for p in state.iterdir()) == ["vinylmon.log"]
    log = (state / "vinylmon.log").read_text()
    assert "cannot start" in log and "Traceback" in log

"""Package boundaries: audio/ never pulls in Qt or torch (except its front-end); gui/ never
pulls in torch or sounddevice (the engine reaches it through signals)."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "vinylmon"


def imported_roots(path):
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def assert_import_loads_none_of(modules, forbidden):
    """Importing ``modules`` in a fresh interpreter loads none of ``forbidden``."""
    code = (f"import sys, {', '.join(modules)}; "
            f"bad = [m for m in {tuple(forbidden)!r} if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_importing_vinylmon_audio_loads_neither_torch_nor_qt():
    assert_import_loads_none_of(["vinylmon.audio", "vinylmon.audio.capture"],
                                ["torch", "torchaudio", "PySide6", "pyqtgraph"])


def test_audio_sources_import_no_qt_and_torch_only_in_frontend():
    for path in sorted((PKG / "audio").glob("*.py")):
        roots = imported_roots(path)
        assert not roots & {"PySide6", "pyqtgraph"}, path
        if path.name != "frontend.py":
            assert not roots & {"torch", "torchaudio"}, path


def test_sounddevice_only_in_capture():
    for path in sorted(PKG.rglob("*.py")):
        if path.name != "capture.py":
            assert "sounddevice" not in imported_roots(path), path


def test_models_import_no_qt_and_no_sounddevice():
    for path in sorted((PKG / "models").glob("*.py")):
        roots = imported_roots(path)
        assert not roots & {"PySide6", "pyqtgraph", "sounddevice"}, path


def test_engine_imports_no_qt_and_its_report_pieces_no_torch():
    for path in sorted((PKG / "engine").glob("*.py")):
        roots = imported_roots(path)
        assert not roots & {"PySide6", "pyqtgraph", "sounddevice"}, path
    assert_import_loads_none_of(
        ["vinylmon.engine.html", "vinylmon.engine.schema", "vinylmon.engine.cli_grade",
         "vinylmon.engine.journal"],
        ["torch", "torchaudio", "PySide6"])


def test_gui_never_imports_torch_or_sounddevice():
    modules = sorted(f"vinylmon.gui.{p.stem}" for p in (PKG / "gui").glob("*.py")
                     if p.stem != "__init__")
    assert "vinylmon.gui.main_window" in modules
    for path in sorted((PKG / "gui").glob("*.py")):
        assert not imported_roots(path) & {"torch", "torchaudio", "sounddevice"}, path
    assert_import_loads_none_of(modules, ["torch", "torchaudio", "sounddevice"])


def test_training_data_makers_import_neither_qt_nor_torch():
    """The on-the-fly training data (verifier scenes, measure windows) is numpy/scipy: it
    runs in data-loader processes that need no torch of their own."""
    for path in sorted((PKG / "training").glob("*.py")):
        roots = imported_roots(path)
        assert not roots & {"PySide6", "pyqtgraph", "sounddevice", "torch", "torchaudio"}, path

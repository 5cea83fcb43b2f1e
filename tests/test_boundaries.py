"""Package boundaries (ARCHITECTURE.md): each package states which of vinylmon's
packages and which heavy libraries it may import, so the flow runs one way:
audio -> grading/simulate -> models -> engine/training -> reports -> live -> cli, and
gui sees only grading's records."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "vinylmon"
QT = {"PySide6", "pyqtgraph"}
TORCH = {"torch", "torchaudio"}
SD = {"sounddevice"}
WEB = {"fastapi", "uvicorn"}

#: package -> (vinylmon packages it may import, libraries it must not import)
RULES = {
    "audio": ({"audio"}, QT | WEB),  # torch: the front end only (below)
    "grading": ({"grading"}, QT | TORCH | SD | WEB),
    "simulate": ({"audio", "grading", "simulate"}, QT | TORCH | SD | WEB),
    "models": ({"audio", "grading", "models"}, QT | SD | WEB),
    "training": ({"audio", "grading", "simulate", "models", "training"}, QT | SD | WEB),
    "engine": ({"audio", "grading", "models", "engine"}, QT | SD | WEB),
    "reports": ({"grading", "engine", "reports"}, QT | TORCH | SD | WEB),
    "live": ({"audio", "grading", "engine", "reports", "store", "live"}, QT | SD | WEB),
    "store": ({"models", "store"}, QT | SD | WEB),
    "cli": ({"audio", "grading", "models", "training", "engine", "reports", "live", "store",
             "cli", "gui", "serve"}, SD | WEB),
    "gui": ({"grading", "gui"}, TORCH | SD | WEB),
    # the web server: jobs graded through cli.grade's one path from a file to its report
    # (see test_serve_takes_only_the_grading_path_from_cli); never Qt, torch or the card
    "serve": ({"audio", "grading", "engine", "reports", "cli", "serve"}, QT | TORCH | SD),
    "data": (set(), QT | TORCH | SD | WEB),
    "weights": (set(), QT | TORCH | SD | WEB),
}
#: Modules every package may import: the package root (its version) and the errors.
COMMON = {"vinylmon", "vinylmon.errors"}


def imports(path):
    """(external roots, vinylmon modules) that ``path`` imports, lazily or not."""
    roots, ours = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for n in names:
            (ours if n.split(".")[0] == "vinylmon" else roots).add(n if n.startswith("vinylmon")
                                                                   else n.split(".")[0])
    return roots, ours


def assert_import_loads_none_of(modules, forbidden):
    """Importing ``modules`` in a fresh interpreter loads none of ``forbidden``."""
    code = (f"import sys, {', '.join(modules)}; "
            f"bad = [m for m in {tuple(forbidden)!r} if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def modules_of(package):
    return sorted(f"vinylmon.{package}.{p.relative_to(PKG / package).with_suffix('').as_posix()}"
                  .replace("/", ".").removesuffix(".__init__")
                  for p in (PKG / package).rglob("*.py"))


def test_every_package_states_its_rules():
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(RULES)


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_its_rules_allow(package):
    allowed, forbidden = RULES[package]
    for path in sorted((PKG / package).rglob("*.py")):
        roots, ours = imports(path)
        assert not roots & forbidden, (path, roots & forbidden)
        for mod in ours - COMMON:
            assert mod.split(".")[1] in allowed, f"{path} imports {mod}"


def test_top_level_modules_are_only_the_entry_and_the_errors():
    assert {p.name for p in PKG.glob("*.py")} == {"__init__.py", "__main__.py", "errors.py"}
    assert imports(PKG / "errors.py")[1] == set()  # the root of everything imports nothing of ours


def test_torch_in_audio_only_in_its_front_end():
    for path in sorted((PKG / "audio").glob("*.py")):
        if path.name != "frontend.py":
            assert not imports(path)[0] & TORCH, path


def test_sounddevice_only_in_capture():
    for path in sorted(PKG.rglob("*.py")):
        if path.name != "capture.py":
            assert "sounddevice" not in imports(path)[0], path


def test_importing_audio_loads_neither_torch_nor_qt():
    assert_import_loads_none_of(["vinylmon.audio", "vinylmon.audio.capture"],
                                sorted(TORCH | QT))


def test_grading_simulate_and_reports_load_no_torch_and_no_qt():
    modules = modules_of("grading") + modules_of("simulate") + modules_of("reports")
    assert "vinylmon.grading.measured" in modules and "vinylmon.reports.html" in modules
    assert_import_loads_none_of(modules + ["vinylmon.cli.grade", "vinylmon.live.journal"],
                                sorted(TORCH | QT))


def test_gui_never_loads_torch_or_sounddevice():
    modules = modules_of("gui")
    assert "vinylmon.gui.main_window" in modules
    assert_import_loads_none_of(modules, sorted(TORCH | SD))


def test_training_data_makers_load_neither_qt_nor_torch():
    """The on-the-fly training data (verifier scenes, measure windows) is numpy/scipy: it
    runs in data-loader processes that need no torch of their own."""
    makers = [m for m in modules_of("training") if m.endswith("_data")]
    assert len(makers) >= 3
    assert_import_loads_none_of(makers, sorted(TORCH | QT))


def test_serve_takes_only_the_grading_path_from_cli():
    """serve/ grades through ``cli.grade`` (``grade_to_report``, the names of its
    speeds and files), never through the other commands."""
    for path in sorted((PKG / "serve").rglob("*.py")):
        ours = imports(path)[1]
        assert {m for m in ours if m.startswith("vinylmon.cli")} <= {"vinylmon.cli.grade"}, path


def test_the_command_line_loads_no_web_server_until_serve_runs():
    """``vinylmon grade`` and the others work without vinylmon[serve] installed."""
    assert_import_loads_none_of(["vinylmon.cli.main", "vinylmon.cli.serve",
                                 "vinylmon.cli.grade"], sorted(WEB | {"starlette"}))


def test_serve_loads_no_qt_and_no_torch_until_a_job_runs():
    pytest.importorskip("fastapi")
    assert_import_loads_none_of(modules_of("serve"), sorted(QT | SD | TORCH))

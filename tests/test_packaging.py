"""The shipped models are package data: a wheel (``pip install .``) carries them."""

import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path, PurePosixPath

import pytest

from vinylmon.grading.rubric import GRADES
from vinylmon.models.bundle import META_FILE, WEIGHTS_DIR, WEIGHTS_FILE

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_bundle_file_is_package_data():
    """setuptools keeps the files of ``vinylmon`` that its package-data globs match;
    every file of every shipped bundle must be one of them (checked offline; a wheel
    built with ``pip wheel .`` was seen to hold them)."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = conf["tool"]["setuptools"]["package-data"]["vinylmon"]
    package = ROOT / "vinylmon"
    assert WEIGHTS_DIR == package / "weights"
    files = [p for p in WEIGHTS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    bundles = {p.parent.name for p in files if p.name == WEIGHTS_FILE}
    assert {"detector", "verifier", "grader"} <= bundles
    for name in bundles:
        assert (WEIGHTS_DIR / name / META_FILE).is_file()
    for p in files:
        rel = PurePosixPath(p.relative_to(package).as_posix())
        # a glob's "*" stops at "/", as setuptools' does
        assert any(len(rel.parts) == len(PurePosixPath(g).parts) and rel.match(g)
                   for g in globs), f"{rel} would not be in a wheel"


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_grades_a_file(tmp_path):
    """``pip wheel .``, installed into a fresh virtual environment away from the checkout
    (the dependencies borrowed from this one), grades the bundled demo with the models
    the wheel carries."""
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                        "-w", str(wheels)], capture_output=True, text=True)
    if r.returncode != 0 and "No matching distribution" in r.stderr + r.stdout:
        pytest.skip("no package index to build the wheel with: " + r.stderr[-300:])
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("vinylmon-*.whl")
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    site = next((env / "lib").glob("python3*/site-packages"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                        "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    # the dependencies (torch, numpy, ...) from this environment, after the wheel's files
    deps = [p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir()]
    (site / "zz_deps.pth").write_text("\n".join(str(p) for p in deps) + "\n")
    python = env / "bin" / "python"
    work = tmp_path / "work"
    work.mkdir()
    code = ("import sys, vinylmon, vinylmon.models.bundle as b; "
            "print(vinylmon.__file__); print(b.WEIGHTS_DIR)")
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=work,
                       env=clean_env)
    assert r.returncode == 0, r.stderr[-2000:]
    where, weights = r.stdout.split()
    assert Path(where).is_relative_to(site) and Path(weights).is_relative_to(site)
    demo = Path(weights).parent / "data" / "demo.ogg"
    out = work / "demo.json"
    r = subprocess.run([str(python), "-m", "vinylmon", "grade", str(demo), "--json", str(out),
                        "--quiet"], capture_output=True, text=True, cwd=work, env=clean_env)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["schema"] == "vinylmon.report/1"
    assert report["duration_s"] > 30 and report["summary"]["grade"] in GRADES
    assert report["models"]["detector"].startswith("detector@")

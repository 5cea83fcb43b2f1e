"""The shipped models are package data: a wheel (``pip install .``) carries them."""

import tomllib
from pathlib import Path, PurePosixPath

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

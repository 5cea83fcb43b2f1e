"""Weights bundles: ``<folder>/<name>/`` = ``model.pt`` + ``meta.json``.

The shipped ones are package data, in :data:`WEIGHTS_DIR` (``vinylmon/weights``):
an installed vinylmon has its models wherever it is installed.

A model file is an attack surface. Loading checks the file's sha256 against
``meta.json`` before anything is unpickled, then loads with
``torch.load(weights_only=True)`` (tensors and plain containers only: a pickle
that would run code is refused), and refuses non-finite weights. Every failure
is a :class:`~vinylmon.errors.WeightsError` naming the bundle.

``meta.json`` carries what the weights mean: architecture and its parameters,
sample rate, labels, version, sha256, training data and measured metrics.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from vinylmon.errors import WeightsError

#: The shipped bundles: package data beside the code.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
WEIGHTS_FILE = "model.pt"
META_FILE = "meta.json"
REQUIRED_META = ("name", "version", "architecture", "params", "sample_rate", "labels", "sha256",
                 "training_data", "metrics")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(folder: str | os.PathLike, state_dict: dict[str, torch.Tensor],
                meta: dict) -> dict:
    """Write ``model.pt`` and ``meta.json`` (with the file's sha256) into ``folder``.

    Parameters
    ----------
    folder : path-like
    state_dict : dict of str to Tensor
    meta : dict
        Everything of REQUIRED_META but ``sha256``.

    Returns
    -------
    dict
        The meta as written.
    """
    missing = [k for k in REQUIRED_META if k != "sha256" and k not in meta]
    if missing:
        raise ValueError(f"meta lacks {missing}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    torch.save(tensors, folder / WEIGHTS_FILE)
    meta = {**meta, "sha256": sha256_file(folder / WEIGHTS_FILE)}
    (folder / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def read_meta(folder: str | os.PathLike) -> dict:
    """Read and check a bundle's ``meta.json``."""
    folder = Path(folder)
    path = folder / META_FILE
    if not path.is_file():
        raise WeightsError(f"{folder}: no {META_FILE}; not a weights bundle")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(meta, dict):
        raise WeightsError(f"{path}: not a JSON object")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise WeightsError(f"{path}: missing {', '.join(missing)}")
    return meta


def load_bundle(folder: str | os.PathLike, *,
                map_location: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Load a bundle's tensors after checking its hash.

    Returns
    -------
    state_dict : dict of str to Tensor
    meta : dict

    Raises
    ------
    WeightsError
        Missing or malformed meta, missing weights, hash mismatch (damaged or
        tampered), a file that is not plain tensors, non-finite weights.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsError(f"{folder}: no {WEIGHTS_FILE}")
    digest = sha256_file(weights)
    if digest != meta["sha256"]:
        raise WeightsError(f"{weights}: sha256 {digest[:12]}... does not match meta.json "
                           f"({str(meta['sha256'])[:12]}...): the file is damaged or was changed")
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
    except Exception as exc:  # weights_only refusal, truncation, bad zip: all one answer
        raise WeightsError(f"{weights}: not a plain tensor file ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]})") from exc
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{weights}: expected a dict of named tensors")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(f"{weights}: non-finite values in {', '.join(bad[:5])}")
    return state, meta

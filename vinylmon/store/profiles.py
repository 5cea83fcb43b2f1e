"""Microphone profiles: fine-tuned models for one input device, in the user's data folder.

A profile is a folder ``<root>/<name>/`` (root: ``$XDG_DATA_HOME/vinylmon/profiles``
or ``~/.local/share/vinylmon/profiles``) holding:

- ``detector/`` and, when the grader was fine-tuned, ``grader/``: weights bundles
  (:func:`vinylmon.models.bundle.save_bundle`: ``model.pt`` with its sha256 in
  ``meta.json``, so a damaged or tampered file is refused when loading);
- ``profile.json``: its name, the device it belongs to, whether it is enabled,
  when it was made, the base models it was made from, the take, and the
  before/after metrics of :func:`vinylmon.training.finetune.run.finetune`.

A profile is written into a temporary folder beside its place and renamed into
place when complete; one of the same name is replaced only then. The shipped
weights (``vinylmon/weights/``) are never written. A profile that cannot be loaded falls
back to the base models with a warning (:func:`load_profile_models`).

No Qt here, and no torch until models are saved or loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vinylmon.errors import VinylmonError
from vinylmon.store.dirs import data_dir

log = logging.getLogger(__name__)

PROFILE_FILE = "profile.json"
FORMAT = "vinylmon.profile/1"
#: Names the GUI uses for "no profile".
RESERVED = {"base", "none"}
MAX_NAME = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+()-]*$")


class ProfileError(VinylmonError):
    """A profile name is not allowed, or a profile is missing or cannot be changed."""


def profiles_root(root: str | os.PathLike | None = None) -> Path:
    """Where profiles live: ``root`` when given, else the user data folder."""
    if root is not None:
        return Path(root)
    return data_dir() / "profiles"


def check_name(name: str) -> str:
    """A profile name, stripped; refused with :class:`ProfileError` when it could
    escape the profiles folder or confuse the GUI.

    Allowed: 1-64 letters, digits, spaces and ``_ . + ( ) -``, starting with a
    letter or digit, not ending in a space or a dot; not ``base`` or ``none``.
    """
    if not isinstance(name, str):
        raise ProfileError(f"a profile name must be text, got {type(name).__name__}")
    n = name.strip()
    if not n:
        raise ProfileError("a profile needs a name")
    if len(n) > MAX_NAME:
        raise ProfileError(f"profile name too long ({len(n)} characters; at most {MAX_NAME})")
    if "/" in n or "\\" in n or "\0" in n or ".." in n:
        raise ProfileError(f"profile name {name!r} may not hold '/', '\\' or '..'")
    if not _NAME_RE.match(n) or n.endswith("."):
        raise ProfileError(f"profile name {name!r}: use letters, digits, spaces and _ . + ( ) -, "
                           "starting with a letter or digit")
    if n.lower() in RESERVED:
        raise ProfileError(f"{n!r} is reserved: choose another profile name")
    return n


def _weights_dir() -> Path:
    from vinylmon.models import inference  # the shipped bundles' folder (tests move it)
    return inference.WEIGHTS_DIR


def _check_root(root: Path) -> Path:
    r = root.resolve()
    w = _weights_dir().resolve()
    if r == w or w in r.parents:
        raise ProfileError(f"{root}: profiles are never written under the shipped weights")
    return root


@dataclass(frozen=True)
class ProfileInfo:
    """One profile, as listed.

    ``problem`` says why a profile cannot be used (unreadable ``profile.json``,
    missing detector bundle); its models are then not loaded.
    """

    name: str
    path: Path
    device_name: str | None
    enabled: bool
    created: str | None
    metrics: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)
    problem: str | None = None


def _read_info(folder: Path) -> ProfileInfo:
    path = folder / PROFILE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return ProfileInfo(folder.name, folder, None, False, None,
                           problem=f"{path}: unreadable ({exc})")
    problem = None
    if not (folder / "detector" / "meta.json").is_file():
        problem = f"{folder}: no detector bundle"
    return ProfileInfo(name=folder.name, path=folder, device_name=data.get("device_name"),
                       enabled=bool(data.get("enabled", True)), created=data.get("created"),
                       metrics=data.get("metrics", {}), base=data.get("base", {}),
                       problem=problem)


def list_profiles(root: str | os.PathLike | None = None) -> list[ProfileInfo]:
    """Every profile (also broken ones, with their ``problem``), sorted by name."""
    r = profiles_root(root)
    if not r.is_dir():
        return []
    return [_read_info(p) for p in sorted(r.iterdir(), key=lambda p: p.name.lower())
            if p.is_dir() and not p.name.startswith(".")]


def get_profile(name: str, *, root: str | os.PathLike | None = None) -> ProfileInfo:
    """The profile called ``name``; :class:`ProfileError` when there is none."""
    n = check_name(name)
    folder = profiles_root(root) / n
    if not folder.is_dir():
        raise ProfileError(f"no profile named {n!r}")
    return _read_info(folder)


def profile_for_device(device_name: str | None, *,
                       root: str | os.PathLike | None = None) -> ProfileInfo | None:
    """The enabled, usable profile made for ``device_name`` (the newest when several)."""
    if not device_name:
        return None
    mine = [p for p in list_profiles(root) if p.enabled and p.problem is None
            and p.device_name is not None and p.device_name == device_name]
    return max(mine, key=lambda p: p.created or "") if mine else None


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True, allow_nan=False, default=_json_default)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_default(v):
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _clean(obj):
    """Metrics as strict JSON: NaN and infinities become None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    return obj


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z-]+", "-", name).strip("-") or "profile"


def save_profile(name: str, result, *, device_name: str | None,
                 root: str | os.PathLike | None = None) -> ProfileInfo:
    """Store a fine-tuning result as profile ``name`` for ``device_name``.

    Written into a temporary folder, then renamed into place; a profile of the
    same name is replaced only once the new one is complete (and kept if the
    rename fails).

    Parameters
    ----------
    name : str
    result : vinylmon.training.finetune.result.FinetuneResult
    device_name : str or None, keyword-only
        The input device the profile belongs to (selected automatically with it).
    root : path-like, optional, keyword-only

    Returns
    -------
    ProfileInfo
    """
    from vinylmon.models.bundle import save_bundle

    n = check_name(name)
    r = _check_root(profiles_root(root))
    r.mkdir(parents=True, exist_ok=True)
    tmp = r / f".tmp-{uuid.uuid4().hex}"
    created = datetime.now(UTC).isoformat(timespec="seconds")
    metrics = _clean({"before": result.before, "after": result.after})
    base = {}
    try:
        tmp.mkdir()
        parts = [("detector", result.detector_state, result.detector_meta)]
        if result.grader_state is not None and result.grader_meta is not None:
            parts.append(("grader", result.grader_state, result.grader_meta))
        v_state = getattr(result, "verifier_state", None)
        v_meta = getattr(result, "verifier_meta", None)
        if v_state is not None and v_meta is not None:
            parts.append(("verifier", v_state, v_meta))
        for part, state, base_meta in parts:
            base[part] = f"{base_meta['name']}@{base_meta.get('version', '?')}"
            meta = dict(base_meta)
            meta.pop("sha256", None)
            meta["version"] = f"{base_meta.get('version', '0')}+mic.{_slug(n)}"
            meta["profile"] = {"name": n, "device_name": device_name, "created": created,
                               "base": base[part]}
            meta["training_data"] = _clean({
                "base": base_meta.get("training_data"),
                "finetune": {"take": result.take, "replay": result.replay_source,
                             "config": result.config.to_dict()}})
            meta["metrics"] = _clean({"base": base_meta.get("metrics"), "finetune": metrics})
            if part == "detector":
                meta["postprocess"] = result.postprocess.as_meta()
            elif part == "verifier":
                meta["postprocess"] = dict(base_meta.get("postprocess", {}))
            save_bundle(tmp / part, state, meta)
        _write_json_atomic(tmp / PROFILE_FILE, _clean({
            "format": FORMAT, "name": n, "device_name": device_name, "enabled": True,
            "created": created, "base": base, "take": result.take, "metrics": metrics,
            "replay_source": result.replay_source, "val_source": result.val_source,
            "seconds": round(float(result.seconds), 1), "config": result.config.to_dict(),
            "postprocess": result.postprocess.as_meta(),
            "threshold_selection": result.threshold_selection}))
        target = r / n
        old = None
        if target.exists():
            old = r / f".old-{uuid.uuid4().hex}"
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except OSError:
            if old is not None:
                os.rename(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _read_info(target)


def set_enabled(name: str, enabled: bool, *, root: str | os.PathLike | None = None
                ) -> ProfileInfo:
    """Switch a profile on or off (off: never selected automatically)."""
    info = get_profile(name, root=root)
    path = info.path / PROFILE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ProfileError(f"{path}: unreadable ({exc}); remove the profile") from exc
    data["enabled"] = bool(enabled)
    _write_json_atomic(path, data)
    return _read_info(info.path)


def rename_profile(old: str, new: str, *, root: str | os.PathLike | None = None
                   ) -> ProfileInfo:
    """Rename a profile (the new name must be free)."""
    info = get_profile(old, root=root)
    n = check_name(new)
    target = info.path.parent / n
    if n == info.name:
        return info
    if target.exists() and not (n.lower() == info.name.lower()
                                and target.samefile(info.path)):
        raise ProfileError(f"a profile named {n!r} already exists")
    os.rename(info.path, target)
    path = target / PROFILE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["name"] = n
        _write_json_atomic(path, data)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.info("renamed profile %s to %s; its profile.json was not updated: %s", old, n, exc)
    return _read_info(target)


def remove_profile(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Delete a profile and its models."""
    info = get_profile(name, root=root)
    trash = info.path.parent / f".old-{uuid.uuid4().hex}"
    os.rename(info.path, trash)  # gone at once, even if deleting takes a while
    shutil.rmtree(trash, ignore_errors=True)


def load_profile_models(name: str | None, *, device: str | None = None,
                        root: str | os.PathLike | None = None):
    """The models of profile ``name``, or the base models with a warning.

    Parameters
    ----------
    name : str or None
        None (or ``base``): the base models, no warning.
    device : str or None, keyword-only
        ``auto``, ``cpu`` or ``cuda``.
    root : path-like, optional, keyword-only

    Returns
    -------
    detector : Detector
    grader : LearnedGrader or None
        The profile's grader; the base grader when the profile has none.
    warning : str or None
        Why the base models are used instead of the profile's (missing, broken
        or tampered profile), else None.
    """
    from vinylmon.models.inference import Detector, LearnedGrader

    if name is None or str(name).strip().lower() in RESERVED:
        return Detector(device=device), LearnedGrader(device=device), None
    try:
        info = get_profile(name, root=root)
        if info.problem:
            raise ProfileError(info.problem)
        vfolder = info.path / "verifier"  # a profile from before the verifier's fine-tune
        detector = Detector(info.path / "detector", device=device,  # has the base one
                            verifier=vfolder if vfolder.is_dir() else None)
        gfolder = info.path / "grader"
        grader = LearnedGrader(gfolder, device=device) if gfolder.is_dir() else \
            LearnedGrader(device=device)
        return detector, grader, None
    except VinylmonError as exc:
        warning = f"microphone profile {str(name)!r} cannot be used ({exc}); using the base models"
        log.warning(warning)
        return Detector(device=device), LearnedGrader(device=device), warning

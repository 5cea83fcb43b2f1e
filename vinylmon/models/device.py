"""Where models run: CUDA when there is a GPU, CPU otherwise, or what the user says."""

from __future__ import annotations

import torch

from vinylmon.errors import VinylmonError


def select_device(override: str | None = None) -> torch.device:
    """The device to run models on.

    Parameters
    ----------
    override : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or None/``"auto"`` (CUDA when
        ``torch.cuda.is_available()``, else CPU).

    Raises
    ------
    VinylmonError
        An unknown device name, or CUDA asked for where there is none.
    """
    if override in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(override)
    except (RuntimeError, TypeError) as exc:
        raise VinylmonError(f"unknown device {override!r}: use auto, cpu or cuda") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise VinylmonError(f"device {override!r} asked for, but this machine has no "
                                "usable CUDA GPU; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise VinylmonError(f"device {override!r}: there are only "
                                f"{torch.cuda.device_count()} CUDA devices")
    elif dev.type != "cpu":
        raise VinylmonError(f"device {override!r} is not supported: use auto, cpu or cuda")
    return dev

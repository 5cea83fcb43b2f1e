"""Where vinylmon keeps the user's things: the folders of platformdirs (on Linux the
XDG ones: ``$XDG_STATE_HOME/vinylmon``, ``$XDG_DATA_HOME/vinylmon``)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "vinylmon"


def state_dir() -> Path:
    """Session journals and the log (state that may be lost without losing work)."""
    return Path(platformdirs.user_state_dir(APP))


def data_dir() -> Path:
    """Microphone profiles (the user's data)."""
    return Path(platformdirs.user_data_dir(APP))

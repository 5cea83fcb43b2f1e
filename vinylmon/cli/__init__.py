"""The command line: one module per command (see ARCHITECTURE.md)."""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str | None) -> str:
    """The first line of ``text`` (a docstring) as help text: reST markup removed
    (````literal````, ``:mod:`name```)."""
    line = (text or "").strip().split("\n")[0]
    return _ROLE.sub(r"\1", line).replace("``", "")

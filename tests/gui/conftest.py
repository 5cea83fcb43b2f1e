"""GUI test fixtures: the private PulseAudio rig of the capture tests, for end-to-end runs."""

try:  # tests/ as a package, or this directory on sys.path (pytest's "prepend" mode)
    from tests.audio.conftest import (  # noqa: F401
        _hang_guard,
        clicky_wav,
        journal_stall,
        portaudio,
        pulse,
    )
except ImportError:  # pragma: no cover
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audio"))
    from conftest import _hang_guard, clicky_wav, journal_stall, portaudio, pulse  # noqa: F401

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vinylmon.audio.simulate import synthetic_music

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def noise_dir():
    d = SHARED / "data" / "noise"
    if not d.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{d} is missing: CI must have shared/ beside the clone")
        pytest.skip(f"{d} is missing")
    return d


@pytest.fixture
def music(rng):
    """``music(seconds)``: :func:`synthetic_music` from the test's seeded generator."""
    return lambda seconds=10.0: synthetic_music(rng, seconds)


@pytest.fixture(scope="session")
def cpu_engine():
    """The shipped models on the CPU (loaded once per test run)."""
    from vinylmon.engine.engine import Engine

    return Engine(device="cpu")


class Throttled:
    """The detector, slower than real time: each call also sleeps ``delay_s`` a window.

    ``busy`` is set while a call runs; ``calls`` counts the windows it was given.
    """

    def __init__(self, detector, delay_s: float):
        self._detector = detector
        self.delay_s = delay_s
        self.calls = 0
        self.busy = threading.Event()

    def __getattr__(self, name):
        return getattr(self._detector, name)

    def run(self, windows):
        self.busy.set()
        try:
            self.calls += len(windows)
            time.sleep(self.delay_s * len(windows))
            return self._detector.run(windows)
        finally:
            self.busy.clear()


@pytest.fixture
def throttled_engine(cpu_engine):
    """``throttled_engine(delay_s)``: ``(engine, detector)``, the shipped models with a
    detector that also sleeps ``delay_s`` per window (inference slower than real time,
    on any machine)."""
    from vinylmon.engine.engine import Engine

    def make(delay_s: float):
        det = Throttled(cpu_engine.detector, delay_s)
        return Engine(detector=det, grader=cpu_engine.grader), det

    return make


@pytest.fixture(scope="session")
def clicked_file(tmp_path_factory):
    """12 s of synthetic music with loud clicks, as FLAC: ``(path, click start times in s)``."""
    import soundfile as sf

    from vinylmon.audio.simulate import ClickSpec, DamageSpec, simulate

    x = synthetic_music(np.random.default_rng(7), 12.0)
    d = simulate(x, DamageSpec(seed=2, clicks=ClickSpec(rate_per_min=30.0, peak_db=(2.0, 6.0))))
    path = tmp_path_factory.mktemp("clicked") / "clicked.flac"
    sf.write(path, d.audio.T, 44100)
    return path, np.array(sorted({i.start for i in d.truth.impulses})) / 44100


@pytest.fixture(autouse=True)
def _private_state_folder(tmp_path_factory, monkeypatch):
    """Session journals of a test that names no folder go to a temporary state folder,
    never to the user's ~/.local/state/vinylmon."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))

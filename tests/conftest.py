import os
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

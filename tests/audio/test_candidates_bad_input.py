"""The candidate stage refuses what it cannot score, in one clear error."""

import numpy as np
import pytest

from vinylmon.audio.candidates import find_candidates
from vinylmon.errors import AudioDataError, VinylmonError


@pytest.mark.parametrize("shape", [(3, 1000), (2, 3, 10), ()])
def test_wrong_shapes(shape):
    with pytest.raises(AudioDataError, match="expected"):
        find_candidates(np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(bad):
    x = np.zeros((2, 1000), np.float32)
    x[1, 500] = bad
    with pytest.raises(VinylmonError, match="NaN or infinite"):
        find_candidates(x)


@pytest.mark.parametrize("kw", [{"threshold": 0.0}, {"threshold": -1.0}, {"merge": 0},
                                {"context_blocks": 4}, {"block": 4}])
def test_bad_options(kw):
    with pytest.raises(ValueError):
        find_candidates(np.zeros((2, 1000), np.float32), **kw)

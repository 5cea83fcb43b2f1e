"""The stream declicker refuses what it cannot clean, clearly."""

import numpy as np
import pytest

from vinylmon.engine.declick import StreamDeclicker


class NoVerifier:
    verifier = None


@pytest.mark.parametrize("kw", [{"chunk_s": 0}, {"lookahead_s": -1}, {"context_s": -0.1},
                                {"channels": 0}])
def test_bad_chunking_is_refused(kw):
    with pytest.raises(ValueError):
        StreamDeclicker(NoVerifier(), **kw)


@pytest.mark.parametrize("shape", [(1, 100), (2,), (3, 10)])
def test_samples_of_the_wrong_shape_are_refused(shape):
    dec = StreamDeclicker(NoVerifier(), channels=2)
    with pytest.raises(ValueError, match=r"expected \(2, frames\)"):
        dec.push(np.zeros(shape, np.float32))

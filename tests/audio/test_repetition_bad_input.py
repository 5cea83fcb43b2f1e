"""Bad input to the repetition check: clear errors."""

import numpy as np
import pytest

from vinylmon.audio.repetition import repeated_in_music


@pytest.mark.parametrize("shape", [(100,), (3, 100), (2, 3, 4)])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="channels"):
        repeated_in_music(np.zeros(shape), [[10, 12]], places=[10], sample_rate=44100)


def test_bad_rate():
    with pytest.raises(ValueError, match="sample_rate"):
        repeated_in_music(np.zeros((2, 1000)), [[10, 12]], places=[10], sample_rate=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"channels": [0, 1]}, "channels has 2 entries"),
    ({"channels": [2]}, "0, 1 or None"),
    ({"give_up_after": 0}, "give_up_after"),
])
def test_bad_channels_and_give_up(kwargs, match):
    with pytest.raises(ValueError, match=match):
        repeated_in_music(np.zeros((2, 1000)), [[10, 12]], places=[10], sample_rate=44100,
                          **kwargs)

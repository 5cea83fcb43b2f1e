"""The click verifier refuses options and audio it cannot use."""

import numpy as np
import pytest

from vinylmon.errors import AudioDataError
from vinylmon.models.verifier import (
    build_verifier,
    candidates_for,
    find_impulses,
    first_patches,
)


@pytest.fixture(scope="module")
def model():
    return build_verifier().eval()


@pytest.mark.parametrize("kw", [{"accept": 1.5}, {"accept": -0.1}, {"prefilter": 2.0}])
def test_probabilities_outside_0_1(model, kw):
    with pytest.raises(ValueError, match="0..1"):
        find_impulses(model, np.zeros((2, 1000), np.float32), **kw)


@pytest.mark.parametrize("kw", [{"both_offset": 25.0}, {"both_offset": -20.5},
                                {"both_offset_clicked": 21.0}])
def test_a_both_channel_offset_out_of_range(model, kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        find_impulses(model, np.zeros((2, 1000), np.float32), **kw)


@pytest.mark.parametrize("v", [-0.1, 1.5])
def test_a_clicked_window_acceptance_outside_0_1(model, v):
    with pytest.raises(ValueError, match="clicked_accept"):
        find_impulses(model, np.zeros((2, 1000), np.float32), clicked_accept=v)


def test_first_patches_without_their_candidates_or_the_cascade(model):
    x = np.random.default_rng(0).normal(0, 0.1, (2, 44100)).astype(np.float32)
    c = candidates_for(model, x)
    first = first_patches(model, c)
    with pytest.raises(ValueError, match="first patches"):
        find_impulses(model, x, first=first)
    with pytest.raises(ValueError, match="first patches"):
        find_impulses(model, x, candidates=c, first=first, cascade=False)


def test_audio_with_nan(model):
    x = np.zeros((2, 1000), np.float32)
    x[0, 3] = np.nan
    with pytest.raises(AudioDataError):
        find_impulses(model, x)


def test_silence_has_no_impulses(model):
    assert find_impulses(model, np.zeros((2, 44100), np.float32)) == []


def test_ensemble_params_that_are_not_a_member_list():
    with pytest.raises(ValueError, match="members"):
        build_verifier({"members": {"width": 32}})
    with pytest.raises(ValueError, match="members"):
        build_verifier({"members": [{}], "width": 32})


def test_ensemble_members_that_do_not_share_candidates():
    with pytest.raises(ValueError, match="candidate threshold"):
        build_verifier({"members": [{"candidate_threshold": 6.0},
                                    {"candidate_threshold": 5.0}]})

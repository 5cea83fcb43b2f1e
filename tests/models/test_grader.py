"""The wav2vec2 grader: architecture, pretrained-encoder loading, aggregation."""

import numpy as np
import pytest
import torch

from vinylmon.errors import WeightsError
from vinylmon.models.grader import (
    CONFIGS,
    MEASURE_OUTPUTS,
    aggregate,
    build_grader,
    load_pretrained_encoder,
)
from vinylmon.rubric import GRADES


@pytest.fixture(scope="module")
def grader():
    torch.manual_seed(0)
    return build_grader("small").eval()


def test_forward_shapes(grader, rng):
    x = torch.from_numpy((rng.normal(size=(2, 2, 44100 * 2)) * 0.1).astype(np.float32))
    with torch.inference_mode():
        prepared = grader.prepare(x)
        logits = grader(prepared)
    assert prepared.shape == (2, 32000)
    assert torch.allclose(prepared.pow(2).mean(-1), torch.ones(2), atol=1e-3)
    assert logits.shape == (2, len(GRADES))


def test_uses_torchaudio_wav2vec2(grader):
    from torchaudio.models import Wav2Vec2Model
    assert isinstance(grader.wav2vec2, Wav2Vec2Model)
    assert CONFIGS["base"]["encoder_embed_dim"] == 768  # wav2vec2-base


def test_unknown_size():
    with pytest.raises(ValueError, match="unknown grader size"):
        build_grader("huge")


def test_pretrained_encoder_loads(grader, tmp_path):
    torch.manual_seed(1)
    other = build_grader("small")
    path = tmp_path / "w2v.pt"
    torch.save({"model": other.wav2vec2.state_dict()}, path)
    fresh = build_grader("small")
    load_pretrained_encoder(fresh, path)
    for k, v in other.wav2vec2.state_dict().items():
        assert torch.equal(fresh.wav2vec2.state_dict()[k], v)


def test_pretrained_encoder_bad_files(grader, tmp_path):
    with pytest.raises(WeightsError, match="no such"):
        load_pretrained_encoder(grader, tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a plain tensor"):
        load_pretrained_encoder(grader, junk)
    partial = tmp_path / "partial.pt"
    torch.save({"feature_projection.projection.weight": torch.zeros(3, 3)}, partial)
    with pytest.raises(WeightsError, match="missing"):
        load_pretrained_encoder(grader, partial)
    wrong = {k: torch.zeros(1) for k in grader.wav2vec2.state_dict()}
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_pretrained_encoder(grader, tmp_path / "wrong.pt")


def test_aggregate():
    p = np.array([[0.7, 0.2, 0.1, 0, 0, 0], [0.6, 0.3, 0.1, 0, 0, 0], [0.1, 0.8, 0.1, 0, 0, 0]])
    out = aggregate(p)
    assert out.sum() == pytest.approx(1.0)
    assert out.argmax() in (0, 1)
    # a silent window (weight 0) does not vote
    assert aggregate(p, weights=np.array([0, 0, 1.0])).argmax() == 1
    assert np.allclose(aggregate(p, weights=np.zeros(3)), 1 / 6)
    with pytest.raises(ValueError):
        aggregate(np.zeros((0, 6)))


@pytest.fixture(scope="module")
def stereo():
    torch.manual_seed(0)
    return build_grader("stereo").eval()


def test_stereo_grader_hears_mid_and_side_at_full_rate(stereo, rng):
    """Mid and side at 44.1 kHz over the mid's RMS: a side-only hiss is not thrown away,
    and the level does not matter."""
    x = (rng.normal(size=(2, 2, 44100 * 2)) * 0.1).astype(np.float32)
    x[1, 1] = x[1, 0]  # the second window is mono: no side
    t = torch.from_numpy(x)
    with torch.inference_mode():
        prepared = stereo.prepare(t)
        logits, measures = stereo.forward_all(prepared)
        louder = stereo.forward_all(stereo.prepare(t * 10))
        again = stereo(prepared)
    assert prepared.shape == (2, 2, 88200)
    torch.testing.assert_close(prepared[:, 0].pow(2).mean(-1), torch.ones(2), atol=1e-3,
                               rtol=0)
    assert float(prepared[0, 1].pow(2).mean()) > 0.5 and float(prepared[1, 1].abs().max()) < 1e-5
    assert logits.shape == (2, len(GRADES)) and measures.shape == (2, len(MEASURE_OUTPUTS))
    torch.testing.assert_close(louder[1], measures, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(again, logits)


def test_stereo_grader_keeps_torchaudio_wav2vec2_with_a_two_channel_stem(stereo):
    from torchaudio.models import Wav2Vec2Model
    assert isinstance(stereo.wav2vec2, Wav2Vec2Model)
    first = stereo.wav2vec2.feature_extractor.conv_layers[0].conv
    assert first.in_channels == 2 and first.stride == (10,)
    # 5 s at 44.1 kHz: 69 frames per second
    with torch.inference_mode():
        h = stereo.frames(torch.zeros(1, 2, 220500))
    assert h.shape[1] == 344


def test_a_mono_grader_has_no_measures(grader):
    with pytest.raises(ValueError, match="no measures head"):
        grader.forward_all(torch.zeros(1, 32000))

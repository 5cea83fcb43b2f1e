"""The wav2vec2 grader: architecture, pretrained-encoder loading, aggregation."""

import numpy as np
import pytest
import torch

from vinylmon.errors import WeightsError
from vinylmon.grading.rubric import GRADES
from vinylmon.models.grader import (
    CONFIGS,
    MEASURE_OUTPUTS,
    aggregate,
    build_grader,
    load_pretrained_encoder,
)


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


def test_stereo_grader_is_torchaudio_wav2vec2_over_a_spectral_front_end(stereo):
    from torchaudio.models import Wav2Vec2Model

    from vinylmon.models.grader import FRONT_BANDS, SpectralFrontEnd
    assert isinstance(stereo.wav2vec2, Wav2Vec2Model)
    assert isinstance(stereo.wav2vec2.feature_extractor, SpectralFrontEnd)
    # 5 s at 44.1 kHz: 69 frames per second
    with torch.inference_mode():
        h = stereo.frames(torch.zeros(1, 2, 220500))
        f, _ = stereo.wav2vec2.feature_extractor(torch.zeros(1, 2, 220500), None)
    assert h.shape[1] == f.shape[1] == 345
    assert f.shape[2] == 2 * FRONT_BANDS + 4


def test_the_front_end_reads_band_levels_in_db():
    """A 10-kHz tone 40 dB under a 440-Hz one reads 40 dB under it (power summed over
    each tone's band and its neighbours, where the window leaks)."""
    from vinylmon.models.grader import FRONT_BANDS, FRONT_FMIN_HZ, SpectralFrontEnd
    fe = SpectralFrontEnd()
    t = np.arange(44100) / 44100
    mid = np.sin(2 * np.pi * 440 * t) + 0.01 * np.sin(2 * np.pi * 10000 * t)
    x = torch.from_numpy(np.stack([mid, np.zeros_like(mid)])[None].astype(np.float32))
    with torch.inference_mode():
        f, _ = fe(x, None)
    power = (10 ** (f[0, 10:-10, :FRONT_BANDS].numpy() * 20 / 10)).mean(0)
    edges = np.geomspace(FRONT_FMIN_HZ, 22050, FRONT_BANDS + 1)

    def around(hz):
        i = int(np.searchsorted(edges, hz)) - 1
        return power[i - 1:i + 2].sum()
    assert abs(10 * np.log10(around(440) / around(10000)) - 40) < 1.5
    # the side is silent: its bands read the floor
    assert f[0, :, FRONT_BANDS + 2:2 * FRONT_BANDS + 2].max() * 20 < -100


def test_a_mono_grader_has_no_measures(grader):
    with pytest.raises(ValueError, match="no measures head"):
        grader.forward_all(torch.zeros(1, 32000))

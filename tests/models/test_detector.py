"""The CNN detector's architecture and its sample-level event refinement."""

import numpy as np
import pytest
import torch

from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.models.detector import (
    DetectorConfig,
    DetectorOutput,
    build_detector,
    decode,
    refine_events,
)

SR = 44100


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_detector().eval()


def test_shapes_and_decode(model, rng):
    x = torch.from_numpy((rng.normal(size=(3, 2, SR)) * 0.1).astype(np.float32))
    with torch.inference_mode():
        window, frame = model(x)
    frames = SR // 256 + 1
    assert window.shape == (3, len(WINDOW_CLASSES) + 3)
    assert frame.shape == (3, 3, frames)
    outs = decode(window, frame, hop=256)
    assert len(outs) == 3
    assert outs[0].class_probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert outs[0].impulse_prob.shape == (frames,)
    assert ((outs[0].impulse_prob >= 0) & (outs[0].impulse_prob <= 1)).all()


def test_level_invariant(model, rng):
    """Features are relative to the window's own level: gain changes nothing."""
    x = torch.from_numpy((rng.normal(size=(1, 2, SR)) * 0.05).astype(np.float32))
    with torch.inference_mode():
        a = model.features(x)
        b = model.features(x * 0.01)
    # (the edge frames reach into zero padding, whose floor does not scale)
    assert torch.allclose(a[..., 1:-1], b[..., 1:-1], atol=1e-3)


def test_config_round_trip():
    c = DetectorConfig(width=32, dilations=(1, 2))
    assert DetectorConfig.from_dict(c.to_dict()) == c
    m = build_detector(c.to_dict())
    assert m.config.width == 32


def _output(frames, hot, prob=0.9):
    p = np.zeros(frames, np.float32)
    p[hot] = prob
    return DetectorOutput(np.full(5, 0.2), -60.0, 0.0, 0.0, p, p, np.full(frames, -3.0,
                                                                        np.float32), 256)


def _noise_with_click(rng, *, channels, channel, at, n=5 * SR):
    """Quiet noise with a 40-sample decaying click at sample ``at`` of ``channel``."""
    x = (rng.normal(size=(channels, n)) * 0.005).astype(np.float32)
    shape = np.exp(-np.arange(40) / 6.0) * np.sign(np.sin(np.arange(40)))
    x[channel, at:at + 40] += 0.4 * shape.astype(np.float32)
    return x


def test_refine_places_click_within_1ms(rng):
    n = 5 * SR
    at = 123_457
    x = _noise_with_click(rng, channels=2, channel=1, at=at, n=n)
    frames = n // 256 + 1
    events = refine_events(x, _output(frames, [(at + 128) // 256]))
    assert len(events) == 1
    e = events[0]
    assert abs(e.start - at) <= 44
    assert e.channel == 1
    assert e.peak_db == -3.0


def test_refine_mono_event_is_in_every_channel(rng):
    n = 5 * SR
    at = 99_001
    x = _noise_with_click(rng, channels=1, channel=0, at=at, n=n)
    events = refine_events(x, _output(n // 256 + 1, [(at + 128) // 256]))
    assert any(abs(e.start - at) <= 44 and e.peak_db == -3.0 for e in events)
    assert all(e.channel is None for e in events)


def test_refine_nothing_when_no_frame_fires(rng):
    x = (rng.normal(size=(2, SR)) * 0.1).astype(np.float32)
    assert refine_events(x, _output(SR // 256 + 1, [], prob=0.0)) == []


def test_refine_ignores_noise_without_impulse(rng):
    """A frame that fires on plain noise yields no event: nothing stands out."""
    x = (rng.normal(size=(2, SR)) * 0.1).astype(np.float32)
    events = refine_events(x, _output(SR // 256 + 1, [40, 41]), min_ratio=8.0)
    assert events == []


def test_refine_separates_two_ticks_in_one_frame(rng):
    n = SR
    x = (rng.normal(size=(2, n)) * 0.002).astype(np.float32)
    for at in (20_000, 20_150):
        x[:, at] += 0.3
    events = refine_events(x, _output(n // 256 + 1, [78, 79]))
    starts = sorted(e.start for e in events)
    assert len(starts) == 2
    assert abs(starts[0] - 20_000) <= 44 and abs(starts[1] - 20_150) <= 44
    assert all(e.channel is None for e in events)  # in both channels


def test_refine_impulse_threshold_apart_from_click_threshold(rng):
    """A faint impulse the click head does not flag becomes an event only while the
    impulse threshold lets it; 1.0 keeps click-loud detections alone."""
    n = SR
    x = (rng.normal(size=(2, n)) * 0.002).astype(np.float32)
    x[:, 20_000] += 0.3
    frames = n // 256 + 1
    hot = [(20_000 + 128) // 256]
    imp = np.zeros(frames, np.float32)
    imp[hot] = 0.95
    out = DetectorOutput(np.full(5, 0.2), -60.0, 0.0, 0.0, imp, np.zeros(frames, np.float32),
                         np.full(frames, -20.0, np.float32), 256)
    assert len(refine_events(x, out, threshold=0.9)) == 1  # impulse threshold = threshold
    assert refine_events(x, out, threshold=0.9, impulse_threshold=1.0) == []
    assert refine_events(x, out, threshold=0.9, impulse_threshold=0.99) == []


@pytest.mark.parametrize("pad", [(0, 0), (3, 7), (-2, 5), (4, -1), (0, -40)])
def test_highpass_is_the_plain_second_difference_padded_or_cropped(pad):
    from vinylmon.models.detector import highpass

    a = torch.randn(2, 3, 257, generator=torch.Generator().manual_seed(1))
    plain = a[..., 2:] - 2 * a[..., 1:-1] + a[..., :-2]
    expect = torch.nn.functional.pad(plain, (1 + pad[0], 1 + pad[1]))
    assert torch.equal(highpass(a, pad=pad), expect)  # bit for bit

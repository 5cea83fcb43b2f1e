"""The stream declicker: in step, the clicks (and only they) taken out, a fixed delay."""

import numpy as np
import pytest

from vinylmon.engine.declick import STREAMS, StreamDeclicker, clean_excerpt
from vinylmon.simulate.music import synthetic_music

SR = 44100


def _clicked(rng, seconds=6.0, n_clicks=12):
    """Seeded synthetic music with loud one-sample-wide clicks at known frames."""
    x = synthetic_music(rng, seconds).astype(np.float32)
    level = float(np.sqrt(np.mean(x ** 2)))
    at = np.sort(rng.choice(np.arange(SR // 2, x.shape[1] - SR // 2, 997), n_clicks,
                            replace=False))
    clean = x.copy()
    for i in at:
        sign = rng.choice([-1.0, 1.0])
        x[:, i:i + 3] += sign * level * 10 ** (15 / 20) * np.array([0.6, 1.0, -0.5])
    return clean, x, at


def _run(dec, x, block=1024):
    chunks = []
    for s in range(0, x.shape[1], block):
        chunks += dec.push(x[:, s:s + block], start_s=0.0)
    return chunks + dec.flush()


def test_streams_come_back_in_step_whole_and_only_the_clicks_change(cpu_engine, rng):
    clean, x, at = _clicked(rng)
    dec = StreamDeclicker(cpu_engine.detector, channels=2)
    chunks = _run(dec, x)
    original = np.concatenate([c.original for c in chunks], axis=1)
    cleaned = np.concatenate([c.cleaned for c in chunks], axis=1)
    removed = np.concatenate([c.removed for c in chunks], axis=1)
    assert np.array_equal(original, x)  # every sample, once, in order
    assert np.allclose(original - cleaned, removed)
    starts = [c.start_s for c in chunks]
    assert starts == sorted(starts) and starts[0] == 0.0
    # the clicks are gone: the error left at each is >= 10 dB below the click's
    before = [np.sum((x[:, i - 8:i + 12] - clean[:, i - 8:i + 12]) ** 2) for i in at]
    after = [np.sum((cleaned[:, i - 8:i + 12] - clean[:, i - 8:i + 12]) ** 2) for i in at]
    fixed = np.mean(10 * np.log10(np.array(after) / np.array(before) + 1e-12) <= -10)
    assert fixed >= 0.8, (before, after)
    # and nothing else changed: changed samples lie within 5 ms of a click
    changed = np.flatnonzero(np.any(cleaned != original, axis=0))
    assert changed.size
    assert np.all(np.min(np.abs(changed[:, None] - at[None, :]), axis=1) < 0.005 * SR)
    assert dec.clicks >= 0.8 * len(at)
    assert dec.delay_s == pytest.approx(0.08, abs=0.01)


def test_clean_music_passes_through_untouched(cpu_engine, rng):
    x = synthetic_music(rng, 4.0).astype(np.float32)
    chunks = _run(StreamDeclicker(cpu_engine.detector, channels=2), x)
    cleaned = np.concatenate([c.cleaned for c in chunks], axis=1)
    assert np.array_equal(cleaned, x)


def test_a_chunk_gives_each_stream_by_name(cpu_engine, rng):
    clean, x, at = _clicked(rng, 2.0, 3)
    c = _run(StreamDeclicker(cpu_engine.detector, channels=2), x)[0]
    assert [c.stream(s).shape for s in STREAMS] == [c.original.shape] * 3
    with pytest.raises(ValueError, match="stream must be one of"):
        c.stream("louder")


def test_an_excerpt_is_cleaned_whole(cpu_engine, rng):
    clean, x, at = _clicked(rng, 2.0, 4)
    y = clean_excerpt(cpu_engine.detector, x)
    assert y.shape == x.shape
    err_before = np.sum((x - clean) ** 2)
    assert np.sum((y - clean) ** 2) < 0.1 * err_before


def test_without_a_verifier_cleaned_is_the_original(rng):
    class NoVerifier:
        verifier = None
    clean, x, at = _clicked(rng, 2.0, 3)
    dec = StreamDeclicker(NoVerifier(), channels=2)
    assert not dec.available
    cleaned = np.concatenate([c.cleaned for c in _run(dec, x)], axis=1)
    assert np.array_equal(cleaned, x)
    assert np.array_equal(clean_excerpt(NoVerifier(), x), x)

"""The click detector's candidate stage: impulsiveness over L, R and L - R."""

from dataclasses import replace

import numpy as np
import pytest

from vinylmon.audio.candidates import (
    POST,
    PRE,
    TEXTURE_BLOCKS,
    as_signals,
    find_candidates,
    patches,
    whitened,
)
from vinylmon.simulate import shapes, synthetic_music

SR = 44100


def _level(x):
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def _with_clicks(rng, x, at, *, peak_db, channel=None):
    """``x`` with a simulator click at each sample of ``at`` (peak re x's RMS); their spans."""
    y = x.copy()
    amp = _level(x) * 10 ** (peak_db / 20)
    spans = []
    for a in at:
        c = shapes.click(rng, SR, style="impulse")
        rows = [0, 1] if channel is None else [channel]
        for r in rows:
            y[r, a:a + c.size] += (amp * c).astype(np.float32)
        spans.append((a, a + c.size))
    return y, spans


def test_every_loud_click_is_a_candidate(rng):
    x = synthetic_music(rng, 5.0)
    at = np.arange(10) * 20000 + 3000 + rng.integers(0, 5000, 10)
    y, spans = _with_clicks(rng, x, at, peak_db=10.0)
    c = find_candidates(y)
    for a, b in spans:
        assert np.any((c.index >= a - 22) & (c.index < b + 22)), (a, b)
    # the clicks are the most impulsive places in the music
    on = np.zeros(len(c), bool)
    for a, b in spans:
        on |= (c.index >= a - 22) & (c.index < b + 22)
    assert np.median(c.score[on]) > 5 * np.median(c.score[~on])


def test_a_click_in_one_channel_under_centred_music_stands_out_in_the_side_signal(rng):
    mono = synthetic_music(rng, 3.0)[0]
    x = np.stack([mono, mono])
    y, spans = _with_clicks(rng, x, [60000], peak_db=-15.0, channel=0)
    c = find_candidates(y)
    a, b = spans[0]
    on = (c.index >= a - 22) & (c.index < b + 22)
    assert on.any()
    assert c.signal[on][0] == 2  # the side signal: centred music cancels there
    assert c.score[on].max() > 50


def test_the_score_does_not_depend_on_gain(rng):
    x = synthetic_music(rng, 3.0)
    y, _ = _with_clicks(rng, x, [30000, 90000], peak_db=0.0)
    a, b = find_candidates(y), find_candidates(y * 20)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(a.score, b.score, rtol=1e-3)


def test_smooth_music_and_silence_give_no_candidates(rng):
    t = np.arange(SR * 2) / SR
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert len(find_candidates(np.stack([sine, 0.5 * sine]))) == 0
    with np.errstate(all="raise"):
        c = find_candidates(np.zeros((2, SR), np.float32))
    assert len(c) == 0


def _sines():
    t = np.arange(SR) / SR
    return np.stack([0.3 * np.sin(2 * np.pi * 330 * t),
                     0.2 * np.sin(2 * np.pi * 550 * t)]).astype(np.float32)


def test_a_threshold_keeps_the_highest_sample_of_each_cluster():
    x = _sines()
    x[0, 20000] += 0.5
    x[0, 20010] += 0.3  # same cluster (< 22 samples apart): one candidate
    x[1, 30000] -= 0.4
    c = find_candidates(x)
    assert list(c.index) == [20000, 30000]
    assert c.signal[0] in (0, 2) and c.signal[1] in (1, 2)


def test_mono_audio(rng):
    x = synthetic_music(rng, 2.0)[:1]
    y, spans = _with_clicks(rng, np.repeat(x, 2, 0), [40000], peak_db=10.0)
    c = find_candidates(y[:1])
    assert c.signals.shape[0] == 1
    assert np.any(np.abs(c.index - spans[0][0]) < 60)
    wave, ctx = patches(c)
    assert wave.shape == (len(c), 6, PRE + POST)
    np.testing.assert_array_equal(wave[:, 0], wave[:, 1])  # the one signal left and right
    assert not wave[:, 2].any() and not wave[:, 5].any()  # nothing on the side


def test_patches_are_centred_on_the_candidate_and_scaled():
    x = _sines()
    x[1, 10000] += 0.2
    c = find_candidates(x)
    wave, ctx = patches(c)
    assert wave.shape == (1, 6, PRE + POST)
    assert ctx.shape == (1, 3 * 2 * (2 * TEXTURE_BLOCKS + 1) + 5)
    # the right channel's second difference peaks at the candidate, far over its scale
    assert int(np.argmax(np.abs(wave[0, 4]))) in (PRE - 1, PRE, PRE + 1)
    assert np.abs(wave[0, 4]).max() > 4  # asinh of > 25x the local scale
    assert np.isfinite(ctx).all()


def test_as_signals_builds_left_right_and_side():
    x = np.array([[1.0, 2.0], [0.0, 4.0]], np.float32)
    s = as_signals(x)
    np.testing.assert_allclose(s, [[1, 2], [0, 4], [0.5, -1.0]])


@pytest.mark.parametrize("n", [1, 2, 3, 255, 257])
def test_very_short_audio(n, rng):
    x = rng.normal(size=(2, n)).astype(np.float32)
    c = find_candidates(x)
    wave, ctx = patches(c)
    assert wave.shape[0] == len(c) == ctx.shape[0]


def _tones(rng, seconds):
    """Bright tonal music: harmonics up to 15 kHz, the same in both channels but for a pan."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(0.3 / h * np.sin(2 * np.pi * 220.0 * h * t + rng.uniform(0, 6.3))
            for h in range(1, 70))
    return np.stack([x, 0.8 * x]).astype(np.float32)


def _spiked(x, at, *, peak_db, channel=None):
    """``x`` with a sharp three-sample impulse at each sample of ``at`` (peak re x's RMS)."""
    y = x.copy()
    amp = _level(x) * 10 ** (peak_db / 20)
    for a in at:
        for r in ([0, 1] if channel is None else [channel]):
            y[r, a:a + 3] += np.float32(amp) * np.array([1.0, -0.6, 0.25], np.float32)
    return y


def _at(audio, index):
    """Candidates of ``audio`` placed at the samples ``index`` (whatever their score)."""
    c = find_candidates(audio, threshold=1e-6)
    n = len(index)
    return replace(c, index=np.asarray(index, np.int64), score=np.ones(n, np.float32),
                   signal=np.zeros(n, np.int8))


def test_whitening_makes_a_click_stand_out_of_bright_tonal_music(rng):
    x = _tones(rng, 2.0)
    clicks = [30000, 61111]
    y = _spiked(x, clicks, peak_db=-10.0, channel=0)
    music = [int(m) for m in rng.integers(5000, 80000, 60)
             if min(abs(m - k) for k in clicks) > PRE + POST][:40]
    c = _at(y, clicks + music)
    res, peak = whitened(c)
    assert res.shape == (len(c), 3, PRE + POST) and peak.shape == (len(c), 3)
    # in its channel the click is what the music's predictor cannot predict: >= 20 dB
    # over anywhere in the tones, where the second difference itself sees < 2x
    assert 20 * (peak[:2, 0].min() - peak[2:, 0].max()) > 20.0
    d2 = np.abs(np.diff(y[0], 2))  # d2[i - 1] is the second difference at sample i
    assert d2[np.array(clicks) - 1].max() < 2 * np.delete(d2, np.array(clicks)[:, None]
                                                          + np.arange(-2, 4)).max()


def test_the_predictor_leaves_the_patch_out(rng):
    """A click does not shape its own predictor: the residual before the click's
    samples is the same with and without it."""
    x = _tones(rng, 1.0)
    a = 20000
    y = _spiked(x, [a], peak_db=0.0)
    at = [a + 10]
    rx, _ = whitened(_at(x, at))
    ry, _ = whitened(_at(y, at))
    before = slice(0, PRE - 10)  # the patch's samples before the click
    np.testing.assert_allclose(ry[0, :2, before], rx[0, :2, before], atol=1e-3)
    assert np.abs(ry[0, 0]).max() > 3 * np.abs(rx[0, 0]).max()


def test_whitened_patches_and_mono(rng):
    x = synthetic_music(rng, 1.0)
    y, _ = _with_clicks(rng, x, [20000], peak_db=5.0)
    c = find_candidates(y)
    wave6, ctx6 = patches(c)
    wave9, ctx9 = patches(c, whiten=True)
    assert wave9.shape == (len(c), 9, PRE + POST) and ctx9.shape == (len(c), ctx6.shape[1] + 3)
    np.testing.assert_array_equal(wave9[:, :6], wave6)
    np.testing.assert_array_equal(ctx9[:, :-3], ctx6)
    assert np.isfinite(wave9).all() and np.isfinite(ctx9).all()
    cm = find_candidates(y[:1])
    res, peak = whitened(cm)
    np.testing.assert_array_equal(res[:, 0], res[:, 1])
    assert not res[:, 2].any()
    empty = find_candidates(np.zeros((2, 4000), np.float32))
    w, k = patches(empty, whiten=True)
    assert w.shape == (0, 9, PRE + POST) and k.shape[0] == 0


def test_a_subset_of_candidates_cuts_the_same_patches(rng):
    """``subset`` keeps the chosen candidates on the same audio: their patches, whitened
    ones too, are the rows of the whole set's."""
    x = synthetic_music(rng, 2.0)
    c = find_candidates(x, threshold=4.0)
    assert len(c) > 4
    pick = np.array([0, 2, len(c) - 1])
    sub = c.subset(pick)
    assert len(sub) == 3 and np.array_equal(sub.index, c.index[pick])
    w_all, ctx_all = patches(c, whiten=True)
    w_sub, ctx_sub = patches(sub, whiten=True)
    np.testing.assert_array_equal(w_sub, w_all[pick])
    np.testing.assert_array_equal(ctx_sub, ctx_all[pick])


def test_second_difference_and_block_medians_are_the_plain_definitions(rng):
    from vinylmon.audio.candidates import _median_last, second_difference
    x = rng.normal(size=(3, 5000)).astype(np.float32) * np.float32(0.3)
    plain = np.zeros_like(x)
    plain[:, 1:-1] = x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]
    np.testing.assert_array_equal(second_difference(x), plain)  # bit for bit
    for width in (8, 9, 64):
        v = np.abs(rng.normal(size=(3, 40, width))).astype(np.float32)
        np.testing.assert_array_equal(_median_last(v), np.median(v, axis=-1))


def test_patches_at_the_ends_of_the_audio_hold_zeros_outside_it(rng):
    x = (0.01 * rng.normal(size=(2, 3000))).astype(np.float32)
    x[0, 3] += 0.5
    x[1, 2995] += 0.5
    c = find_candidates(x)
    assert {3, 2995} <= set(c.index.tolist())
    wave, _ = patches(c)
    first = int(np.flatnonzero(c.index == 3)[0])
    last = int(np.flatnonzero(c.index == 2995)[0])
    assert not wave[first, :, :PRE - 3].any()  # before the first sample
    assert wave[first, :, PRE - 3:].any()
    assert not wave[last, :, PRE + 5:].any()  # after the last sample
    assert wave[last, :, :PRE + 5].any()

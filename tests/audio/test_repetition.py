"""Transients the music repeats are the music's; a click on that music is not."""

import numpy as np

from vinylmon.audio.candidates import find_candidates
from vinylmon.audio.repetition import repeated_in_music

SR = 44100


def _loop_music(rng, seconds=5.0, beat_s=0.5):
    """A soft pad and hiss with one sharp drum hit, sample-identical, on every beat;
    returns the stereo music and the hits' first samples."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    pad = 0.05 * np.sin(2 * np.pi * 220 * t) + 0.002 * rng.standard_normal(n)
    hit = rng.standard_normal(400) * np.exp(-np.arange(400) / 40.0)
    hit[0] = 3.0  # as sharp as a click
    x = np.stack([pad, 0.9 * pad])
    starts = np.arange(int(0.25 * SR), n - 2000, int(beat_s * SR))
    for s in starts:
        x[0, s:s + 400] += 0.3 * hit
        x[1, s:s + 400] += 0.2 * hit
    return x, starts


def _check(x, starts, width=3):
    """repeated_in_music at the candidate stage's places, impulses ``width`` long."""
    spans = np.stack([starts, np.asarray(starts) + width], 1)
    return repeated_in_music(x, spans, places=find_candidates(x).index, sample_rate=SR)


def test_a_drum_hit_the_music_repeats_is_the_music(rng):
    x, hits = _loop_music(rng)
    assert _check(x, hits[1:-1]).all()


def test_clicks_are_not_repeated_even_on_a_repeating_beat(rng):
    x, hits = _loop_music(rng)
    between = hits[2:6] + int(0.2 * SR)      # clicks between the hits
    on_beat = hits[6:8] + 37                   # clicks on the beat's decay
    clicks = np.concatenate([between, on_beat])
    for i, s in enumerate(clicks):
        x[i % 2, s:s + 3] += np.array([0.6, -0.4, 0.2]) * (1 + 0.3 * i)
    flags = _check(x, clicks)
    assert not flags.any()
    # and the hits around them are still the music's
    assert _check(x, hits[[1, 8]]).all()


def test_a_drum_hit_played_once_is_not_called_repeated(rng):
    x, hits = _loop_music(rng)
    y = x.copy()
    for s in hits[1:]:
        y[:, s:s + 400] = x[:, s - 1000:s - 600]  # only the first hit is left
    assert not _check(y, hits[:1]).any()


def test_impulses_at_the_ends_no_impulses_and_no_places(rng):
    x, hits = _loop_music(rng)
    flags = _check(x, np.array([0, 5, x.shape[1] - 3]))
    assert flags.tolist() == [False, False, False]
    assert _check(x, np.array([], int)).shape == (0,)
    assert not repeated_in_music(x, [[hits[2], hits[2] + 3]], places=[],
                                 sample_rate=SR).any()


def test_places_need_not_fall_on_the_same_sample_of_the_hit(rng):
    # the candidate stage marks a place by its score's peak, which for a repeat can
    # lie a few samples from the sample the impulse is compared around
    x, hits = _loop_music(rng)
    spans = np.stack([hits[1:-1], hits[1:-1] + 3], 1)
    shifted = np.concatenate([hits + 9, hits - 7])
    assert repeated_in_music(x, spans, places=shifted, sample_rate=SR).all()

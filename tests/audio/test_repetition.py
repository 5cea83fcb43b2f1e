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


def _panned_beat(rng, music, seconds=5.0, beat_s=0.4):
    """Music that differs under every beat (seeded synthetic notes and hiss) with one
    sampled snare-like hit (a sharp attack, then 20 ms of bright decay), sample-identical,
    in the left channel alone on every beat, its peak 12 dB over the music's RMS (the
    held-out benchmark's worst clip: one-channel percussion on the beat)."""
    x = music(seconds).astype(np.float64)
    n = x.shape[1]
    level = float(np.sqrt(np.mean(x ** 2)))
    hit = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300.0)
    hit[0] = 4.0
    hit *= 4.0 * level / np.abs(hit).max()
    starts = np.arange(int(0.2 * SR), n - 4000, int(beat_s * SR))
    for s in starts:
        x[0, s:s + hit.size] += hit
    return x.astype(np.float32), starts


def test_a_panned_hit_over_changing_music_is_compared_on_its_channel(rng, music):
    x, hits = _panned_beat(rng, music)
    spans = np.stack([hits, hits + 3], 1)
    places = find_candidates(x).index
    on_its_channel = repeated_in_music(x, spans, places=places, sample_rate=SR,
                                       channels=[0] * len(hits))
    assert on_its_channel.mean() >= 0.8
    # a click on that music, in the same channel, between the beats is its own
    clicks = hits[1:4] + int(0.13 * SR)
    for s in clicks:
        x[0, s:s + 3] += np.array([0.9, -0.5, 0.2]) * np.abs(x).max()
    flags = repeated_in_music(x, np.stack([clicks, clicks + 3], 1),
                              places=find_candidates(x).index, sample_rate=SR,
                              channels=[0] * len(clicks))
    assert not flags.any()


def test_the_search_gives_up_on_impulses_that_do_not_repeat(rng):
    x, hits = _loop_music(rng)
    clicks = hits[2:5] + int(0.2 * SR)
    for i, s in enumerate(clicks):
        x[i % 2, s:s + 3] += np.array([0.6, -0.4, 0.2]) * (1 + 0.3 * i)
    places = find_candidates(x).index
    first_clicks = np.concatenate([clicks, hits[5:7]])
    spans = np.stack([first_clicks, first_clicks + 3], 1)
    everything = repeated_in_music(x, spans, places=places, sample_rate=SR)
    assert not everything[:3].any() and everything[3:].all()
    # three clicks first, none repeated: it gives up before the hits
    assert not repeated_in_music(x, spans, places=places, sample_rate=SR,
                                 give_up_after=3).any()
    # a hit first: once one is repeated, every impulse is looked at
    hit_first = np.concatenate([hits[5:6], clicks, hits[6:7]])
    flags = repeated_in_music(x, np.stack([hit_first, hit_first + 3], 1), places=places,
                              sample_rate=SR, give_up_after=3)
    np.testing.assert_array_equal(flags, [True, False, False, False, True])


def test_a_hit_repeated_at_other_levels_and_pans_is_the_music(rng):
    """The same hit on every beat, each time at its own level (0-9 dB down) and its own
    place in the stereo image (from near left to near right: another mixer channel, a
    drummer's velocities): still the music's; a click between the hits is not."""
    n_s = int(5.0 * SR)
    t = np.arange(n_s) / SR
    pad = 0.05 * np.sin(2 * np.pi * 220 * t) + 0.002 * rng.standard_normal(n_s)
    x = np.stack([pad, 0.9 * pad])
    hit = rng.standard_normal(400) * np.exp(-np.arange(400) / 40.0)
    hit[0] = 3.0
    hits = np.arange(int(0.25 * SR), n_s - 2000, int(0.5 * SR))
    for k, s in enumerate(hits):
        gain = 0.3 * 10 ** (-rng.uniform(0, 9) / 20)
        pan = 0.1 + 0.8 * k / (len(hits) - 1)
        x[0, s:s + 400] += gain * (1 - pan) * hit
        x[1, s:s + 400] += gain * pan * hit
    assert _check(x, hits[1:-1]).all()
    clicks = hits[2:6] + int(0.2 * SR)
    for i, s in enumerate(clicks):
        x[i % 2, s:s + 3] += np.array([0.6, -0.4, 0.2])
    assert not _check(x, clicks).any()

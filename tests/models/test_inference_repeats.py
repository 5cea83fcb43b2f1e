"""The detector leaves out click-loud impulses the music repeats (a sampled hit on
every beat), and keeps a click that lands on that music once."""


import numpy as np
import pytest

from vinylmon.grading.rubric import CLICK_FLOOR_DB
from vinylmon.models.inference import Detector

SR = 44100


@pytest.fixture(scope="module")
def detector():
    return Detector(device="cpu")


def _beat_music(music, rng, *, beat_s=1.3, first_s=0.3, right=True):
    """Synthetic music with one click-sharp percussive hit, sample for sample the same,
    every ``beat_s`` from ``first_s`` on (``right``: in both channels, else the left
    alone); the hits' first samples."""
    x = music(5.0).astype(np.float64)
    hit = np.zeros((2, 300))
    hit[:, 0] = [0.9, 0.6 if right else 0.0]
    hit[:, 1] = [-0.5, -0.35 if right else 0.0]
    hit[:, 2:] += 0.04 * rng.standard_normal((2, 298)) * np.exp(-np.arange(298) / 60.0)
    if not right:
        hit[1] = 0.0
    starts = np.arange(int(first_s * SR), x.shape[1] - 2000, int(beat_s * SR))
    for s in starts:
        x[:, s:s + 300] += hit
    return x.astype(np.float32), starts


def _loud(events):
    return [e for e in events if e.click_prob > 0 and e.peak_db >= CLICK_FLOOR_DB]


def _without_and_with_the_check(detector, x):
    """The click-loud events of ``x`` without the repeat check, then with it."""
    out = detector.run([x])[0]
    try:
        detector.drop_repeated = False
        kept = _loud(detector.events(x, out))
    finally:
        detector.drop_repeated = True
    return kept, _loud(detector.events(x, out))


def _near(events, s):
    return any(abs(e.start - s) <= 44 for e in events)


def test_repeated_hits_are_left_out_and_a_single_click_kept(detector, music, rng):
    x, hits = _beat_music(music, rng)
    click = int(2.15 * SR)
    x[0, click:click + 3] += np.array([0.8, -0.5, 0.2], np.float32)
    kept, dropped = _without_and_with_the_check(detector, x)
    on_hits = [s for s in hits if _near(kept, s)]
    # without the check the verifier takes the hits for clicks (what it is for) ...
    assert len(on_hits) >= 3
    # ... with it, the hits the music repeats are the music's, the lone click is not
    assert not any(_near(dropped, s) for s in on_hits)
    assert _near(kept, click) and _near(dropped, click)


def test_a_beat_of_more_hits_than_the_search_gives_up_after_is_left_out(detector, music, rng):
    """Ten hits in a window (a hit every 0.45 s): once one is the music's, every one is
    looked at (the search gives up only where none repeats)."""
    from vinylmon.models.inference import REPEAT_GIVE_UP

    x, starts = _beat_music(music, rng, beat_s=0.45, first_s=0.2)
    kept, dropped = _without_and_with_the_check(detector, x)
    on_hits = [s for s in starts if _near(kept, s)]
    assert len(on_hits) > REPEAT_GIVE_UP  # more than the old limit, which skipped the window
    assert sum(_near(dropped, s) for s in on_hits) <= 1


def test_a_beat_the_music_repeats_does_not_lower_the_acceptance(music, rng, verifier_bundle):
    """A bundle's ``accept_clicked`` lowers the acceptance where a one-channel click
    stands; one-channel hits on the beat are the music's (the repeat check), so they
    mark nothing: the events are those without ``accept_clicked``. Without the repeat
    check the hits mark the window and the lower acceptance applies."""
    lower = Detector(device="cpu", verifier=verifier_bundle("lower", accept_clicked=0.2))
    plain = Detector(device="cpu")
    plain.accept_clicked = None
    x, starts = _beat_music(music, rng, right=False)
    x[:, :4410] *= np.linspace(0.0, 1.0, 4410, dtype=np.float32)  # no onset of its own
    out = lower.run([x])[0]
    with_lower = [(e.start, e.prob) for e in lower.events(x, out)]
    assert with_lower == [(e.start, e.prob) for e in plain.events(x, out)]
    lower.drop_repeated = False
    plain.drop_repeated = False
    heard = _loud(plain.events(x, out))
    assert sum(_near(heard, s) for s in starts) >= 2 and any(e.channel == 0 for e in heard)
    assert [(e.start, e.prob) for e in lower.events(x, out)] != \
        [(e.start, e.prob) for e in plain.events(x, out)]

"""The click verifier's training examples: labels from the exact truth, fresh scenes."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.candidates import find_candidates
from vinylmon.simulate import synthetic_music
from vinylmon.training import verifier_data as vd

SR = 44100


def _scene(music: np.ndarray, *, at: int, amp: float, channel: int) -> vd.Scene:
    """Music with one two-sample click of ``amp`` (re full scale) in ``channel``."""
    damage = np.zeros_like(music)
    damage[channel, at:at + 2] = [amp, -0.6 * amp]
    audio = music + damage
    level = float(np.sqrt(np.mean(np.square(music, dtype=np.float64))))
    peak_db = float(20 * np.log10(max(amp, 1e-12) / level))
    return vd.Scene(audio.astype(np.float32), damage.astype(np.float32), True,
                    np.array([at]), np.array([at + 2]), np.array([channel], np.int8),
                    np.array([peak_db], np.float32), float(20 * np.log10(level)))


def _near(scene: vd.Scene, at: int) -> np.ndarray:
    """The candidates (in label()'s order) within 3 samples of ``at``."""
    c = find_candidates(scene.audio, threshold=6.0)
    return np.flatnonzero(np.abs(c.index - at) <= 3)


def test_a_click_is_labelled_where_it_is_and_the_music_is_not(rng):
    music = synthetic_music(rng, 1.5)
    at = 30000
    scene = _scene(music, at=at, amp=0.3, channel=1)
    ex = vd.label(scene, threshold=6.0)
    on = _near(scene, at)
    assert on.size >= 1 and len(ex) > on.size  # the notes' onsets are candidates too
    assert (ex.label[on] == 1).all()
    assert (ex.channel[on] == 1).all()  # the right channel
    assert (ex.start[on] <= 0).all() and (ex.end[on] >= 0).all()  # a span around it
    assert ex.peak_db[on][0] == pytest.approx(scene.peak_db[0], abs=0.5)  # re the level
    assert ex.label.sum() == on.size  # nothing else is a positive
    # the same music with no click has no positive at all
    assert vd.label(_scene(music, at=at, amp=0.0, channel=1), threshold=6.0).label.sum() == 0


def test_a_candidate_the_music_makes_is_not_a_positive(rng):
    music = synthetic_music(rng, 1.5)
    at = 30000
    # a true impulse far under the transient the music makes at the same place: the
    # candidate is the music's (the damage makes < half its second difference)
    scene = _scene(music, at=at, amp=1e-4, channel=0)
    scene.audio[0, at:at + 2] += np.float32(0.3)
    on = _near(scene, at)
    assert on.size >= 1
    assert (vd.label(scene, threshold=6.0).label[on] == 0).all()


def test_through_a_microphone_the_damage_stays_exact(rng):
    music = synthetic_music(rng, 1.5).astype(np.float64)
    at = 30000
    scene = _scene(music.astype(np.float32), at=at, amp=0.3, channel=1)
    level = 10 ** (scene.level_dbfs / 20)
    mic = vd.MicSpec(rt60_s=0.3, wet_db=-10.0, room_noise_db=-40.0)
    audio, damage, lv = vd.through_microphone(np.random.default_rng(3),
                                              scene.audio.astype(np.float64),
                                              scene.damage.astype(np.float64), music,
                                              level=level, mic=mic, bank=None)
    alone, none, lv2 = vd.through_microphone(np.random.default_rng(3), music,
                                             np.zeros_like(music), music, level=level,
                                             mic=mic, bank=None)
    # the same coloration and room: the audio less the damage is the music's path
    np.testing.assert_allclose(audio - damage, alone, atol=1e-6)
    assert not none.any() and lv == lv2 and lv != level  # the level through the path
    assert np.abs(damage[1, at + 2000:]).max() > 0  # the room's reverb of the click
    assert not damage[0].any()  # in its own channel only
    heard = vd.Scene(audio.astype(np.float32), damage.astype(np.float32), True,
                     scene.starts, scene.ends, scene.channel, scene.peak_db,
                     float(20 * np.log10(lv)))
    ex = vd.label(heard, threshold=6.0)
    on = _near(heard, at)
    assert on.size >= 1 and (ex.label[on] == 1).all()
    assert ex.label.sum() == on.size  # the reverb and the music make no positive


def test_microphone_scenes_are_labelled_exactly(song, noise_dir, monkeypatch):
    monkeypatch.setattr(vd, "MIC_SHARE", 1.0)
    monkeypatch.setattr(vd, "CLEAN_SHARE", 0.0)
    monkeypatch.setattr(vd, "MONO_SHARE", 0.0)
    maker = vd.SceneMaker([song], [], vd.NoiseBank(noise_dir), seed=4)
    on_span = positives = 0
    for _ in range(6):
        s = maker.scene()
        assert s.exact and np.isfinite(s.audio).all() and np.abs(s.audio).max() <= 0.99 + 1e-6
        ex = vd.label(s, threshold=6.0)
        c = find_candidates(s.audio, threshold=6.0)
        on = np.array([np.any((s.starts - vd.TOL <= i) & (i < s.ends + vd.TOL))
                       for i in c.index], bool)
        assert not ex.label[~on].any()  # positives lie on true spans
        on_span += int(on.sum())
        positives += int(ex.label.sum())
    # through the room, part of what lies on a span is the music's, the reverb's or the
    # room's: those are not positives (they were when mic scenes were labelled by span)
    assert 0 < positives < on_span


def test_novel_shapes_are_normalised_impulses():
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = vd.novel_shape(rng)
        assert np.isfinite(x).all() and x.size >= 1
        assert np.abs(x).max() == pytest.approx(1.0, abs=1e-9)
        assert abs(x[0]) > 1e-3  # starts where the impulse does
        assert x.size <= 3 or x[-1] == 0.0  # and ends at rest


def test_music_is_played_at_other_speeds_and_revoiced_at_its_level():
    """Speed 0.86-1.17x (the length follows), a re-equalised or band-limited sound at
    the same RMS; a band limit takes out what lies above it."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 44100))
    ratios = [vd.vary_speed(rng, x).shape[1] / x.shape[1] for _ in range(50)]
    assert 0.85 <= min(ratios) and max(ratios) <= 1.18 and max(ratios) - min(ratios) > 0.15
    for _ in range(20):
        y = vd.vary_sound(rng, x)
        assert y.shape == x.shape and np.isfinite(y).all()
        assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(x ** 2)), rel=1e-6)
    keep = vd.MUSIC_EQ_SHARE, vd.MUSIC_BAND_SHARE
    try:
        vd.MUSIC_EQ_SHARE, vd.MUSIC_BAND_SHARE = 0.0, 1.0
        y = vd.vary_sound(rng, x)
    finally:
        vd.MUSIC_EQ_SHARE, vd.MUSIC_BAND_SHARE = keep
    spec = np.abs(np.fft.rfft(y[0])) ** 2
    f = np.fft.rfftfreq(y.shape[1], 1 / SR)
    assert spec[f > 20000].sum() < 1e-3 * spec[f < 10000].sum()


@pytest.fixture
def song(tmp_path, rng):
    path = tmp_path / "song.wav"
    sf.write(path, synthetic_music(rng, 20.0).T * 0.3, SR, subtype="FLOAT")
    return str(path)


def test_scenes_are_fresh_and_labelled(song):
    maker = vd.SceneMaker([song], [], None, seed=5)
    scenes = [maker.scene() for _ in range(12)]
    for s in scenes:
        assert s.audio.shape == (2, int(vd.SEGMENT_S * SR)) and np.isfinite(s.audio).all()
        assert np.abs(s.audio).max() <= 0.99 + 1e-6
        assert len(s.starts) == len(s.ends) == len(s.channel) == len(s.peak_db)
        assert (s.ends > s.starts).all()
    counts = [len(s.starts) for s in scenes]
    assert max(counts) > 0  # damaged scenes
    assert len(set(counts)) > 2  # a fresh draw each time
    again = vd.SceneMaker([song], [], None, seed=5).scene()
    assert np.array_equal(again.audio, scenes[0].audio)


def test_worn_out_records_get_a_loud_bed_and_dense_crackle(song, monkeypatch):
    monkeypatch.setattr(vd, "HEAVY_SHARE", 1.0)
    monkeypatch.setattr(vd, "CLEAN_SHARE", 0.0)
    maker = vd.SceneMaker([song], [], None, seed=11)
    specs = [maker._spec() for _ in range(40)]
    assert all(-30 <= s.noise.hiss_db <= -12 for s in specs)
    assert all(20 <= s.crackle.rate_per_s <= 150 for s in specs)
    # and the general draw stays as it was: beds no louder than -25 dB re L
    monkeypatch.setattr(vd, "HEAVY_SHARE", 0.0)
    specs = [maker._spec() for _ in range(200)]
    hiss = [s.noise.hiss_db for s in specs if s.noise.hiss_db is not None]
    assert max(hiss) <= -25 and min(hiss) >= -80
    assert max(s.crackle.rate_per_s for s in specs) <= 60


def _shot(path, rng) -> str:
    sf.write(path, (rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)) * 0.5, SR)
    return str(path)


def test_hits_come_from_the_kits_and_the_other_instruments_shots(song, tmp_path, rng,
                                                                 monkeypatch):
    monkeypatch.setattr(vd, "DRUM_SHARE", 1.0)
    monkeypatch.setattr(vd, "SYNTHETIC_HIT_SHARE", 0.0)
    kit = [_shot(tmp_path / f"kit{i}.wav", rng) for i in range(3)]
    shots = [_shot(tmp_path / f"shot{i}.wav", rng) for i in range(3)]
    maker = vd.SceneMaker([song], kit, None, seed=3, shots=shots)
    for _ in range(6):
        maker.scene()
    used = set(maker._drum_cache)
    assert used & set(kit) and used & set(shots)
    # the shots alone when there is no kit; the kits alone without shots
    alone = vd.SceneMaker([song], [], None, seed=3, shots=shots)
    for _ in range(4):
        alone.scene()
    assert alone._drum_cache and set(alone._drum_cache) <= set(shots)
    plain = vd.SceneMaker([song], kit, None, seed=3)
    for _ in range(4):
        plain.scene()
    assert set(plain._drum_cache) <= set(kit)

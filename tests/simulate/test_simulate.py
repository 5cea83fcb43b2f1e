"""The damage simulator: truth matches audio, determinism, parameters move quantities."""

import numpy as np
import pytest
from scipy import signal

from vinylmon.grading.rubric import GRADES
from vinylmon.simulate import (
    COUNT_FLOOR_DB,
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    MicSpec,
    NoiseBank,
    NoiseSpec,
    ScratchSpec,
    SkipSpec,
    WowSpec,
    program_level,
    random_spec,
    simulate,
)

SR = 44100


def music(rng, seconds, *, sr=SR):
    """Seeded stand-in for music: a few notes with envelopes and a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros((2, t.size))
    for _ in range(12):
        f, start = rng.uniform(80, 2000), rng.uniform(0, seconds)
        env = np.exp(-np.maximum(t - start, 0) * rng.uniform(0.3, 2)) * (t >= start)
        x[int(rng.integers(0, 2))] += 0.2 * env * np.sin(2 * np.pi * f * t)
    return x + 0.01 * rng.standard_normal(x.shape)


@pytest.fixture(scope="module")
def bank(noise_dir):
    return NoiseBank(noise_dir)


def impulse_mask(truth, channels=2):
    mask = np.zeros((channels, truth.frames), dtype=bool)
    for imp in truth.impulses:
        chans = range(channels) if imp.channel is None else [imp.channel]
        for c in chans:
            mask[c, imp.start:imp.end] = True
    return mask


def under_louder(imp, impulses):
    return (o for o in impulses if o is not imp and o.peak_db > imp.peak_db
            and o.start < imp.end and o.end > imp.start
            and (imp.channel is None or o.channel is None or o.channel == imp.channel))


def test_crackle_under_a_click_stays_crackle(rng):
    # dense clicks and crackle overlap often; a tick under a click is not a second click
    spec = DamageSpec(seed=5, clicks=ClickSpec(rate_per_min=600, peak_db=(0.0, 10.0)),
                      crackle=CrackleSpec(rate_per_s=200, peak_db=(-40, -20)))
    d = simulate(music(rng, 20), spec)
    ticks = [i for i in d.truth.impulses if i.kind == "crackle"]
    hidden = [t for t in ticks if any(o.kind == "click" for o in under_louder(t, d.truth.impulses))]
    assert len(hidden) >= 5
    assert max(t.peak_db for t in ticks) < -20 + 0.01
    clicks = [i for i in d.truth.impulses if i.kind in ("click", "pop")]
    assert sum(i.peak_db >= -10 for i in d.truth.impulses) == len(clicks)


def test_truth_matches_audio(rng):
    spec = DamageSpec(seed=3, clicks=ClickSpec(rate_per_min=120),
                      crackle=CrackleSpec(rate_per_s=30, peak_db=(-45, -12)),
                      scratches=(ScratchSpec(2.0, 5, -3.0),),
                      skips=(SkipSpec(12.0, "repeat", 1),))
    d = simulate(music(rng, 20), spec)
    diff = d.audio.astype(np.float64) - d.clean
    mask = impulse_mask(d.truth)
    assert len(d.truth.impulses) > 100
    # nothing outside the truth spans
    assert np.abs(diff[~mask]).max() == 0.0
    # every impulse sits where the difference has its energy, at its peak level
    # (one under a louder impulse keeps its own, lower peak)
    level = d.truth.program_level_dbfs
    for imp in d.truth.impulses:
        chans = [0, 1] if imp.channel is None else [imp.channel]
        seg = np.abs(diff[chans, imp.start:imp.end])
        peak_db = 20 * np.log10(seg.max()) - level
        if not any(under_louder(imp, d.truth.impulses)):
            assert peak_db == pytest.approx(imp.peak_db, abs=0.05), imp
        assert seg[:, 0].max() > 0 or seg[:, -1].max() > 0 or seg.shape[1] <= 2  # tight span
    # a one-channel impulse leaves the other channel alone (unless another overlaps)
    for imp in d.truth.impulses:
        if imp.channel is not None:
            other = 1 - imp.channel
            if not mask[other, imp.start:imp.end].any():
                assert np.abs(diff[other, imp.start:imp.end]).max() == 0.0
    assert program_level(d.clean, sample_rate=SR)[0] == pytest.approx(level, abs=0.01)


def test_deterministic(rng, bank):
    m = music(rng, 12)
    spec = random_spec(np.random.default_rng(5), duration_s=10, grade="G+")
    a = simulate(m, spec, duration_s=10, bank=bank)
    b = simulate(m, spec, duration_s=10, bank=bank)
    assert np.array_equal(a.audio, b.audio)
    assert a.truth.impulses == b.truth.impulses
    assert a.truth.to_dict() == b.truth.to_dict()
    c = simulate(m, DamageSpec(**{**spec.to_dict(), "seed": spec.seed + 1,
                                  "clicks": spec.clicks, "crackle": spec.crackle,
                                  "scratches": spec.scratches, "noise": spec.noise,
                                  "wow": spec.wow, "skips": spec.skips, "mic": spec.mic}),
                 duration_s=10, bank=bank)
    assert not np.array_equal(a.audio, c.audio)


def count_events(diff, level_db, floor_db):
    """An independent count: separate peaks of |diff| above L + floor_db."""
    env = np.abs(diff).max(axis=0)
    hot = np.flatnonzero(env >= 10 ** ((level_db + floor_db) / 20))
    if hot.size == 0:
        return 0
    return 1 + int(np.sum(np.diff(hot) > int(0.003 * SR)))


def test_click_rate_moves_c(rng):
    m = music(rng, 30)
    cs, counts = [], []
    for rate in (0, 4, 30, 120):
        d = simulate(m, DamageSpec(seed=11, clicks=ClickSpec(rate_per_min=rate,
                                                             peak_db=(-9.0, 20.0))))
        cs.append(d.truth.quantities.clicks_per_min)
        counts.append(count_events(d.audio - d.clean.astype(np.float64),
                                   d.truth.program_level_dbfs, -10.0))
    assert cs == sorted(cs) and cs[0] == 0 and cs[-1] > 60
    assert counts == sorted(counts) and counts[0] == 0
    # the independent count agrees with the truth (a few clicks may merge)
    assert counts[-1] == pytest.approx(cs[-1] / 2, rel=0.15)


def test_crackle_rate_moves_k(rng):
    m = music(rng, 20)
    ks = [simulate(m, DamageSpec(seed=2, crackle=CrackleSpec(rate_per_s=r))).truth.quantities
          .crackle_per_s for r in (0.5, 5, 50)]
    assert ks[0] < ks[1] < ks[2]
    assert ks[2] == pytest.approx(50, rel=0.15)


@pytest.mark.parametrize("component", ["hiss_db", "rumble_db", "hum_db"])
def test_noise_level_moves_n_and_is_measured(rng, component):
    m = music(rng, 10)
    ns = []
    for db in (-65.0, -45.0, -30.0):
        d = simulate(m, DamageSpec(seed=4, noise=NoiseSpec(**{component: db})))
        bed = d.audio.astype(np.float64) - d.clean  # no impulses: the bed alone
        measured = 10 * np.log10(np.mean(bed**2)) - d.truth.program_level_dbfs
        assert d.truth.surface_noise_db == pytest.approx(db, abs=0.1)
        assert measured == pytest.approx(db, abs=0.2)
        ns.append(d.truth.quantities.surface_noise_db)
    assert ns == sorted(ns)


def test_rumble_is_below_30_hz_and_hum_at_mains(rng):
    m = music(rng, 5)
    for spec, band in ((NoiseSpec(rumble_db=-30, rumble_hz=25), (0, 35)),
                       (NoiseSpec(hum_db=-30, hum_hz=60), (55, 65))):
        d = simulate(m, DamageSpec(seed=1, noise=spec))
        f, p = signal.welch(d.audio[0] - d.clean[0], fs=SR, nperseg=1 << 15)
        inside = p[(f >= band[0]) & (f <= band[1])].sum() / p.sum()
        assert inside > (0.9 if band[0] == 0 else 0.3), inside


def test_scratch_needs_three_revolutions(rng):
    m = music(rng, 15)
    two = simulate(m, DamageSpec(seed=1, scratches=(ScratchSpec(1.0, 2, 0.0),)))
    three = simulate(m, DamageSpec(seed=1, scratches=(ScratchSpec(1.0, 3, -8.0),)))
    many = simulate(m, DamageSpec(seed=1, scratches=(ScratchSpec(1.0, 7, 0.0, rpm=45.0,
                                                                 speed_error=0.02),)))
    assert two.truth.quantities.scratches == 0
    assert three.truth.quantities.scratches == 1 and three.truth.grade.grade == "VG"
    assert many.truth.grade.grade == "G+" and many.truth.grade.limited_by in (
        "scratches", "clicks_per_min")
    s = many.truth.scratches[0]
    assert s.count == 7 and s.period_s == pytest.approx(60 / 45 * 1.02)
    ticks = [i for i in many.truth.impulses if i.kind == "scratch"]
    gaps = np.diff([i.start for i in ticks]) / SR
    assert np.allclose(gaps, 60 / 45 * 1.02, rtol=0.015)


@pytest.mark.parametrize("kind", ["repeat", "jump"])
def test_skip_repeats_or_loses_a_revolution(rng, kind):
    m = music(rng, 16)
    d = simulate(m, DamageSpec(seed=1, skips=(SkipSpec(6.0, kind, 1),)), duration_s=12)
    assert d.truth.quantities.skips == 1 and d.truth.grade.grade == "F"
    period = int(round(1.8 * SR))
    at = int(6.0 * SR)
    clean = d.clean[0].astype(np.float64)
    src = m[0] / np.abs(m[0]).max()
    got = clean[at + 2000:at + 20000] / np.abs(clean).max()
    if kind == "repeat":  # the revolution before the jump plays again
        want = src[at - period + 2000:at - period + 20000]
    else:  # a revolution is lost
        want = src[at + period + 2000:at + period + 20000]
    assert np.corrcoef(got, want)[0, 1] > 0.999
    assert any(i.source == "skip" for i in d.truth.impulses)


def test_wow_moves_pitch(rng):
    t = np.arange(SR * 6) / SR
    tone = np.stack([0.3 * np.sin(2 * np.pi * 1000 * t)] * 2)
    devs = []
    for depth in (0.0, 0.002, 0.01):
        d = simulate(tone, DamageSpec(seed=1, wow=WowSpec(wow_depth=depth, wow_hz=0.5556)))
        analytic = signal.hilbert(d.clean[0].astype(np.float64))
        inst = np.diff(np.unwrap(np.angle(analytic))) * SR / (2 * np.pi)
        devs.append(np.percentile(np.abs(inst[SR:-SR] - 1000), 95))
    assert devs[0] < 0.5 and devs[0] < devs[1] < devs[2]
    assert devs[2] == pytest.approx(10, rel=0.2)  # 1 % of 1 kHz


def test_mic_path_adds_room_noise_but_not_to_n(rng, bank):
    m = music(rng, 10)
    line = simulate(m, DamageSpec(seed=1, noise=NoiseSpec(hiss_db=-55)), bank=bank)
    mic = simulate(m, DamageSpec(seed=1, noise=NoiseSpec(hiss_db=-55),
                                 mic=MicSpec(room_noise_db=-35)), bank=bank)
    assert mic.truth.surface_noise_db == line.truth.surface_noise_db
    assert mic.truth.room_noise_db == -35
    resid = mic.audio.astype(np.float64) - mic.clean
    assert 10 * np.log10(np.mean(resid**2)) - mic.truth.program_level_dbfs > -45


def test_real_bed_impulses_are_where_the_bed_ticks(rng, bank):
    m = music(rng, 12)
    d = simulate(m, DamageSpec(seed=9, noise=NoiseSpec(real_bed_db=-40)), bank=bank)
    bed_imps = [i for i in d.truth.impulses if i.source == "real bed"]
    assert len(bed_imps) > 50
    assert all(i.peak_db >= COUNT_FLOOR_DB for i in bed_imps)
    sos = signal.butter(4, 2000, btype="highpass", fs=SR, output="sos")
    hp = np.abs(signal.sosfiltfilt(sos, d.audio.astype(np.float64) - d.clean, axis=1)).max(axis=0)
    floor = np.median(hp)
    hits = [hp[i.start:i.end].max() > 4 * floor for i in bed_imps]
    assert np.mean(hits) > 0.95
    assert d.truth.quantities.crackle_per_s > 5


def test_random_specs_cover_every_grade_and_kind(rng, bank):
    m = music(rng, 12)
    seen, limits = set(), set()
    gen = np.random.default_rng(0)
    for g in GRADES:
        for _ in range(4):
            d = simulate(m, random_spec(gen, duration_s=10, grade=g), duration_s=10, bank=bank)
            seen.add(d.truth.grade.grade)
            limits.add(d.truth.grade.limited_by)
    assert seen == set(GRADES)
    assert {"clicks_per_min", "crackle_per_s", "surface_noise_db"} <= limits


@pytest.mark.parametrize("correlation", [0.0, 1.0])
def test_hiss_correlation_sets_how_much_of_the_bed_is_in_the_side(rng, correlation):
    m = music(rng, 5)
    d = simulate(m, DamageSpec(seed=3, noise=NoiseSpec(hiss_db=-30.0,
                                                       hiss_correlation=correlation)))
    bed = d.audio.astype(np.float64) - d.clean
    share = np.mean((bed[0] - bed[1]) ** 2) / np.mean((bed[0] + bed[1]) ** 2)
    if correlation == 1.0:  # a mono bed: nothing in L - R
        assert share < 1e-6
    else:  # independent channels: as much in L - R as in L + R
        assert share == pytest.approx(1.0, rel=0.1)
    assert d.truth.surface_noise_db == pytest.approx(-30.0, abs=0.1)

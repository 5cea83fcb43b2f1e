"""The click verifier: architecture, and the shipped one on signals whose answer is known."""

import numpy as np
import pytest
import torch

from vinylmon.audio.candidates import find_candidates, patches
from vinylmon.models.inference import WEIGHTS_DIR, load_verifier
from vinylmon.models.verifier import (
    OUTPUTS,
    VerifierConfig,
    VerifierEnsemble,
    build_verifier,
    calibrated,
    candidates_for,
    find_impulses,
    first_patches,
    shows_clicks,
)
from vinylmon.simulate import shapes, synthetic_music

SR = 44100


@pytest.fixture(scope="module")
def shipped():
    return load_verifier(WEIGHTS_DIR / "verifier", "cpu")


def _level(x):
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def _clicked(rng, x, *, peaks_db, channels, gap=15000):
    """``x`` with one simulator click per peak, ``gap`` samples apart; truth rows
    (start, end, channel, peak dB re x's level)."""
    y = x.copy()
    level = _level(x)
    truth = []
    at = 4000
    for peak, ch in zip(peaks_db, channels, strict=True):
        c = shapes.click(rng, SR, style="impulse") * level * 10 ** (peak / 20)
        rows = [0, 1] if ch is None else [ch]
        for r in rows:
            y[r, at:at + c.size] += c.astype(np.float32)
        truth.append((at, at + c.size, ch, peak))
        at += gap + int(rng.integers(0, 3000))
    return y, truth


def test_architecture_and_config_round_trip():
    cfg = VerifierConfig(width=24, stem=8, hidden=32)
    m = build_verifier(cfg.to_dict())
    assert m.config == cfg
    wave = torch.zeros(5, 6, cfg.length)
    ctx = torch.zeros(5, cfg.context)
    assert m(wave, ctx).shape == (5, len(OUTPUTS))
    assert m.prefilter(ctx).shape == (5,)
    # the prefilter is the last output, computed from the context alone
    torch.testing.assert_close(m(torch.randn(5, 6, cfg.length), ctx)[:, -1], m.prefilter(ctx))


def test_residual_layers_widen_the_view_and_old_configs_have_none():
    """``layers`` adds residual dilated convolutions after the strided ones: more
    parameters, the same inputs and outputs; a config from before the key has none."""
    plain = build_verifier(VerifierConfig(width=24, stem=8, hidden=32).to_dict())
    deep = build_verifier(VerifierConfig(width=24, stem=8, hidden=32, layers=2).to_dict())
    assert len(deep.blocks) == 2 and len(plain.blocks) == 0
    n = sum(p.numel() for p in deep.parameters()) - sum(p.numel() for p in plain.parameters())
    assert n == 2 * (24 * 24 * 3 + 24)
    wave, ctx = torch.randn(4, 6, deep.config.length), torch.randn(4, deep.config.context)
    assert deep(wave, ctx).shape == (4, len(OUTPUTS))
    old = {k: v for k, v in VerifierConfig().to_dict().items() if k != "layers"}
    assert build_verifier(old).config.layers == 0


def test_whitened_inputs_and_bundles_from_before_them():
    """A whitening model takes 9 wave channels and 3 more context values; a 2.0
    bundle's params (no ``whiten`` key) still build the 6-channel model."""
    cfg = VerifierConfig(whiten=True)
    m = build_verifier(cfg.to_dict())
    assert m.config.whiten and m.config.wave_channels == 9
    out = m(torch.zeros(3, 9, cfg.length), torch.zeros(3, cfg.context + 3))
    assert out.shape == (3, len(OUTPUTS))
    with pytest.raises(RuntimeError):
        m(torch.zeros(3, 6, cfg.length), torch.zeros(3, cfg.context + 3))
    old = {k: v for k, v in VerifierConfig().to_dict().items() if k != "whiten"}
    assert build_verifier(old).config.wave_channels == 6


def test_an_ensemble_averages_members_that_read_different_inputs():
    """A raw-input member reads the first channels of whitened patches; the outputs are
    the members' mean, the prefilter their largest logit; params rebuild it."""
    torch.manual_seed(0)
    raw, white = build_verifier(VerifierConfig().to_dict()), \
        build_verifier(VerifierConfig(whiten=True).to_dict())
    ens = VerifierEnsemble([raw, white]).eval()
    assert ens.config.whiten
    cfg = ens.config
    wave, ctx = torch.randn(4, 9, cfg.length), torch.randn(4, cfg.context + 3)
    with torch.no_grad():
        a = raw(wave[:, :6], ctx[:, :cfg.context])
        b = white(wave, ctx)
        out = ens(wave, ctx)
        torch.testing.assert_close(out[:, :-1], (a[:, :-1] + b[:, :-1]) / 2)
        torch.testing.assert_close(out[:, -1], torch.maximum(a[:, -1], b[:, -1]))
        torch.testing.assert_close(ens.prefilter(ctx), out[:, -1])
    again = build_verifier(ens.params)
    again.load_state_dict(ens.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(wave, ctx), out)


def test_the_shipped_verifier_places_loud_clicks_on_their_samples(shipped, rng):
    """Three 5-s stretches of music with 12 clicks each (3..15 dB re L, left, right,
    both): found, started within 0.5 ms (all but one within 1 ms), peaks within 3 dB
    (median), channels right."""
    model, accept, prefilter, min_peak = shipped
    errs, start_errs, chan_ok, hit, extra = [], [], 0, 0, 0
    for _ in range(3):
        x = synthetic_music(rng, 5.0)
        peaks = rng.uniform(3.0, 15.0, 12)
        y, truth = _clicked(rng, x, peaks_db=peaks, channels=[0, 1, None] * 4)
        found = find_impulses(model, y, accept=accept, prefilter=prefilter,
                              min_peak_db=min_peak)
        for s, e, ch, peak in truth:
            near = [d for d in found if d.start < e + 44 and d.end > s - 44]
            if not near:
                continue
            hit += 1
            d = near[0]
            start_errs.append(abs(d.start - s))
            errs.append(d.peak_db - peak)
            chan_ok += d.channel == ch
        extra += max(0, len(found) - len(truth))
    assert hit >= 33
    start_errs = np.array(start_errs)
    assert np.mean(start_errs <= 22) >= 0.95 and np.sum(start_errs > 44) <= 1, start_errs
    assert np.median(np.abs(errs)) <= 3.0
    assert chan_ok >= 0.75 * hit
    assert extra <= 6


def test_the_cascade_finds_what_the_whole_ensemble_finds(shipped, rng):
    """The shipped ensemble as a cascade (whitened patches only where the raw-input
    member is unsure) accepts the same loud clicks as every member on every candidate."""
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 5.0)
    y, truth = _clicked(rng, x, peaks_db=rng.uniform(3.0, 15.0, 12), channels=[0, 1, None] * 4)
    kw = dict(accept=accept, prefilter=prefilter, min_peak_db=min_peak)
    fast = find_impulses(model, y, **kw)
    full = find_impulses(model, y, cascade=False, **kw)
    assert abs(len(fast) - len(full)) <= 1
    for s, e, _, _ in truth:
        assert any(d.start < e + 44 and d.end > s - 44 for d in fast) == \
            any(d.start < e + 44 and d.end > s - 44 for d in full)


def test_patches_cut_ahead_give_the_same_impulses(shipped, rng):
    """A file's reader thread cuts the candidates' first patches ahead
    (first_patches); find_impulses given them finds exactly what it finds alone."""
    model, accept, prefilter, min_peak = shipped
    y, _ = _clicked(rng, synthetic_music(rng, 5.0), peaks_db=rng.uniform(-6.0, 15.0, 10),
                    channels=[0, 1, None, None, 0] * 2)
    c = candidates_for(model, y)
    kw = dict(accept=0.3, prefilter=prefilter, min_peak_db=min_peak, candidates=c)
    alone = find_impulses(model, y, **kw)
    assert len(alone) >= 8
    assert find_impulses(model, y, first=first_patches(model, c), **kw) == alone


def test_the_shipped_verifier_leaves_clean_music_alone(shipped, rng):
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 10.0)
    # sharp, hard-panned percussion on the beat: noise bursts with a 1-ms attack
    hit = rng.normal(size=4000) * np.exp(-np.arange(4000) / 600.0)
    hit[:44] *= np.linspace(0, 1, 44)
    y = x.copy()
    for k, at in enumerate(range(2000, y.shape[1] - 4000, 11025)):
        y[k % 2, at:at + 4000] += (0.5 * _level(x) * 10 ** (6 / 20) * hit).astype(np.float32)
    assert len(find_candidates(y)) > 0  # the stage before proposes something
    found = find_impulses(model, y, accept=accept, prefilter=prefilter, min_peak_db=min_peak)
    assert len(found) <= 2


def test_the_prefilter_keeps_what_the_full_verifier_accepts_on_loud_clicks(shipped, rng):
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 5.0)
    y, truth = _clicked(rng, x, peaks_db=rng.uniform(0.0, 12.0, 10), channels=[None, 0] * 5)
    with_pre = find_impulses(model, y, accept=accept, prefilter=prefilter, min_peak_db=min_peak)
    without = find_impulses(model, y, accept=accept, prefilter=0.0, min_peak_db=min_peak)
    assert [d.start for d in with_pre] == [d.start for d in without]


def test_a_mono_window_gives_events_in_every_channel(shipped, rng):
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 3.0)
    y, truth = _clicked(rng, x, peaks_db=[10.0, 12.0, 8.0], channels=[None] * 3)
    found = find_impulses(model, y[:1], accept=accept, prefilter=prefilter,
                          min_peak_db=min_peak)
    assert len(found) >= 2 and all(d.channel is None for d in found)


def test_calibrated_moves_the_logit():
    assert calibrated(0.5, 0.0) == 0.5
    assert calibrated(0.5, np.log(3.0)) == pytest.approx(0.75)
    assert calibrated(0.98, -5.0) == pytest.approx(1 / (1 + np.exp(-(np.log(49.0) - 5.0))))
    assert calibrated(0.0, 3.0) == 0.0 and calibrated(1.0, -3.0) == 1.0
    ps = [calibrated(p, -2.0) for p in (0.1, 0.5, 0.9, 0.99)]
    assert ps == sorted(ps) and all(q < p for q, p in zip(ps, (0.1, 0.5, 0.9, 0.99), strict=True))


def test_a_record_shows_clicks_by_a_sure_loud_one_channel_detection():
    assert shows_clicks(0, 0.9, -10.0, accept=0.8)
    assert shows_clicks(1, 0.8, 12.0, accept=0.8)
    assert not shows_clicks(None, 0.99, 12.0, accept=0.8)  # both channels: music's too
    assert not shows_clicks(0, 0.79, 12.0, accept=0.8)
    assert not shows_clicks(0, 0.99, -10.5, accept=0.8)  # crackle-loud: not a click


def test_the_both_channel_offset_judges_only_impulses_heard_in_both(shipped, rng):
    """Clicks in the left, the right and both channels: a strict offset for both channels
    leaves the one-channel detections exactly as they were and takes out those heard in
    both; a lenient one finds every click found without it; mono audio has no
    channels to tell apart, so no offset."""
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 5.0)
    y, truth = _clicked(rng, x, peaks_db=rng.uniform(3.0, 12.0, 12), channels=[0, 1, None] * 4)
    kw = dict(accept=accept, prefilter=prefilter, min_peak_db=min_peak)
    plain = find_impulses(model, y, **kw)
    strict = find_impulses(model, y, both_offset=-20.0, **kw)
    lenient = find_impulses(model, y, both_offset=5.0, **kw)
    one = [d for d in plain if d.channel is not None]
    assert sum(d.channel is None for d in plain) >= 2 and len(one) >= 4
    assert strict == one

    def on(found, s, e):
        return [d for d in found if d.start < e + 44 and d.end > s - 44]

    for s, e, _, _ in truth:  # what is found without the offset is found with it
        assert not on(plain, s, e) or on(lenient, s, e)
    raised = [d for d in lenient if d.channel is None and d.prob < 1.0]
    assert raised and all(d.prob >= accept for d in raised)
    mono = find_impulses(model, y[:1], **kw)
    assert find_impulses(model, y[:1], both_offset=-20.0, **kw) == mono and mono


def test_a_one_channel_click_relaxes_the_offset_for_its_audio(shipped, rng):
    """A stretch holding a click-loud impulse in one channel is a damaged record: with
    ``both_offset_clicked`` its both-channel impulses are judged with that offset; a
    stretch without one keeps the strict one."""
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 5.0)
    kw = dict(accept=accept, prefilter=prefilter, min_peak_db=min_peak)
    mixed, _ = _clicked(rng, x, peaks_db=[12.0, 3.0, 4.0, 5.0], channels=[0, None, None, None])
    both_only, _ = _clicked(rng, x, peaks_db=[3.0, 4.0, 5.0], channels=[None, None, None])
    seen = []
    for y in (mixed, both_only):
        plain = find_impulses(model, y, **kw)
        strict = find_impulses(model, y, both_offset=-20.0, **kw)
        relaxed = find_impulses(model, y, both_offset=-20.0, both_offset_clicked=0.0, **kw)
        assert sum(d.channel is None for d in strict) < sum(d.channel is None for d in plain)
        has_one = any(d.channel is not None and d.peak_db >= -10.0 for d in plain)
        assert relaxed == (plain if has_one else strict)
        seen.append(has_one)
    assert seen[0]  # the one-channel click is heard


def test_the_click_that_marks_a_damaged_record_passes_the_callers_acceptance(shipped, rng):
    """``clicked_accept``: the probability the one-channel click must reach to mark its
    audio as a damaged record (a caller asking for fainter impulses too gives its own
    acceptance here); a click under it leaves the strict offset in place."""
    model, accept, prefilter, min_peak = shipped
    x = synthetic_music(rng, 5.0)
    kw = dict(accept=accept, prefilter=prefilter, min_peak_db=min_peak, both_offset=-20.0)
    mixed, _ = _clicked(rng, x, peaks_db=[12.0, 3.0, 4.0, 5.0], channels=[0, None, None, None])
    strict = find_impulses(model, mixed, **kw)
    relaxed = find_impulses(model, mixed, both_offset_clicked=0.0, **kw)
    assert relaxed != strict
    sure = max(d.prob for d in relaxed if d.channel is not None and d.peak_db >= -10.0)
    assert find_impulses(model, mixed, both_offset_clicked=0.0, clicked_accept=sure,
                         **kw) == relaxed
    assert sure < 1.0
    assert find_impulses(model, mixed, both_offset_clicked=0.0,
                         clicked_accept=float(np.nextafter(sure, 2.0)), **kw) == strict


def test_patch_outputs_line_up_with_candidates(shipped, rng):
    model = shipped[0]
    x = synthetic_music(rng, 2.0)
    c = find_candidates(x)
    wave, ctx = patches(c, whiten=model.config.whiten)
    with torch.inference_mode():
        out = model(torch.from_numpy(wave), torch.from_numpy(ctx))
    assert out.shape == (len(c), len(OUTPUTS))
    assert torch.isfinite(out).all()

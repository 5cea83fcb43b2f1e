"""The shipped bundles load, run and hear a click in synthetic music."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from vinylmon.errors import AudioDataError, WeightsError
from vinylmon.grading.rubric import CLICK_FLOOR_DB, GRADES
from vinylmon.models.bundle import read_meta
from vinylmon.models.detector import DetectorOutput, SampleEvent
from vinylmon.models.inference import (
    WEIGHTS_DIR,
    Detector,
    LearnedGrader,
    analyse_excerpt,
    clicked_offset,
    faint_peak_offset,
)
from vinylmon.models.verifier import calibrated, find_impulses
from vinylmon.simulate import ClickSpec, DamageSpec, shapes, simulate

SR = 44100


@pytest.fixture(scope="module")
def detector():
    return Detector(device="cpu")


def test_bundles_carry_their_metadata():
    total = 0
    for name in ("detector", "grader"):
        meta = read_meta(WEIGHTS_DIR / name)
        assert meta["name"] == name
        assert meta["metrics"], f"{name}: no measured metrics in meta.json"
        total += (WEIGHTS_DIR / name / "model.pt").stat().st_size
    assert total < 20e6


def test_detector_hears_clicks_within_1ms(detector, music):
    clean = music()
    spec = DamageSpec(seed=7, clicks=ClickSpec(rate_per_min=60.0, peak_db=(0.0, 12.0)))
    d = simulate(clean, spec)
    truth = [i for i in d.truth.impulses if i.peak_db >= -10]
    assert len(truth) >= 5
    a = analyse_excerpt(d.audio, detector)
    found = 0
    for imp in truth:
        if any(abs(e.start_s * SR - imp.start) <= 44 for e in a.events):
            found += 1
    assert found / len(truth) >= 0.8
    assert len(a.events) <= len(truth) + 3
    # each window carries the heads' click count; c counts it in the windows that show
    # detected clicks, where it is higher
    live = [(w, o) for w, o in zip(a.windows, a.outputs, strict=True) if not w.silent]
    assert live and all(w.learned_clicks == pytest.approx(max(0.0, o.clicks)) for w, o in live)
    loud = [e.start_s for e in a.events if e.peak_db >= -10]
    per = [sum(w.start_s <= t < w.end_s for t in loud) for w, _ in live]
    raised = sum(max(n, w.learned_clicks) if n else 0 for n, (w, _) in zip(per, live,
                                                                       strict=True))
    assert a.side.clicks == max(len(loud), round(raised)) >= len(loud) >= 5


def test_click_loud_peaks_are_measured_on_the_audio(detector, music, rng):
    """Twelve clicks 0..12 dB re the level in music, left, right or both: the peaks the
    detector reports are the clicks' own (median error <= 1.5 dB), nearer the truth than
    the verifier's learned peaks of the same detections (the music under a click adds
    to its samples)."""
    x = music(10.0).astype(np.float64)
    peaks = np.linspace(0.0, 12.0, 12)
    level = float(np.sqrt(np.mean(x ** 2)))
    truth = []
    for i, (at, p) in enumerate(zip(range(20000, 420000, 33000), peaks, strict=False)):
        c = shapes.click(rng, SR)
        c = c / np.abs(c).max() * level * 10 ** (p / 20)
        rows = [[0], [1], [0, 1]][i % 3]
        x[rows, at:at + c.size] += c
        truth.append((at, at + c.size, p))
    y = x.astype(np.float32)
    ref = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / level)
    measured = detector.verified(y)
    learned = find_impulses(detector.verifier, y, accept=detector.accept,
                            prefilter=detector.prefilter, min_peak_db=detector.min_peak_db)
    errs, learned_errs = [], []
    for s, e, p in truth:
        got = [d for d in measured if d.start < e and d.end > s]
        was = [d for d in learned if d.start < e and d.end > s]
        if got and was:
            errs.append(got[0].peak_db - (p - ref))
            learned_errs.append(was[0].peak_db - (p - ref))
    assert len(errs) >= 10
    assert np.median(np.abs(errs)) <= 1.5, errs
    assert np.median(np.abs(errs)) < np.median(np.abs(learned_errs)), (errs, learned_errs)


def test_clean_synthetic_music_has_few_events(detector, music):
    a = analyse_excerpt(music(), detector)
    assert len(a.events) <= 1


def test_k_counts_the_crackle_ticks_the_verifier_hears(detector, music, rng):
    """The shipped verifier counts crackle down to its crackle floor: 10 ticks a second
    at L - 20 dB in both channels' turn read as several a second (most heard, none
    invented); the same music without them as none."""
    assert detector.counts_crackle and detector.crackle_floor_db <= -30
    x = music(20.0)
    level = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    y = x.copy()
    ticks = 0
    for at in range(3000, y.shape[1] - 1000, SR // 10):
        t = shapes.crackle_tick(rng, SR) * level * 10 ** (-20 / 20)
        y[ticks % 2, at:at + t.size] += t.astype(np.float32)
        ticks += 1
    heard = analyse_excerpt(y, detector)
    k = heard.side.quantities.crackle_per_s
    assert 0.4 * ticks / 20.0 <= k <= ticks / 20.0 + 0.2, k
    crackle = [e for e in heard.events if e.peak_db < -10]
    assert len(crackle) >= 0.4 * ticks
    assert analyse_excerpt(x, detector).side.quantities.crackle_per_s < 0.2


def test_a_windows_k_is_its_heard_ticks_raised_by_the_heads_past_the_gate(detector):
    """window_crackle counts accepted ticks between the crackle floor and L - 10 dB;
    past the gate the count heads' density (masked ticks too) may raise it, never
    lower it; without the gate the count alone."""
    out = DetectorOutput(np.zeros(5), -60.0, 0.0, 0.0, np.zeros(1), np.zeros(1),
                         np.zeros(1), 256, crackle_per_s=9.0)
    a = detector.accept
    ev = [SampleEvent(0, 1, 0, -20.0, 0.0, a),  # a tick
          SampleEvent(0, 1, 0, -25.0, 0.0, a),  # a tick
          SampleEvent(0, 1, 0, -5.0, a, a),  # a click, not crackle
          SampleEvent(0, 1, 0, detector.crackle_floor_db - 1, 0.0, a),  # under the floor
          SampleEvent(0, 1, 0, -20.0, 0.0, a / 2)]  # not accepted
    gate = detector.crackle_gate_per_s
    try:
        detector.crackle_gate_per_s = None
        assert detector.window_crackle(ev, out, seconds=5.0) == pytest.approx(0.4)
        detector.crackle_gate_per_s = 0.4
        assert detector.window_crackle(ev, out, seconds=5.0) == pytest.approx(9.0)
        assert detector.window_crackle(ev, replace(out, crackle_per_s=0.1),
                                       seconds=5.0) == pytest.approx(0.4)
        detector.crackle_gate_per_s = 0.5
        assert detector.window_crackle(ev, out, seconds=5.0) == pytest.approx(0.4)
        with pytest.raises(ValueError, match="seconds"):
            detector.window_crackle(ev, out, seconds=0.0)
    finally:
        detector.crackle_gate_per_s = gate


def test_grader_runs(music):
    g = LearnedGrader(device="cpu")
    p = g.run([music(5.0)])
    assert p.shape == (1, len(GRADES))
    assert p.sum() == pytest.approx(1.0, abs=1e-4)


def test_bad_windows(detector):
    with pytest.raises(AudioDataError, match="NaN"):
        detector.run([np.full((2, SR), np.nan, np.float32)])
    with pytest.raises(AudioDataError, match="no windows"):
        detector.run([])
    with pytest.raises(AudioDataError, match="expected"):
        detector.run([np.zeros((2, SR), np.float32), np.zeros((2, 10), np.float32)])


def test_tampered_bundle_is_refused(tmp_path):
    folder = tmp_path / "detector"
    shutil.copytree(WEIGHTS_DIR / "detector", folder)
    data = bytearray((folder / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.pt").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        Detector(folder, device="cpu")


def test_the_clicked_window_acceptance_is_the_logit_offset_it_stands_for():
    for accept, lower in ((0.8, 0.7), (0.9, 0.5), (0.5, 0.2)):
        off = clicked_offset(accept, lower)
        assert off > 0 and calibrated(lower, off) == pytest.approx(accept)
    assert clicked_offset(0.8, None) == 0.0 and clicked_offset(0.8, 0.8) == 0.0
    assert clicked_offset(1.0, 0.0) == 20.0  # held to the largest offset


def test_a_verifier_bundle_gives_its_clicked_window_acceptance(verifier_bundle, music):
    """meta.json's ``postprocess.accept_clicked`` reaches the detector: in a window that
    holds a sure one-channel click, impulses pass at that (lower) acceptance, with their
    probabilities raised by the offset it stands for; without it they do not."""
    strict = 1 - 1e-7  # only the surest pass where the lower acceptance does not apply
    dets = {name: Detector(device="cpu", verifier=verifier_bundle(
                name, accept=strict, both_logit_offset=0.0, both_logit_offset_clicked=None,
                accept_clicked=lower))
            for name, lower in (("plain", None), ("lower", 0.5))}
    det = dets["lower"]
    assert det.accept == strict and det.accept_clicked == 0.5
    assert dets["plain"].accept_clicked is None
    x = music(5.0).astype(np.float32)
    rng = np.random.default_rng(7)
    level = float(np.sqrt(np.mean(x ** 2)))
    for i, (peak, ch) in enumerate(((15.0, 0), (-3.0, 1), (-6.0, 0), (-8.0, 1))):
        c = shapes.click(rng, SR, style="impulse") * level * 10 ** (peak / 20)
        x[ch, 20000 + 40000 * i:20000 + 40000 * i + c.size] += c.astype(np.float32)
    plain = [d.start for d in dets["plain"].verified(x)]
    got = det.verified(x)
    lift = clicked_offset(strict, 0.5)
    raw = {d.start: d for d in find_impulses(
        det.verifier, x, accept=calibrated(strict, -lift), prefilter=det.prefilter,
        min_peak_db=det.min_peak_db, clicked_accept=strict)}
    assert set(plain) < {d.start for d in got}
    assert all(d.start in raw and d.prob == pytest.approx(calibrated(raw[d.start].prob, lift))
               for d in got)
    # asked for fainter impulses too (scratch ticks), those the offset does not make
    # events of their own keep their own probability
    faint = 0.05
    wide = {d.start: d for d in find_impulses(
        det.verifier, x, accept=calibrated(faint, -lift), prefilter=det.prefilter,
        min_peak_db=det.min_peak_db, clicked_accept=strict)}
    ticks = [d for d in det.events(x, det.run([x])[0], accept=faint, scratch_accept=faint)
             if d.prob < strict]
    matched = [d for d in ticks if d.start in wide]
    assert matched and all(d.prob == pytest.approx(wide[d.start].prob) for d in matched)



def test_a_verifier_bundle_lowers_the_learned_peaks_of_faint_impulses(verifier_bundle, music):
    """meta.json's ``postprocess.faint_peak_offsets_db`` reaches the detector: the
    peaks of impulses fainter than L - 10 dB are lowered by the interpolated offset;
    the click-loud ones (measured on the audio) and the probabilities stay."""
    knots = [[-30.0, -4.0], [-15.0, -2.0]]
    assert faint_peak_offset(-40.0, knots) == -4.0 and faint_peak_offset(-5.0, knots) == -2.0
    assert faint_peak_offset(-22.5, knots) == pytest.approx(-3.0)
    assert faint_peak_offset(-22.5, None) == 0.0
    dets = {name: Detector(device="cpu", verifier=verifier_bundle(
                name, accept=0.05, min_peak_db=-200.0,  # faint ones too
                faint_peak_offsets_db=offsets))
            for name, offsets in (("plain", None), ("calibrated", knots))}
    assert dets["calibrated"].faint_peak_offsets_db == ((-30.0, -4.0), (-15.0, -2.0))
    assert dets["plain"].faint_peak_offsets_db is None
    x = music(5.0).astype(np.float32)
    rng = np.random.default_rng(11)
    level = float(np.sqrt(np.mean(x ** 2)))
    for i, peak in enumerate((12.0, -11.0, -12.0, -13.0, -14.0, -15.0, -16.0, -17.0, -18.0,
                              -19.0, -20.0, 6.0)):
        c = shapes.click(rng, SR, style="impulse") * level * 10 ** (peak / 20)
        x[i % 2, 9000 + 18000 * i:9000 + 18000 * i + c.size] += c.astype(np.float32)
    plain = {d.start: d for d in dets["plain"].verified(x)}
    got = {d.start: d for d in dets["calibrated"].verified(x)}
    assert plain.keys() == got.keys()
    assert all(got[s].prob == d.prob for s, d in plain.items())
    loud = [s for s, d in plain.items() if d.peak_db >= CLICK_FLOOR_DB]
    assert loud and all(got[s].peak_db == plain[s].peak_db for s in loud)
    # a faint one keeps a measured peak (learned click-loud) or takes its offset
    lowered = [s for s, d in plain.items() if got[s].peak_db != d.peak_db]
    assert lowered
    for s in lowered:
        want = plain[s].peak_db + faint_peak_offset(plain[s].peak_db, knots)
        assert got[s].peak_db == pytest.approx(want, abs=1e-4)


def test_a_short_last_window_is_continued_without_a_step_or_a_kink():
    """Zeros after the music would be a step; a plain mirror a kink."""
    from vinylmon.audio.candidates import find_candidates
    from vinylmon.models.inference import PAD_FADE, model_input

    rng = np.random.default_rng(3)
    t = np.arange(30000) / 44100
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t + 1)])
    x = (x + 0.01 * rng.standard_normal(x.shape)).astype(np.float32)
    padded = model_input(x, 5 * 44100)
    assert padded.shape == (2, 5 * 44100)
    np.testing.assert_array_equal(padded[:, :30000], x)
    assert not padded[:, 30000 + PAD_FADE:].any()
    # no candidate where the audio ends: the continuation has no step and no kink
    c = find_candidates(padded)
    near_end = np.abs(c.index - 30000) < 200
    assert not near_end.any()


def test_a_file_that_ends_mid_window_has_no_event_at_its_end(cpu_engine, tmp_path):
    import soundfile as sf

    from vinylmon.simulate import synthetic_music

    x = synthetic_music(np.random.default_rng(7), 12.0)
    sf.write(tmp_path / "m.flac", x.T, 44100)
    r = cpu_engine.grade_file(tmp_path / "m.flac")
    assert not [e for e in r.state.events if e.end_s > 12.0 - 0.05]

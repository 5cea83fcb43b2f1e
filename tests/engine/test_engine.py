"""The engine on simulated files: scratches, clean music, reasons, reports, live mode."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.audio.types import Window, frozen_samples, rms_db
from vinylmon.engine.engine import Engine, LiveAnalyser
from vinylmon.reports.report import build_report
from vinylmon.reports.schema import report_problems
from vinylmon.simulate import (
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    NoiseSpec,
    ScratchSpec,
    simulate,
    synthetic_music,
)

SR = 44100


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _file(tmp_path, name, audio):
    path = tmp_path / name
    sf.write(path, np.asarray(audio).T, SR)
    return path


def _report(engine, result):
    return build_report(result.state, result.windows, input_name=result.path.name,
                        sample_rate=result.sample_rate, channels=result.channels,
                        duration_s=result.duration_s, models=engine.models())


def _scratched(rpm, seed=5, seconds=40.0):
    x = synthetic_music(np.random.default_rng(seed), seconds)
    revs = int(30 / (60 / rpm))
    spec = DamageSpec(seed=3, scratches=(ScratchSpec(start_s=2.0, revolutions=revs, peak_db=8.0,
                                                     rpm=rpm),), noise=NoiseSpec(hiss_db=-62.0))
    return simulate(x, spec)


def test_33_rpm_scratch_is_one_track_with_its_members(engine, tmp_path):
    d = _scratched(100 / 3)
    result = engine.grade_file(_file(tmp_path, "scratch33.flac", d.audio), rpm=100 / 3)
    st = result.state
    assert len(st.scratches) == 1
    s = st.scratches[0]
    assert s.period_s == pytest.approx(1.8, rel=0.01)
    ticks = np.array([i.start for i in d.truth.impulses]) / SR
    members = [e for e in st.events if e.scratch_id == s.id]
    assert len(members) == s.count >= 0.75 * len(ticks)
    assert all(e.kind == "scratch" for e in members)
    # the members are the true ticks, to within 1 ms (a spurious event can sit
    # nearer the expected time than a tick that drifted with wow)
    on_tick = [np.min(np.abs(ticks - e.start_s)) <= 0.001 for e in members]
    assert np.mean(on_tick) >= 0.9
    rep = _report(engine, result)
    assert report_problems(rep) == []
    assert rep["scratches"][0]["count"] == s.count
    assert rep["summary"]["measured"]["scratches"] == 1


def test_45_rpm_scratch_found_with_rpm_not_given(engine, tmp_path):
    d = _scratched(45.0)
    result = engine.grade_file(_file(tmp_path, "scratch45.flac", d.audio))
    st = result.state
    assert st.rpm == 45.0
    assert len(st.scratches) == 1
    assert st.scratches[0].period_s == pytest.approx(60 / 45, rel=0.01)
    assert st.scratches[0].count >= 0.75 * len(d.truth.impulses)
    assert _report(engine, result)["rpm"] == pytest.approx(45.0)


def test_clean_file_stays_within_the_false_alarm_budget(engine, tmp_path):
    x = synthetic_music(np.random.default_rng(11), 60.0)
    d = simulate(x, DamageSpec(seed=1, noise=NoiseSpec(hiss_db=-65.0)))
    result = engine.grade_file(_file(tmp_path, "clean.flac", d.audio))
    minutes = result.duration_s / 60
    assert len(result.state.events) <= max(1, int(1.0 * minutes))  # <= 1 per minute
    rep = _report(engine, result)
    assert report_problems(rep) == []
    assert rep["summary"]["grade"] in ("NM", "VG+")


def test_reasons_name_the_limiting_quantity(engine, tmp_path):
    x = synthetic_music(np.random.default_rng(12), 60.0)
    d = simulate(x, DamageSpec(seed=2, clicks=ClickSpec(rate_per_min=30.0, peak_db=(6.0, 14.0)),
                               noise=NoiseSpec(hiss_db=-65.0)))
    result = engine.grade_file(_file(tmp_path, "clicky.flac", d.audio))
    g = result.state.grade
    assert g.limited_by == "clicks_per_min"
    assert "clicks/min" in g.reasons[0]
    assert g.quantities.clicks_per_min >= 15  # 30/min simulated: at least half heard
    assert g.measured_grade in ("G+", "G")


def test_silent_stretch_is_listed_and_not_analysed(engine, tmp_path):
    x = synthetic_music(np.random.default_rng(13), 20.0)
    x[:, 5 * SR:10 * SR] = 0.0
    result = engine.grade_file(_file(tmp_path, "gap.flac", x))
    silent = [w.silent for w in result.windows]
    assert silent == [False, True, False, False]
    assert result.state.analysed_s == pytest.approx(15.0)
    rep = _report(engine, result)
    assert report_problems(rep) == []
    assert rep["windows"][1]["silent"] and rep["windows"][1]["defect_probs"] is None


def test_progress_reaches_the_end(engine, tmp_path):
    seen = []
    engine.grade_file(_file(tmp_path, "p.flac", synthetic_music(np.random.default_rng(1), 22.0)),
                      progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == pytest.approx(seen[-1][1]) == pytest.approx(22.0)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


def _windows(audio, *, window_s=5.0):
    n = int(window_s * SR)
    for i, s in enumerate(range(0, audio.shape[1] - n + 1, n)):
        w = np.ascontiguousarray(audio[:, s:s + n])
        yield Window(w, SR, s / SR, i, rms_db(w))


def test_live_analyser_drops_the_oldest_windows_when_behind(engine):
    audio = synthetic_music(np.random.default_rng(2), 60.0)
    seen = []
    live = LiveAnalyser(engine, _windows(audio), max_pending=1,
                        on_window=lambda a, st: seen.append((a.index, st.dropped_windows)))
    live.start()
    live.join(60)
    # the source is far faster than inference: most windows are dropped, and
    # every window is either analysed or counted as dropped
    assert len(seen) + live.dropped_windows == 12
    assert live.dropped_windows > 0
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)
    assert seen[-1][0] == 11  # the newest window is never the one dropped


def test_live_analyser_keeps_up_when_paced(engine):
    audio = synthetic_music(np.random.default_rng(3), 20.0)
    seen = []
    live = LiveAnalyser(engine, _windows(audio), max_pending=8,
                        on_window=lambda a, st: seen.append(st))
    live.start()
    live.join(60)
    assert live.dropped_windows == 0 and len(seen) == 4
    assert seen[-1].analysed_s == pytest.approx(20.0)
    assert seen[-1].grade is not None


def test_live_analyser_reports_a_source_error(engine):
    from vinylmon.errors import DeviceLostError

    def failing():
        yield from _windows(synthetic_music(np.random.default_rng(4), 10.0))
        raise DeviceLostError("the input device went away")

    errors = []
    live = LiveAnalyser(engine, failing(), on_window=lambda a, st: None,
                        on_error=errors.append)
    live.start()
    live.join(60)
    assert len(errors) == 1 and isinstance(errors[0], DeviceLostError)
    assert live.error is errors[0]


def test_windows_prepared_ahead_are_analysed_as_in_line(engine, tmp_path):
    """grade_file finds the click candidates and floors on its reader thread
    (Engine.prepare); the windows' analysis is the same as when analyse finds them."""
    x = synthetic_music(np.random.default_rng(11), 16.0)
    spec = DamageSpec(seed=4, clicks=ClickSpec(rate_per_min=40.0, peak_db=(-8.0, 12.0)),
                      crackle=CrackleSpec(rate_per_s=20.0), noise=NoiseSpec(hiss_db=-50.0))
    audio = simulate(x, spec).audio
    windows = engine._gated([
        Window(frozen_samples(audio[:, s:s + 5 * SR]), SR, s / SR, i,
               rms_db(audio[:, s:s + 5 * SR]))
        for i, s in enumerate(range(0, audio.shape[1], 5 * SR))])
    assert windows[-1].frames < 5 * SR  # a short last window too
    prepared = engine.prepare(windows)
    assert sorted(prepared) == [w.index for w in windows if not w.silent]
    ahead = engine.analyse(windows, grades=({}, 0.0), prepared=prepared)
    inline = engine.analyse(windows, grades=({}, 0.0))
    assert sum(len(a.impulses) for a in inline) >= 5
    for a, b in zip(ahead, inline, strict=True):
        assert a.impulses == b.impulses and a.crackle_per_s == b.crackle_per_s
        assert a.floor_dbfs == b.floor_dbfs or (np.isnan(a.floor_dbfs) and np.isnan(b.floor_dbfs))
        assert a.floor_ticks_dbfs == b.floor_ticks_dbfs

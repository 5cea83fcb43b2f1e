"""The bundled demo recording: present, small, readable, and its truth consistent.

Fast: reads the file once, runs no model (``scripts/make_demo.py --check`` does).
"""

import json
from importlib import resources

import numpy as np
import pytest
import soundfile as sf

from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS

DATA = resources.files("vinylmon.data")
AUDIO = DATA / "demo.ogg"
TRUTH = DATA / "demo_truth.json"
MAX_BYTES = 1_500_000
DURATION_S = 35.0  # as DEMO.md says
SR = 44100
KINDS = {"click", "pop", "crackle", "scratch"}


@pytest.fixture(scope="module")
def truth():
    return json.loads(TRUTH.read_text())


@pytest.fixture(scope="module")
def audio():
    x, sr = sf.read(str(AUDIO), dtype="float32", always_2d=True)
    return x, sr


def test_files_exist_and_fit_the_budget():
    assert AUDIO.is_file() and TRUTH.is_file() and (DATA / "DEMO.md").is_file()
    assert AUDIO.stat().st_size < MAX_BYTES
    assert TRUTH.stat().st_size < 50_000


def test_audio_format_and_duration(audio, truth):
    info = sf.info(str(AUDIO))
    assert info.samplerate == SR and info.channels == 2
    x, sr = audio
    assert sr == SR and x.shape == (truth["frames"], 2)
    assert x.shape[0] / sr == pytest.approx(DURATION_S, abs=1 / SR)
    assert truth["duration_s"] == pytest.approx(DURATION_S)
    assert truth["sample_rate"] == SR and truth["channels"] == 2
    assert truth["audio"] == AUDIO.name


def test_audio_is_sound_music(audio, truth):
    x, _ = audio
    assert np.isfinite(x).all()
    assert np.abs(x).max() < 1.0  # not clipped
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert rms_dbfs == pytest.approx(truth["program_level_dbfs"], abs=1.0)
    # both channels carry music, and not the same signal
    assert np.std(x[:, 0]) > 0.01 and np.std(x[:, 1]) > 0.01
    assert not np.allclose(x[:, 0], x[:, 1])


def test_truth_events_are_consistent(truth):
    events = truth["events"]
    dur = truth["duration_s"]
    assert events
    starts = [e["start_s"] for e in events]
    assert starts == sorted(starts)
    for e in events:
        assert e["kind"] in KINDS
        assert 0.0 <= e["start_s"] < e["end_s"] <= dur
        assert e["end_s"] - e["start_s"] < 0.05
        assert e["channel"] in (0, 1, None)
        assert np.isfinite(e["peak_db"])
        assert (e["scratch_id"] is not None) == (e["kind"] == "scratch")
    counts = {k: sum(1 for e in events if e["kind"] == k) for k in KINDS}
    assert counts == {k: truth["counts"].get(k, 0) for k in KINDS}
    # what the demo is for: a handful of clear clicks, some crackle, one scratch
    clicks = [e for e in events if e["kind"] in ("click", "pop")]
    assert 5 <= len(clicks) <= 10
    assert all(e["peak_db"] >= truth["click_floor_db"] for e in clicks)
    assert counts["crackle"] >= 20


def test_truth_scratch_repeats_at_33_rpm(truth):
    assert len(truth["scratches"]) == 1
    s = truth["scratches"][0]
    assert s["rpm"] == pytest.approx(RPMS[0])
    assert s["period_s"] == pytest.approx(60 / RPMS[0])
    assert 6 <= s["count"] <= 10
    ticks = [e["start_s"] for e in truth["events"] if e["scratch_id"] == s["id"]]
    assert len(ticks) == s["count"]
    assert ticks[0] == pytest.approx(s["first_s"], abs=1e-5)
    assert ticks[-1] == pytest.approx(s["last_s"], abs=1e-3)
    steps = np.diff(ticks)
    assert np.all(np.abs(steps / s["period_s"] - 1) < PERIOD_TOLERANCE)
    assert 0 < ticks[0] and ticks[-1] < truth["duration_s"]


def test_truth_grade_and_provenance(truth):
    assert truth["grade"] in ("VG+", "VG", "G+")
    assert truth["quantities"]["scratches"] == 1
    src = truth["source"]
    assert src["licence"] == "CC-BY-3.0" and src["package"] == "ufoai-music"
    assert src["duration_s"] == pytest.approx(truth["duration_s"])
    demo_md = (DATA / "DEMO.md").read_text()
    assert src["file"].removesuffix(".ogg") in demo_md and "CC-BY-3.0" in demo_md
    assert f"--seed {truth['seed']}" in demo_md

"""Fine-tuning and its back end refuse bad takes with clear errors, and stop promptly
when cancelled, leaving no partial profile behind."""

import threading
import time

import numpy as np
import pytest

from vinylmon.cli.monitor import AppBackend
from vinylmon.errors import AudioDataError, AudioFileError, Cancelled, VinylmonError
from vinylmon.store.profiles import ProfileError
from vinylmon.training.finetune.data import synthetic_take
from vinylmon.training.finetune.inputs import FinetuneConfig
from vinylmon.training.finetune.run import finetune

#: A few seconds' worth of everything: these tests are about the edges, not the numbers.
SMALL = FinetuneConfig(steps=6, replay_windows=4, val_windows=4, variants=2,
                       held_out_variants=1, grader_steps=2, device="cpu")


@pytest.fixture(scope="module")
def take():
    return synthetic_take(60.0, seed=1)


@pytest.fixture
def backend(cpu_engine, tmp_path):
    return AppBackend(engine=cpu_engine, profiles_root=tmp_path / "profiles",
                      journal_dir=tmp_path / "journal")


def no_profiles(backend) -> bool:
    root = backend.profiles_root
    return not root.exists() or list(root.iterdir()) == []


@pytest.mark.parametrize("phase", ["injecting damage", "fine-tuning the detector", "grader"])
def test_cancel_midway_raises_promptly_and_saves_nothing(backend, take, phase):
    cancel = threading.Event()
    seen, when = [], []

    def progress(frac, message):
        seen.append((frac, message))
        if phase in message and not cancel.is_set():
            cancel.set()
            when.append(time.monotonic())

    with pytest.raises(Cancelled):
        backend.run_finetune(take, grade="NM", name="mic", device_name="USB", config=SMALL,
                             progress=progress, cancel=cancel)
    assert when, f"no progress message about {phase!r}: {seen}"
    assert time.monotonic() - when[0] < 10.0
    assert no_profiles(backend)
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and 0.0 <= fracs[0] and fracs[-1] < 1.0
    assert all("ETA" in m for f, m in seen if f >= 0.05)


def test_cancelled_before_it_starts(backend, take):
    cancel = threading.Event()
    cancel.set()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        backend.run_finetune(take, grade="NM", name="mic", device_name="USB", config=SMALL,
                             cancel=cancel)
    assert time.monotonic() - t0 < 5.0
    assert no_profiles(backend)


def test_a_full_small_run_saves_a_profile(backend, take):
    seen = []
    info, result = backend.run_finetune(take, grade="NM", name="mic", device_name="USB",
                                        config=SMALL, progress=lambda f, m: seen.append(f))
    assert info.name == "mic" and info.device_name == "USB"
    assert seen[-1] == pytest.approx(1.0)
    assert result.grader_kept is not None
    assert (result.grader_state is not None) == result.grader_kept
    assert backend.profiles() == ["base", "mic"]
    assert backend.use_profile("mic") is None


def test_nan_take(cpu_engine, take):
    bad = take.copy()
    bad[1, 1000] = np.nan
    with pytest.raises(AudioDataError, match="NaN"):
        finetune(bad, detector=cpu_engine.detector, config=SMALL)


def test_too_short_take(cpu_engine, take):
    with pytest.raises(AudioDataError, match="too short"):
        finetune(take[:, :44100 * 8], detector=cpu_engine.detector, config=SMALL)


def test_silent_take(cpu_engine):
    with pytest.raises(AudioDataError, match="silent"):
        finetune(np.zeros((2, 44100 * 30), np.float32), detector=cpu_engine.detector,
                 config=SMALL)


@pytest.mark.parametrize("shape", [(3, 44100 * 30), (2, 0), (2, 3, 4)])
def test_wrong_shape(cpu_engine, shape):
    with pytest.raises(AudioDataError, match="take"):
        finetune(np.zeros(shape, np.float32), detector=cpu_engine.detector, config=SMALL)


@pytest.mark.parametrize("grade", ["XX", "", "A+", "nm+"])
def test_unknown_grade(cpu_engine, take, grade):
    with pytest.raises(VinylmonError, match="unknown grade"):
        finetune(take, grade=grade, detector=cpu_engine.detector, config=SMALL)


def test_grade_names_users_type(cpu_engine):
    from vinylmon.training.finetune.inputs import check_grade

    assert [check_grade(g) for g in ("nm", " VG+ ", "M", "p", "g+")] == \
        ["NM", "VG+", "NM", "F", "G+"]


def test_bad_name_is_refused_before_any_work(backend, take):
    t0 = time.monotonic()
    with pytest.raises(ProfileError):
        backend.run_finetune(take, grade="NM", name="../../weights", device_name="USB",
                             config=SMALL)
    assert time.monotonic() - t0 < 1.0
    assert no_profiles(backend)


@pytest.mark.parametrize("kw", [dict(lr=0.0), dict(batch=0), dict(steps=-1),
                                dict(replay_fraction=1.0), dict(held_out_fraction=0.0),
                                dict(trainable=())])
def test_bad_config(kw):
    with pytest.raises(ValueError):
        FinetuneConfig(**kw)


def test_unknown_trainable_layer(cpu_engine, take):
    with pytest.raises(ValueError, match="no detector parameter"):
        finetune(take, detector=cpu_engine.detector,
                 config=FinetuneConfig(trainable=("blocks.9",), device="cpu"))


def test_models_given_are_not_changed(cpu_engine, take):
    import torch

    before = {k: v.clone() for k, v in cpu_engine.detector.model.state_dict().items()}
    result = finetune(take, detector=cpu_engine.detector, config=SMALL)
    after = cpu_engine.detector.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(not torch.equal(before[k], result.detector_state[k]) for k in before)


class FakeCapture:
    """A 48 kHz mono input that delivers 0.1-s blocks of a tone (or stalls)."""

    def __init__(self, device=None, *, sample_rate=None, stall=False):
        from types import SimpleNamespace

        self.device = SimpleNamespace(name=str(device))
        self.sample_rate, self.channels, self._pos, self.stall = 48000, 1, 0, stall

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    # the real resampling loop over this fake input
    from vinylmon.audio.capture import LiveCapture
    analysis_blocks = LiveCapture.analysis_blocks

    def read(self, timeout_s):
        from vinylmon.audio.types import AudioBlock, frozen_samples

        if self.stall:
            time.sleep(timeout_s)
            return None
        n = 4800
        t = (self._pos + np.arange(n)) / self.sample_rate
        block = AudioBlock(frozen_samples(0.1 * np.sin(2 * np.pi * 440 * t)[None]
                                          .astype(np.float32)), self.sample_rate,
                           self._pos / self.sample_rate)
        self._pos += n
        return block


def test_record_take_resamples_to_stereo_44k(backend, monkeypatch):
    import vinylmon.audio.capture as capture

    monkeypatch.setattr(capture, "LiveCapture", FakeCapture)
    seen = []
    x = backend.record_take("USB Mic", seconds=2.0, progress=lambda f, m: seen.append(f))
    assert x.shape == (2, 2 * 44100) and x.dtype == np.float32
    assert np.array_equal(x[0], x[1]) and np.abs(x).max() > 0.05
    assert seen[-1] == pytest.approx(1.0)


def test_record_take_cancelled(backend, monkeypatch):
    import vinylmon.audio.capture as capture

    monkeypatch.setattr(capture, "LiveCapture", FakeCapture)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        backend.record_take("USB Mic", seconds=60.0, cancel=cancel,
                            progress=lambda f, m: cancel.set() if f > 0.01 else None)


def test_take_from_file(backend, tmp_path):
    import soundfile as sf

    path = tmp_path / "take.wav"
    sf.write(path, np.full((44100 * 61, 2), 0.1, np.float32), 44100)
    assert backend.take_from_file(path).shape == (2, 44100 * 61)
    sf.write(path, np.full((44100 * 5, 2), 0.1, np.float32), 44100)
    with pytest.raises(AudioDataError, match="at least 60 s"):
        backend.take_from_file(path)


def test_a_take_too_short_or_missing_is_refused_clearly(tmp_path):
    import soundfile as sf

    from vinylmon.training.finetune.inputs import read_take

    path = tmp_path / "short.wav"
    sf.write(path, np.full((44100 * 4, 2), 0.1, np.float32), 44100)
    with pytest.raises(AudioDataError, match="needs at least 5 s"):
        read_take(str(path), min_s=5.0)
    with pytest.raises(AudioFileError):
        read_take(str(tmp_path / "missing.flac"))

import dataclasses
import faulthandler
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pulse_rig import PulseRig, RigUnavailable, missing_tools, pulse_rig, quick_music

from vinylmon.errors import DeviceError
from vinylmon.simulate import synthetic_music

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def noise_dir():
    d = SHARED / "data" / "noise"
    if not d.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{d} is missing: CI must have shared/ beside the clone")
        pytest.skip(f"{d} is missing")
    return d


@pytest.fixture
def music(rng):
    """``music(seconds)``: :func:`synthetic_music` from the test's seeded generator."""
    return lambda seconds=10.0: synthetic_music(rng, seconds)


@pytest.fixture(scope="session")
def cpu_engine():
    """The shipped models on the CPU (loaded once per test run)."""
    from vinylmon.engine.engine import Engine

    return Engine(device="cpu")


class Throttled:
    """The detector, slower than real time: each call also sleeps ``delay_s`` a window.

    ``busy`` is set while a call runs; ``calls`` counts the windows it was given.
    """

    def __init__(self, detector, delay_s: float):
        self._detector = detector
        self.delay_s = delay_s
        self.calls = 0
        self.busy = threading.Event()

    def __getattr__(self, name):
        return getattr(self._detector, name)

    def run(self, windows):
        self.busy.set()
        try:
            self.calls += len(windows)
            time.sleep(self.delay_s * len(windows))
            return self._detector.run(windows)
        finally:
            self.busy.clear()


@pytest.fixture
def throttled_engine(cpu_engine):
    """``throttled_engine(delay_s)``: ``(engine, detector)``, the shipped models with a
    detector that also sleeps ``delay_s`` per window (inference slower than real time,
    on any machine)."""
    from vinylmon.engine.engine import Engine

    def make(delay_s: float):
        det = Throttled(cpu_engine.detector, delay_s)
        return Engine(detector=det, grader=cpu_engine.grader), det

    return make


@pytest.fixture(scope="session")
def clicked_file(tmp_path_factory):
    """12 s of synthetic music with loud clicks, as FLAC: ``(path, click start times in s)``."""
    import soundfile as sf

    from vinylmon.simulate import ClickSpec, DamageSpec, simulate

    x = synthetic_music(np.random.default_rng(7), 12.0)
    d = simulate(x, DamageSpec(seed=2, clicks=ClickSpec(rate_per_min=30.0, peak_db=(2.0, 6.0))))
    path = tmp_path_factory.mktemp("clicked") / "clicked.flac"
    sf.write(path, d.audio.T, 44100)
    return path, np.array(sorted({i.start for i in d.truth.impulses})) / 44100


@pytest.fixture(autouse=True)
def _private_state_folder(tmp_path_factory, monkeypatch):
    """Session journals of a test that names no folder go to a temporary state folder,
    never to the user's ~/.local/state/vinylmon."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


# ---- PortAudio and a private PulseAudio rig (the capture, monitor and GUI tests) ----
# A missing system dependency (PortAudio, PulseAudio, ALSA's pulse plugin) skips the
# tests that need it on a developer machine, but fails them when the ``CI``
# environment variable is set: CI installs them, so there a missing one is a bug.

#: A pulse test that takes longer than this is hung: dump all stacks and exit.
HANG_TIMEOUT_S = 90.0


def unavailable(reason: str) -> None:
    """Skip the test (developer machine) or fail it (``CI`` is set)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def portaudio() -> object:
    """The ``vinylmon.audio.capture`` module, with PortAudio known to load."""
    from vinylmon.audio import capture

    try:
        capture.rescan_devices()
    except DeviceError as exc:
        unavailable(str(exc))
    return capture


@pytest.fixture(autouse=True)
def _hang_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Kill the test process (with all thread stacks) if a pulse test hangs."""
    if request.node.get_closest_marker("pulse") is None:
        yield
        return
    faulthandler.dump_traceback_later(HANG_TIMEOUT_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def pulse_tools() -> None:
    """Skip (or, under CI, fail) unless the PulseAudio programs are installed."""
    missing = missing_tools()
    if missing:
        unavailable(
            f"PulseAudio test rig needs {', '.join(missing)} "
            "(apt-get install pulseaudio pulseaudio-utils)"
        )


@pytest.fixture
def pulse(portaudio: object) -> Iterator[PulseRig]:
    """A private PulseAudio daemon with null sink ``vsink``; PortAudio sees it as ``pulse``.

    Yields the :class:`pulse_rig.PulseRig`. PortAudio is re-scanned after the
    daemon is up and again after it is gone, so no stale device lingers.
    """
    capture = portaudio
    try:
        rig_cm = pulse_rig(sample_rate=44100)
        rig = rig_cm.__enter__()
    except RigUnavailable as exc:
        unavailable(str(exc))
    try:
        capture.rescan_devices()
        try:
            capture.find_input_device("pulse")
        except DeviceError as exc:
            unavailable(
                "PortAudio has no ALSA device 'pulse' although PulseAudio runs; "
                f"install libasound2-plugins ({exc})"
            )
        yield rig
    finally:
        rig_cm.__exit__(None, None, None)
        capture.rescan_devices()


@pytest.fixture
def outsink(pulse, monkeypatch):
    """A second null sink, ``outsink``, as this process's sound output (PULSE_SINK; the
    input stays ``vsink``'s monitor); the name of its monitor, which ``pulse.record``
    records what was played from."""
    from vinylmon.audio import capture

    source = pulse.add_sink("outsink")
    monkeypatch.setenv("PULSE_SINK", "outsink")
    capture.rescan_devices()
    return source


@pytest.fixture(scope="session")
def clicky_wav(tmp_path_factory: pytest.TempPathFactory):
    """3 s of music with loud clicks (14-18 dB over the music: the verifier hears at
    least two of the four, some of fainter ones in one channel it takes for both and
    judges strictly) to play into the rig (faded in and out: a step is a click too)."""
    import numpy as np
    import soundfile as sf

    from vinylmon.simulate import ClickSpec, DamageSpec, simulate

    x = quick_music(np.random.default_rng(11), 3.0)
    d = simulate(x, DamageSpec(seed=4, clicks=ClickSpec(rate_per_min=90.0, peak_db=(14.0, 18.0))))
    audio = d.audio.copy()
    fade = np.linspace(0.0, 1.0, int(0.05 * 44100))
    audio[:, :len(fade)] *= fade
    audio[:, -len(fade):] *= fade[::-1]
    path = tmp_path_factory.mktemp("faults") / "clicky.wav"
    sf.write(path, audio.T, 44100, subtype="FLOAT")
    return path


@pytest.fixture
def journal_stall(monkeypatch: pytest.MonkeyPatch):
    """The session's audio journal stalls once for 1 s after its first second (a slow
    disk): the capture thread cannot read, and a small capture buffer overflows.
    Returns the event set when the stall is over."""
    import threading
    import time

    from vinylmon.audio.recording import SessionRecording

    stalled, resumed = threading.Event(), threading.Event()
    append = SessionRecording.append

    def slow_append(self, block):
        if not stalled.is_set() and self.duration_s > 1.0:
            stalled.set()
            time.sleep(1.0)
            resumed.set()
        append(self, block)

    monkeypatch.setattr(SessionRecording, "append", slow_append)
    return resumed


@pytest.fixture(scope="session")
def fake_result():
    """A :class:`~vinylmon.training.finetune.result.FinetuneResult` holding the base
    weights (a profile made from it behaves like the base models; saving and loading
    are what is tested, not training)."""
    from vinylmon.models.inference import Detector, LearnedGrader
    from vinylmon.training.finetune.inputs import FinetuneConfig
    from vinylmon.training.finetune.result import FinetuneResult

    det, gr = Detector(device="cpu"), LearnedGrader(device="cpu")
    metrics = {"take": {"event_f1": 0.5, "class_accuracy": float("nan"), "windows": 24},
               "base_val": {"event_f1": 0.8, "class_accuracy": 0.5, "windows": 96}}
    return FinetuneResult(
        before=metrics, after=metrics, seconds=1.0, replay_source="synthetic",
        val_source="synthetic", detector_state=det.model.state_dict(),
        grader_state=gr.model.state_dict(), detector_meta=det.meta, grader_meta=gr.meta,
        config=FinetuneConfig(), take={"grade": "NM", "duration_s": 120.0},
        postprocess=dataclasses.replace(det.postprocess, threshold=0.7))

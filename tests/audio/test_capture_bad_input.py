"""Bad device choices and settings become DeviceError naming the device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from vinylmon.audio import capture
from vinylmon.audio.capture import LiveCapture, find_input_device
from vinylmon.errors import DeviceError, VinylmonError

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ no device needed
def test_unknown_device_name(portaudio) -> None:
    with pytest.raises(DeviceError, match="no input device matches 'no-such-turntable-xyz'"):
        find_input_device("no-such-turntable-xyz")
    with pytest.raises(DeviceError, match="no-such-turntable-xyz"):
        LiveCapture("no-such-turntable-xyz")


def test_out_of_range_index(portaudio) -> None:
    with pytest.raises(DeviceError, match="no audio device with index 9999"):
        find_input_device(9999)
    with pytest.raises(DeviceError, match="index -1"):
        LiveCapture(-1)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"sample_rate": -44100}, ValueError),
        ({"sample_rate": 0}, ValueError),
        ({"sample_rate": float("nan")}, ValueError),
        ({"sample_rate": 44100.5}, ValueError),
        ({"sample_rate": "44100"}, TypeError),
        ({"channels": 0}, ValueError),
        ({"channels": 2.0}, TypeError),
        ({"buffer_s": 0.0}, ValueError),
        ({"blocksize": 3}, ValueError),
        ({"stall_timeout_s": -1.0}, ValueError),
        ({"latency": "medium"}, ValueError),
    ],
)
def test_invalid_options_rejected_before_any_device_work(kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        LiveCapture("whatever", **kwargs)


def test_invalid_device_type() -> None:
    with pytest.raises(TypeError):
        find_input_device(3.5)  # type: ignore[arg-type]


def test_portaudio_missing_is_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_portaudio(name: str) -> object:
        assert name == "sounddevice"
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(capture, "importlib", SimpleNamespace(import_module=no_portaudio))
    for call in (capture.list_input_devices, capture.find_input_device, LiveCapture):
        with pytest.raises(DeviceError, match=r"PortAudio \(libportaudio2\) is not installed"):
            call()


def test_sounddevice_package_missing_is_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_package(name: str) -> object:
        raise ModuleNotFoundError("No module named 'sounddevice'")

    monkeypatch.setattr(capture, "importlib", SimpleNamespace(import_module=no_package))
    with pytest.raises(DeviceError, match="sounddevice"):
        capture.list_input_devices()


def test_portaudio_missing_for_real_in_a_fresh_process() -> None:
    """sounddevice's own failure path: ctypes cannot find libportaudio."""
    code = textwrap.dedent(
        """
        import ctypes.util, sys
        real = ctypes.util.find_library
        ctypes.util.find_library = lambda n: None if "portaudio" in n else real(n)
        import vinylmon.audio.capture as c  # must import fine without PortAudio
        from vinylmon.errors import DeviceError
        assert "torch" not in sys.modules and "PySide6" not in sys.modules
        try:
            c.list_input_devices()
        except DeviceError as exc:
            print("DeviceError:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "DeviceError: PortAudio (libportaudio2) is not installed" in out.stdout


# ------------------------------------------------------------------ needs a real device
@pytest.mark.pulse
@pytest.mark.parametrize("rate", [1234, 7999, 192001, 10_000_000])
def test_absurd_sample_rate_names_device_and_rate(pulse, rate) -> None:
    # PulseAudio itself would resample to 1234 Hz; vinylmon refuses what it cannot analyse.
    with pytest.raises(DeviceError) as info:
        LiveCapture("pulse", sample_rate=rate, channels=2)
    msg = str(info.value)
    assert f"device 'pulse' cannot record at {rate} Hz" in msg
    assert "8000-192000 Hz" in msg
    assert isinstance(info.value, VinylmonError)


@pytest.mark.pulse
def test_rate_the_device_refuses_chains_the_portaudio_error(pulse, monkeypatch) -> None:
    import vinylmon.audio.capture as capture

    sd = capture._sd()

    def refuse(**kw):
        raise sd.PortAudioError("Invalid sample rate")

    monkeypatch.setattr(sd, "check_input_settings", refuse)
    with pytest.raises(DeviceError, match="device 'pulse' cannot record at 96000 Hz") as info:
        LiveCapture("pulse", sample_rate=96000, channels=2)
    assert isinstance(info.value.__cause__, sd.PortAudioError)


@pytest.mark.pulse
def test_too_many_channels_names_device(pulse) -> None:
    dev = find_input_device("pulse")
    with pytest.raises(DeviceError, match=f"device 'pulse' has {dev.channels} input channel"):
        LiveCapture("pulse", channels=dev.channels + 1)


@pytest.mark.pulse
def test_device_lookup_rules(pulse) -> None:
    pulse_dev = find_input_device("pulse")  # exact name
    assert pulse_dev.name == "pulse" and pulse_dev.channels > 0
    assert find_input_device("PULS") == pulse_dev  # unique case-insensitive substring
    assert find_input_device(pulse_dev.index) == pulse_dev
    default = find_input_device(None)
    assert default.is_default
    names = [d.name for d in capture.list_input_devices()]
    assert "pulse" in names
    # a substring matching several inputs ('pulse' and 'default' both contain 'e')
    with pytest.raises(DeviceError, match="ambiguous") as info:
        find_input_device("e")
    assert "'pulse'" in str(info.value) and "'default'" in str(info.value)


@pytest.mark.pulse
def test_read_validates_timeout(pulse) -> None:
    cap = LiveCapture("pulse", sample_rate=44100, channels=2)
    with pytest.raises(ValueError):
        cap.read(-1.0)
    with pytest.raises(ValueError):
        cap.read(float("inf"))
    with pytest.raises(ValueError):
        cap.read(0.1, max_frames=0)
    cap.close()
    with pytest.raises(RuntimeError, match="restart"):
        cap.start()

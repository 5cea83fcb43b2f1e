"""A private PulseAudio daemon for capture tests (a helper, not a test module).

:func:`pulse_rig` starts ``pulseaudio`` in a temporary runtime directory with a
null sink ``vsink`` whose monitor ``vsink.monitor`` is the default source, and
points this process at it (``XDG_RUNTIME_DIR``, ``PULSE_SERVER``, ...), so that
PortAudio's ALSA device ``pulse`` (ALSA's PulseAudio plugin, from
``libasound2-plugins``) records whatever is played into ``vsink``.

Works as root without a session bus. Needs (Debian/Ubuntu): ``pulseaudio``,
``pulseaudio-utils`` (pactl, parec, paplay), ``libasound2-plugins`` and, for
sounddevice, ``libportaudio2``. PortAudio enumerates devices when it is
initialised, so re-scan (``vinylmon.audio.capture.rescan_devices``) after the
rig is up and after it is gone.

Everything the rig starts is killed on exit; the daemon and the clients the rig
runs carry the runtime directory on their command line, so
``pgrep -f <runtime_dir>`` finds any leftover.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Programs the rig runs.
REQUIRED_TOOLS = ("pulseaudio", "pactl", "parec", "paplay")

SINK = "vsink"
SOURCE = "vsink.monitor"


class RigUnavailable(RuntimeError):
    """The rig cannot run on this machine (a tool is not installed)."""


def missing_tools() -> list[str]:
    """Return the names in :data:`REQUIRED_TOOLS` that are not on PATH."""
    return [t for t in REQUIRED_TOOLS if shutil.which(t) is None]


@dataclass
class PulseRig:
    """A running private PulseAudio daemon.

    Attributes
    ----------
    runtime_dir : Path
        Private ``XDG_RUNTIME_DIR`` (also HOME of the rig's processes).
    server : str
        ``unix:<runtime_dir>/pulse/native``.
    env : dict
        Environment for child processes that should talk to this daemon.
    sample_rate : int
        Rate of the null sink.
    """

    runtime_dir: Path
    server: str
    env: dict[str, str]
    sample_rate: int
    daemon: subprocess.Popen
    keepalive: subprocess.Popen | None = None
    children: list[subprocess.Popen] = field(default_factory=list)
    sink: str = SINK
    source: str = SOURCE

    @property
    def daemon_pid(self) -> int:
        return self.daemon.pid

    def pactl(self, *args: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
        """Run ``pactl`` against this daemon; returns the completed process."""
        return subprocess.run(
            ["pactl", f"--server={self.server}", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def play(self, path: str | os.PathLike) -> subprocess.Popen:
        """Start ``paplay`` of ``path`` into the null sink; returns the process."""
        proc = subprocess.Popen(
            ["paplay", f"--server={self.server}", f"--device={self.sink}", os.fspath(path)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.children.append(proc)
        return proc

    def play_and_wait(self, path: str | os.PathLike, *, timeout_s: float = 20.0) -> None:
        """Play ``path`` into the null sink to its end (``paplay`` must succeed)."""
        player = self.play(path)
        assert player.wait(timeout=timeout_s) == 0, player.stderr.read().decode()

    def add_sink(self, name: str) -> str:
        """Load another null sink ``name`` (an output for the code under test, kept
        apart from ``vsink``, whose monitor is the default input); returns its
        monitor source's name."""
        r = self.pactl("load-module", "module-null-sink", f"sink_name={name}",
                       f"rate={self.sample_rate}", "channels=2")
        assert r.returncode == 0, r.stderr
        return f"{name}.monitor"

    def record(self, source: str, path: str | os.PathLike) -> subprocess.Popen:
        """Start ``parec`` of ``source`` into ``path`` as raw float32 stereo frames
        (readable while it runs: :func:`read_recording`); stop it with
        :meth:`stop_recording`. (A null sink plays only while its monitor is read.)"""
        out = open(path, "wb")  # noqa: SIM115 (parec owns it; closed when it ends)
        proc = subprocess.Popen(
            ["parec", f"--server={self.server}", f"--device={source}", "--raw",
             "--format=float32le", f"--rate={self.sample_rate}", "--channels=2"],
            env=self.env, stdout=out, stderr=subprocess.PIPE, start_new_session=True)
        out.close()
        self.children.append(proc)
        return proc

    def stop_recording(self, proc: subprocess.Popen) -> None:
        """End a :meth:`record`."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def unplug_sink(self) -> None:
        """Unload the null sink (and with it its monitor, the source being recorded),
        as when a USB interface is pulled out."""
        out = self.pactl("list", "short", "modules").stdout
        ids = [line.split()[0] for line in out.splitlines() if "module-null-sink" in line]
        assert ids, "the rig has no null sink to unplug"
        r = self.pactl("unload-module", ids[0])
        assert r.returncode == 0, r.stderr
        assert self.sink not in self.pactl("list", "short", "sinks").stdout

    def replug_sink(self, *, timeout_s: float = 5.0) -> None:
        """Load the null sink again, as it was, and wait until PulseAudio has made its
        monitor the default source again by itself (the name it remembers), as it
        would for a USB device plugged back in."""
        r = self.pactl("load-module", "module-null-sink", f"sink_name={self.sink}",
                       f"rate={self.sample_rate}", "channels=2")
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + timeout_s
        while self.pactl("get-default-source").stdout.strip() != self.source:
            assert time.monotonic() < deadline, \
                "the sink's monitor did not become the default source again"
            time.sleep(0.02)

    def kill_daemon(self) -> None:
        """SIGKILL the daemon now (simulates a sound server crash / device loss)."""
        if self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait(5)

    def freeze_daemon(self) -> None:
        """SIGSTOP the daemon (it stops serving audio but its sockets stay open)."""
        if self.daemon.poll() is None:
            os.kill(self.daemon.pid, signal.SIGSTOP)

    def log_tail(self, n: int = 20) -> str:
        """Last lines of the daemon's log."""
        try:
            lines = (self.runtime_dir / "pulseaudio.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


def _stop(proc: subprocess.Popen | None) -> None:
    """Stop a child: SIGCONT (in case it is frozen), SIGTERM, then SIGKILL; reap it."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def leftovers(runtime_dir: Path) -> list[str]:
    """Processes whose command line mentions ``runtime_dir`` (``pgrep -af``)."""
    out = subprocess.run(
        ["pgrep", "-af", str(runtime_dir)], capture_output=True, text=True, check=False
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


_ENV_KEYS = (
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "PULSE_RUNTIME_PATH",
    "PULSE_SERVER",
    "PULSE_CLIENTCONFIG",
    "PULSE_COOKIE",
)


@contextmanager
def pulse_rig(*, sample_rate: int = 44100, start_timeout_s: float = 10.0) -> Iterator[PulseRig]:
    """Run a private PulseAudio daemon with a null sink for the duration.

    Parameters
    ----------
    sample_rate : int
        Rate of the null sink ``vsink`` (and of its monitor).
    start_timeout_s : float
        How long to wait for ``pactl info`` to answer.

    Yields
    ------
    PulseRig

    Raises
    ------
    RigUnavailable
        If a required program is missing.
    RuntimeError
        If the daemon does not come up, or a process survives teardown.
    """
    missing = missing_tools()
    if missing:
        raise RigUnavailable(
            f"PulseAudio test rig needs {', '.join(missing)} "
            "(apt-get install pulseaudio pulseaudio-utils)"
        )
    rt = Path(tempfile.mkdtemp(prefix="vinylmon-pulse-"))
    os.chmod(rt, 0o700)
    home = rt / "home"
    home.mkdir()
    (rt / "pulse").mkdir(mode=0o700)
    server = f"unix:{rt}/pulse/native"
    cookie = rt / "cookie"
    client_conf = rt / "client.conf"
    # autospawn=no: when the daemon dies, a client must not start a new one.
    client_conf.write_text(f"autospawn = no\ncookie-file = {cookie}\n")
    # XDG_CONFIG_HOME/PULSE_RUNTIME_PATH keep libpulse (in this process, via ALSA's
    # pulse plugin) from creating ~/.config/pulse.
    overrides = {
        "XDG_RUNTIME_DIR": str(rt),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PULSE_RUNTIME_PATH": str(rt / "pulse"),
        "PULSE_SERVER": server,
        "PULSE_CLIENTCONFIG": str(client_conf),
        "PULSE_COOKIE": str(cookie),
    }
    env = {**os.environ, **overrides, "HOME": str(home)}
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}

    log = open(rt / "pulseaudio.log", "wb")  # closed in finally
    daemon = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "-n",  # no default.pa: only the modules below
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--realtime=no",
            "--high-priority=no",
            "--log-target=stderr",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={rt}/pulse/native",
            f"--load=module-null-sink sink_name={SINK} rate={int(sample_rate)} channels=2",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rig = PulseRig(runtime_dir=rt, server=server, env=env, sample_rate=sample_rate, daemon=daemon)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if daemon.poll() is not None:
                raise RuntimeError(
                    f"pulseaudio exited with status {daemon.returncode}:\n{rig.log_tail()}"
                )
            try:
                if rig.pactl("info", timeout=2.0).returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"pulseaudio did not answer within {start_timeout_s:.0f} s:\n{rig.log_tail()}"
                )
            time.sleep(0.05)
        res = rig.pactl("set-default-source", SOURCE)
        if res.returncode != 0:
            raise RuntimeError(f"pactl set-default-source {SOURCE} failed: {res.stderr.strip()}")
        # A permanent reader on the monitor keeps the null sink's clock running.
        rig.keepalive = subprocess.Popen(
            ["parec", f"--server={server}", f"--device={SOURCE}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.environ.update(overrides)
        yield rig
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for child in rig.children:
            _stop(child)
        _stop(rig.keepalive)
        _stop(daemon)
        log.close()
        left = leftovers(rt)
        if not left:
            shutil.rmtree(rt, ignore_errors=True)
    if left:
        raise RuntimeError("PulseAudio test rig left processes running: " + "; ".join(left))


def read_recording(path: str | os.PathLike):
    """What :meth:`PulseRig.record` has written so far, ``(2, frames)`` float32."""
    import numpy as np

    raw = np.fromfile(path, dtype="<f4")
    return raw[: raw.size // 2 * 2].reshape(-1, 2).T


def lag(recording, reference) -> int:
    """Where ``reference`` starts inside ``recording`` (both ``(channels, n)``), in frames:
    the peak of their cross-correlation (FFT), summed over the channels."""
    import numpy as np

    n = recording.shape[1] + reference.shape[1]
    nfft = 1 << (n - 1).bit_length()
    xc = np.zeros(nfft)
    for ch in range(reference.shape[0]):
        xc += np.fft.irfft(np.fft.rfft(recording[ch], nfft)
                           * np.conj(np.fft.rfft(reference[ch], nfft)), nfft)
    return int(np.argmax(xc[: recording.shape[1]]))


def quick_music(rng, seconds: float, *, sample_rate: int = 44100):
    """Non-repeating stereo music, quick to make: random decaying notes over a noise
    floor, ``(2, frames)`` float32 (something to play into the rig)."""
    import numpy as np

    n = int(seconds * sample_rate)
    x = np.zeros(n)
    for start in np.arange(0, seconds, 0.23):
        i = int(start * sample_rate)
        t = np.arange(min(n - i, sample_rate)) / sample_rate
        x[i:i + len(t)] += (rng.uniform(0.05, 0.2) * np.exp(-t * rng.uniform(2, 8))
                            * np.sin(2 * np.pi * rng.uniform(110, 880) * t + rng.uniform(0, 6)))
    x += 0.01 * rng.standard_normal(n)
    return np.stack([x, 0.9 * x]).astype(np.float32)


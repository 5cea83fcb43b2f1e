"""Command line: ``vinylmon [monitor|listen|grade|finetune|devices] ...``.

``vinylmon`` alone starts the desktop monitor (``vinylmon monitor``, see
:mod:`vinylmon.cli.monitor`). ``vinylmon listen`` is the console monitor: one line per
analysis window with its time, level and silence-gate state, from the default
input or from a file.

Errors a user can cause print one clear line and exit with status 2; anything
else is a bug, logged with its traceback to the log file, and exits with 3.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from vinylmon import __version__
from vinylmon.errors import DeviceError, VinylmonError
from vinylmon.store.dirs import state_dir

log = logging.getLogger("vinylmon")


def log_path() -> Path:
    return state_dir() / "vinylmon.log"


def _setup_logging() -> None:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _parse_device(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text


def cmd_devices(args: argparse.Namespace) -> int:
    from vinylmon.audio.capture import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("No audio input devices found.")
        return 1
    print(f"{'#':>3}  {'name':40s} {'ch':>3} {'rate':>7}  host API")
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{d.index:>3}{mark} {d.name[:40]:40s} {d.channels:>3} "
              f"{d.default_sample_rate:>7.0f}  {d.host_api}")
    print("* default input")
    return 0


def _print_windows(windows: Iterable, source: str) -> int:
    from vinylmon.audio.gate import SilenceGate

    gate = SilenceGate()
    print(f"Listening to {source}. Ctrl+C stops.")
    print(f"{'start_s':>9} {'end_s':>9} {'level_dBFS':>10}  state")
    count = 0
    for window in windows:
        w = gate(window)
        state = "silent" if w.silent else "sound"
        print(f"{w.start_s:9.2f} {w.end_s:9.2f} {w.level_db:10.1f}  {state}", flush=True)
        count += 1
    print(f"{count} windows.")
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    from vinylmon.audio.types import ANALYSIS_RATE
    from vinylmon.audio.windowing import Windower, file_windows

    if args.file:
        def paced():
            t0 = time.monotonic()
            for w in file_windows(args.file, window_s=args.window_s):
                if args.realtime:
                    delay = w.end_s - (time.monotonic() - t0)
                    if delay > 0:
                        time.sleep(delay)
                yield w
        return _print_windows(paced(), args.file)

    from vinylmon.audio.capture import LiveCapture

    device = _parse_device(args.device)
    try:
        capture = LiveCapture(device, sample_rate=args.sample_rate)
    except DeviceError as exc:
        if device is None:
            raise DeviceError(f"{exc}\nNo input to listen to: connect one, pick one with "
                              "--device (see 'vinylmon devices'), or give --file.") from exc
        raise

    def live():
        windower = Windower(ANALYSIS_RATE, capture.channels, window_s=args.window_s)
        deadline = None if args.duration_s is None else time.monotonic() + args.duration_s
        with capture:
            for block in capture.analysis_blocks(poll_s=0.5):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if block is not None:
                    yield from windower.push(block)
        yield from windower.flush()

    return _print_windows(live(), f"'{capture.device.name}' at {capture.sample_rate} Hz")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vinylmon", description="Real-time monitor and grader for "
                                "vinyl records.")
    p.add_argument("--version", action="version", version=f"vinylmon {__version__}")
    sub = p.add_subparsers(dest="command")

    d = sub.add_parser("devices", help="list audio inputs")
    d.set_defaults(func=cmd_devices)

    li = sub.add_parser("listen", help="console monitor: level and silence gate per window")
    li.add_argument("--device", help="input device: index or (part of) its name")
    li.add_argument("--sample-rate", type=int, default=None, help="capture rate in Hz")
    li.add_argument("--file", help="analyse a recording instead of live input")
    li.add_argument("--realtime", action="store_true", help="with --file: pace like playback")
    li.add_argument("--window-s", type=float, default=5.0, help="window length (s)")
    li.add_argument("--duration-s", type=float, default=None, help="stop after this long (s)")
    li.set_defaults(func=cmd_listen)

    from vinylmon.cli.grade import add_parser as add_grade
    add_grade(sub)
    from vinylmon.cli.finetune import add_parser as add_finetune
    add_finetune(sub)
    from vinylmon.cli.monitor import add_parser as add_monitor
    add_monitor(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["monitor", *(argv or [])])
    _setup_logging()
    try:
        return int(args.func(args) or 0)
    except VinylmonError as exc:
        log.info("user-facing error: %s", exc)
        print(f"vinylmon: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # a bug: keep the traceback out of the user's face, but keep it
        log.exception("internal error")
        print(f"vinylmon: internal error; details were written to {log_path()}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())

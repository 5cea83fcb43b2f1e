"""Command line: ``vinylmon [monitor|listen|grade|finetune|devices] ...``.

``vinylmon`` alone starts the desktop monitor (``vinylmon monitor``, see
:mod:`vinylmon.cli.monitor`). ``vinylmon listen`` is the console monitor: one line per
analysis window with its time, level, silence-gate state and the grade so far with
what limits it, and under it the events found in that window, from the default
input or from a file.

Errors a user can cause (bad arguments included) print one clear line and exit with
status 2; anything else is a bug, logged with its traceback to the log file, and
exits with 3.
"""

from __future__ import annotations

import argparse
import bisect
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


#: ``listen`` lists at most this many events under a window (then how many more).
MAX_LISTED_EVENTS = 12


class WindowPrinter:
    """``listen``'s output: per analysed window, a line with its time, level, gate state
    and the grade so far with what limits it, then the events found in it (kind, time,
    peak dB re L), at most :data:`MAX_LISTED_EVENTS` of them."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.count = 0
        self._noted = False

    def header(self, source: str) -> None:
        self._print(f"Listening to {source}. Ctrl+C stops.")
        self._print(f"{'start_s':>9} {'end_s':>9} {'level_dBFS':>10}  {'gate':6s}  "
                    "grade so far")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def __call__(self, window, state) -> None:
        """One analysed window (``AnalysedWindow``) and the session's state after it."""
        from vinylmon.cli.grade import limit_text
        from vinylmon.grading.names import KIND_NAMES, SHELLAC_NOTE, is_shellac

        self.count += 1
        g = state.grade
        if g is None:
            grade = "- (nothing but silence yet)"
        else:
            grade = f"{g.grade} ({g.confidence:.0%})  " + limit_text(
                {"grade": g.grade, "measured_grade": g.measured_grade,
                 "limited_by": g.limited_by, "reasons": g.reasons})
        gate = "silent" if window.silent else "sound"
        self._print(f"{window.start_s:9.2f} {window.end_s:9.2f} {window.level_db:10.1f}  "
                    f"{gate:6s}  {grade}")
        events = state.events
        lo = bisect.bisect_left(events, window.start_s, key=lambda e: e.start_s)
        hi = bisect.bisect_left(events, window.end_s, key=lambda e: e.start_s)
        for e in events[lo:min(hi, lo + MAX_LISTED_EVENTS)]:
            self._print(f"{'':21s}- {KIND_NAMES.get(e.kind, e.kind):12s} at {e.start_s:10.4f} s"
                        f"  {e.peak_db:+6.1f} dB re L")
        if hi - lo > MAX_LISTED_EVENTS:
            self._print(f"{'':21s}  and {hi - lo - MAX_LISTED_EVENTS} more events")
        if not self._noted and is_shellac(state.rpm):
            self._noted = True
            self._print(f"note: {SHELLAC_NOTE}")

    def footer(self, dropped: int = 0) -> None:
        lost = f" ({dropped} more dropped: the models fell behind)" if dropped else ""
        self._print(f"{self.count} windows.{lost}")


def _listen_file(engine, path: str, *, rpm: float | None, realtime: bool) -> int:
    """Analyse a recording window by window, each as soon as it is read (paced like
    playback with ``realtime``), with the live monitor's groove-repeat search."""
    from vinylmon.audio.windowing import file_windows
    from vinylmon.grading.skips import RepeatBuffer

    printer = WindowPrinter()
    session = engine.new_session(rpm=rpm)
    engine.gate.reset()
    repeats = None
    printer.header(path)
    t0 = time.monotonic()
    for w in file_windows(path, window_s=engine.detector.window_s):
        if realtime:
            delay = w.end_s - (time.monotonic() - t0)
            if delay > 0:
                time.sleep(delay)
        if repeats is None:
            repeats = RepeatBuffer(w.sample_rate)
        repeats.push(w.samples)
        (a,) = engine.analyse([w])
        session.add(a)
        if not a.silent:
            session.set_repeats(repeats.find(recent_s=w.duration_s))
        printer(a, session.state())
    printer.footer()
    return 0


def _listen_live(engine, windows: Iterable, source: str, *, rpm: float | None) -> int:
    """Analyse live windows on the engine's worker thread (dropping, and counting, the
    oldest when the models fall behind), printing each as it is done."""
    from vinylmon.engine.engine import LiveAnalyser

    printer = WindowPrinter()
    printer.header(source)
    analyser = LiveAnalyser(engine, windows, on_window=printer, rpm=rpm)
    analyser.start()
    try:
        while analyser.running:
            analyser.join(0.5)
    finally:
        analyser.stop()
    if analyser.error is not None:
        raise analyser.error
    printer.footer(analyser.dropped_windows)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    if args.duration_s is not None and not args.duration_s > 0:
        raise VinylmonError(f"--duration-s must be more than 0 s, got {args.duration_s:g}")
    from vinylmon.audio.types import ANALYSIS_RATE
    from vinylmon.audio.windowing import Windower

    capture = None
    if not args.file:  # a missing input is said before the models load
        from vinylmon.audio.capture import LiveCapture

        device = _parse_device(args.device)
        try:
            capture = LiveCapture(device, sample_rate=args.sample_rate)
        except DeviceError as exc:
            if device is None:
                raise DeviceError(f"{exc}\nNo input to listen to: connect one, pick one with "
                                  "--device (see 'vinylmon devices'), or give --file.") from exc
            raise
    from vinylmon.engine.engine import Engine

    engine = Engine(device=args.compute, grader=False if args.no_grader else None)
    window_s = engine.detector.window_s
    if args.window_s is not None and abs(args.window_s - window_s) > 1e-9:
        raise VinylmonError(f"--window-s: the models analyse {window_s:g}-s windows; "
                            f"leave it out or give {window_s:g}")
    if capture is None:
        return _listen_file(engine, args.file, rpm=args.rpm, realtime=args.realtime)

    def live():
        windower = Windower(ANALYSIS_RATE, capture.channels, window_s=window_s)
        deadline = None if args.duration_s is None else time.monotonic() + args.duration_s
        with capture:
            for block in capture.analysis_blocks(poll_s=0.5):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if block is not None:
                    yield from windower.push(block)
        yield from windower.flush()

    return _listen_live(engine, live(), f"'{capture.device.name}' at {capture.sample_rate} Hz",
                        rpm=args.rpm)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and status 2), not the usage too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from vinylmon.cli.grade import parse_rpm

    p = Parser(prog="vinylmon", description="Real-time monitor and grader for vinyl records.")
    p.add_argument("--version", action="version", version=f"vinylmon {__version__}",
                   help="print vinylmon's version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           help="what to do (default: monitor)")

    d = sub.add_parser("devices", help="list audio inputs", description="List audio inputs.")
    d.set_defaults(func=cmd_devices)

    li = sub.add_parser("listen", help="console monitor: per window its level, gate, events "
                        "and the grade so far",
                        description="The console monitor: per analysis window its time, "
                        "level, silence-gate state and the grade so far with what limits it, "
                        "then the events found in it; from the default input or a file.")
    li.add_argument("--device", help="input device: index or (part of) its name")
    li.add_argument("--sample-rate", type=int, default=None, help="capture rate in Hz")
    li.add_argument("--file", help="analyse a recording instead of live input")
    li.add_argument("--realtime", action="store_true", help="with --file: pace like playback")
    li.add_argument("--window-s", type=float, default=None,
                    help="window length in s (default: the models' window, the only one "
                         "accepted)")
    li.add_argument("--duration-s", type=float, default=None, help="stop after this long (s)")
    li.add_argument("--rpm", type=parse_rpm, default=None,
                    help="record speed: 33 1/3 (or 33), 45 or 78 (default: estimated)")
    li.add_argument("--compute", choices=("auto", "cpu", "cuda"), default="auto",
                    help="where the models run (default: CUDA when available)")
    li.add_argument("--no-grader", action="store_true", help="skip the learned grader")
    li.set_defaults(func=cmd_listen)

    from vinylmon.cli.grade import add_parser as add_grade
    add_grade(sub)
    from vinylmon.cli.clean import add_parser as add_clean
    add_clean(sub)
    from vinylmon.cli.finetune import add_parser as add_finetune
    add_finetune(sub)
    from vinylmon.cli.monitor import add_parser as add_monitor
    add_monitor(sub)
    from vinylmon.cli.serve import add_parser as add_serve
    add_serve(sub)
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

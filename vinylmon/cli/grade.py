"""``vinylmon grade``: grade recordings from the command line.

For each file (a folder stands for the audio files in it): a progress bar on
stderr, then one line of the summary table on stdout; ``--json``/``--html``/``--csv``
write the report of REPORT.md, the seller's HTML page and the event table.
``--artist``/``--title``/``--side`` name the record in the report. One bad file
does not stop the others; the exit status is 2 if any file failed, 3 if vinylmon
itself failed on one (the traceback goes to the log file), else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from vinylmon.cli import plain
from vinylmon.errors import AudioFileError, VinylmonError
from vinylmon.grading.names import CRITERION_NAMES, criterion_name
from vinylmon.grading.rubric import PERIOD_TOLERANCE, RPMS

if TYPE_CHECKING:
    from vinylmon.engine.engine import Engine, FileResult

log = logging.getLogger("vinylmon")

AUDIO_SUFFIXES = {".flac", ".wav", ".wave", ".aif", ".aiff", ".ogg", ".oga", ".opus", ".mp3",
                  ".w64", ".caf", ".rf64"}

#: The record speeds ``--rpm`` accepts (the rubric's speeds), as they are written.
SPEED_NAMES = dict(zip(RPMS, ("33 1/3", "45", "78"), strict=True))
#: 16 2/3 rpm is refused: skips are searched only one revolution of the rubric's
#: speeds apart (:func:`vinylmon.grading.skips.find_repeats`), so a 16 2/3 record's
#: skips would go unheard.
SIXTEEN_RPM = 50.0 / 3.0
ACCEPTED_SPEEDS = ("accepted speeds: 33 1/3 (also written 33, 33.3, 33.33), 45, 78, "
                   "or auto (estimated)")

_MIXED = re.compile(r"(\d+)(?:\s+|\s*-\s*)(\d+)\s*/\s*(\d+)")  # 33 1/3, 33-1/3
_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")  # 100/3
_DECIMAL = re.compile(r"\d+(?:\.(\d*))?")  # 33, 33.3, 45.0


def _spells(text: str, speed: float) -> bool | None:
    """Whether ``text`` (lower case, no "rpm") writes ``speed``: a fraction exactly, a
    decimal rounded or cut to its digits (33, 33.3, 33.33 for 33 1/3); None when
    ``text`` is no number at all."""
    if (m := _MIXED.fullmatch(text)) or (m := _FRACTION.fullmatch(text)):
        parts = [int(g) for g in m.groups()]
        if parts[-1] == 0:
            return None
        value = Fraction(parts[-2], parts[-1]) + (parts[0] if len(parts) == 3 else 0)
        return abs(float(value) - speed) < 1e-9
    if m := _DECIMAL.fullmatch(text):
        value, unit = float(text), 10.0 ** -len(m.group(1) or "")
        return abs(value - speed) <= unit / 2 + 1e-9 or 0.0 <= speed - value < unit
    return None


def parse_rpm(text: str | None) -> float | None:
    """``--rpm``: ``33 1/3`` (``33``, ``33.3``, ``33.33``, ``33⅓``), ``45`` or ``78`` to
    the rubric's rpm; None for ``auto`` (estimated).

    Raises
    ------
    argparse.ArgumentTypeError
        Any other speed (16 2/3 included: see :data:`SIXTEEN_RPM`), or no number.
    """
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    t = text.strip().lower().replace("⅓", " 1/3").replace("⅔", " 2/3")
    t = t.removesuffix("rpm").strip()
    found = [(speed, _spells(t, speed)) for speed in (*RPMS, SIXTEEN_RPM)]
    if all(ok is None for _, ok in found):
        raise argparse.ArgumentTypeError(f"not a record speed: {shown(text)!r}; "
                                          f"{ACCEPTED_SPEEDS}")
    speed = next((speed for speed, ok in found if ok), None)
    if speed == SIXTEEN_RPM:
        raise argparse.ArgumentTypeError(
            "16 2/3 rpm records cannot be graded yet (skips are searched only at the "
            f"revolutions of 33 1/3, 45 and 78 rpm); {ACCEPTED_SPEEDS}")
    if speed is None:
        raise argparse.ArgumentTypeError(f"{shown(text.strip())} rpm is not a record speed; "
                                          f"{ACCEPTED_SPEEDS}")
    return speed


def rpm_text(rpm: float) -> str:
    """A speed as it is written: ``33 1/3``, ``45``, ``78`` (else its number)."""
    for speed, name in (*SPEED_NAMES.items(), (SIXTEEN_RPM, "16 2/3")):
        if abs(rpm - speed) < 0.005 * speed:
            return name
    return f"{rpm:g}"


def _same_speed(a: float, b: float) -> bool:
    return abs(a - b) < 0.005 * b


def speed_mismatch(report: Mapping, *, given_rpm: float) -> str | None:
    """A warning when what repeats once per revolution in ``report`` fits another
    speed than the ``given_rpm`` it was graded at; None when all fits.

    Scratches were searched only at the given speed, so the report's events are
    searched again at every rubric speed, as ``--rpm auto`` would (the speed whose
    trains hold the most ticks wins); skips were searched at every speed, so their
    periods say it directly (+-3 %, GRADING.md).
    """
    from vinylmon.grading.events import DefectEvent
    from vinylmon.grading.scratches import find_scratches, tracks_of

    hints: list[tuple[float, str]] = []
    events = [DefectEvent(e["kind"], e["start_s"], e["end_s"], e["channel"], e["peak_db"],
                          e["confidence"]) for e in report["events"]]
    tracks, _, best = tracks_of(find_scratches(events), rpm=None)
    at_given = sum(s["count"] for s in report["scratches"])
    if best is not None and not _same_speed(best, given_rpm) and \
            sum(t.count for t in tracks) > at_given:
        periods = ", ".join(f"{t.period_s:.2f}" for t in tracks)
        hints.append((best, f"{CRITERION_NAMES['scratches']} ({len(tracks)}) tick every "
                            f"{periods} s, one revolution at {rpm_text(best)} rpm"))
    for skip in report.get("skips") or ():
        fits = [r for r in RPMS if abs(skip["period_s"] * r / 60.0 - 1.0) <= PERIOD_TOLERANCE]
        if fits and not any(_same_speed(r, given_rpm) for r in fits):
            hints.append((fits[0], f"{CRITERION_NAMES['skips']} (at {skip['start_s']:.1f} s) "
                                   f"repeat after {skip['period_s']:.2f} s, one revolution at "
                                   f"{rpm_text(fits[0])} rpm"))
    if not hints:
        return None
    other = rpm_text(hints[0][0])
    return (f"{'; '.join(h for _, h in hints)}; not at the {rpm_text(given_rpm)} rpm given "
            f"with --rpm: if the record plays at {other} rpm, grade it again with "
            f"--rpm {other.split()[0]}")


def expand_input(p: Path) -> list[Path]:
    """A file as given; a folder gives its audio files (recursively, sorted).

    Raises
    ------
    AudioFileError
        A folder with no audio files in it.
    """
    if not p.is_dir():
        return [p]
    found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
    if not found:
        raise AudioFileError(shown(p), "no audio files in this folder")
    return found


def shown(text: object) -> str:
    """``text`` (a path, a message naming one) safe to print and log: bytes of a
    file name that are not UTF-8 are written ``\\xNN`` instead of failing the output."""
    s = str(text)
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def failure(verb: str, path: Path, exc: BaseException) -> tuple[str, int]:
    """What a file that failed (while ``verb``: "grade", "clean") prints, one line
    without the ``vinylmon: `` prefix, and the exit status it earns: 2 for a bad file or
    a folder that cannot be written, 3 for an internal error (its traceback goes to the
    log). Logs it."""
    if isinstance(exc, VinylmonError):
        log.info("%s %s", verb, _message(path, exc))
        return _message(path, exc), 2
    if isinstance(exc, OSError):
        log.info("%s %s: %s", verb, shown(path), shown(exc))
        return (f"{shown(path)}: {shown(exc.strerror or exc)}: {shown(exc.filename or '')}",
                2)
    log.error("internal error: %s %s", verb, shown(path), exc_info=exc)
    return f"{shown(path)}: internal error; details were written to the log", 3


def _message(path: Path, exc: BaseException) -> str:
    """One line about a file that failed: its path, then what is wrong (the path once,
    although most messages start with the path or the file's name themselves)."""
    text = shown(exc).replace("\n", " ")
    full = shown(path)
    for prefix in (f"{full}: ", f"{shown(path.name)}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return f"{full}: {text}"


def _target(option: str | None, src: Path, suffix: str, many: bool) -> Path | None:
    """Where a file's report goes: the path given, or ``<folder>/<stem><suffix>`` for many."""
    if option is None:
        return None
    p = Path(option)
    if many or p.is_dir():
        p.mkdir(parents=True, exist_ok=True)
        return p / (src.stem + suffix)
    return p


class ProgressBar:
    """A progress bar on a stream: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self._last = -1

    def draw(self, frac: float, *, bar: str, tail: str, line: str) -> None:
        """Show ``frac`` (0..1): ``bar [###...] frac tail`` on a terminal, else ``line``
        once per 10 %."""
        if self.tty:
            n = int(frac * self.width)
            self.stream.write(f"\r{bar}[{'#' * n}{'.' * (self.width - n)}] {frac:4.0%} {tail}")
            if frac >= 1.0:
                self.stream.write("\n")
        else:
            step = int(frac * 10)
            if step > self._last:
                self._last = step
                self.stream.write(line + "\n")
        self.stream.flush()


class Progress(ProgressBar):
    """Grading progress of one file, ``progress(done_s, total_s)``."""

    def __init__(self, name: str, stream=None, width: int = 30):
        super().__init__(stream, width)
        self.name = name

    def __call__(self, done_s: float, total_s: float) -> None:
        frac = 0.0 if total_s <= 0 else min(1.0, done_s / total_s)
        self.draw(frac, bar=f"{self.name[:40]:40s} ",
                  tail=f"{done_s / 60:5.1f}/{total_s / 60:.1f} min",
                  line=f"{self.name}: {frac:.0%} ({done_s:.0f} of {total_s:.0f} s)")


def limit_text(summary: Mapping) -> str:
    """The grade's reason with the criterion that limited it, in GRADING.md's words:
    ``limited by clicks per minute: VG+: 2.1 clicks/min; NM allows < 0.5``."""
    reasons = summary.get("reasons") or [""]
    limited = summary.get("limited_by")
    if limited is None:
        return reasons[0]
    if summary.get("measured_grade") in (None, summary.get("grade")):
        return f"limited by {criterion_name(limited)}: {reasons[0]}"
    return f"{reasons[0]} (the measured grade limited by {criterion_name(limited)})"


def rpm_cell(report: Mapping, *, given: bool) -> str:
    """The summary table's rpm: as given with ``--rpm``, or estimated ``(est.)``, or -."""
    rpm = report.get("rpm")
    if rpm is None:
        return "-"
    return rpm_text(rpm) + ("" if given else " (est.)")


def _row(name: str, report: dict, wall_s: float, *, rpm_given: bool) -> str:
    s = report["summary"]
    m = s["measured"]
    n = "n/a" if m["surface_noise_db"] is None else f"{m['surface_noise_db']:.1f}"
    speed = report["duration_s"] / wall_s if wall_s > 0 else float("inf")
    notes = "".join(f"  note: {note}" for note in s.get("notes") or ())
    return (f"{name[:32]:32s} {report['duration_s'] / 60:6.1f} "
            f"{rpm_cell(report, given=rpm_given):>13s} {s['grade']:>5s} "
            f"{s['confidence']:5.0%} {m['clicks_per_min']:7.1f} {m['crackle_per_s']:7.2f} "
            f"{n:>6s} {m['scratches']:3d} {m['skips']:3d} {len(report['events']):6d} "
            f"{speed:11.0f}  {limit_text(s)}{notes}")


HEADER = (f"{'file':32s} {'min':>6s} {'rpm':>13s} {'grade':>5s} {'conf':>5s} {'clk/min':>7s} "
          f"{'crk/s':>7s} {'noise':>6s} {'scr':>3s} {'skp':>3s} {'events':>6s} "
          f"{'x real time':>11s}  reason")


def _record(args: argparse.Namespace) -> dict[str, str]:
    """``--artist``, ``--title``, ``--side`` for the report (printable, non-empty)."""
    named = {"artist": args.artist, "title": args.title, "side": args.side}
    return {k: shown(v).strip() for k, v in named.items() if v is not None and v.strip()}


@dataclass
class Graded:
    """One file graded: the engine's result and the report of REPORT.md built from it."""

    path: Path
    result: FileResult
    report: dict

    def html(self) -> str:
        """The seller's HTML page of the report (its spectrogram, and close-ups of the
        loudest events read again from the file)."""
        from vinylmon.audio.io import load
        from vinylmon.audio.types import ANALYSIS_RATE
        from vinylmon.reports.html import render_html
        from vinylmon.reports.strips import event_strips

        sp = self.result.spectrogram
        f = self.path
        strips = event_strips(  # close-ups of the loudest events, read from the file
            lambda a, b: load(f, start_s=a, duration_s=b - a).samples,
            self.report["events"], sample_rate=ANALYSIS_RATE)
        return render_html(self.report, spectrogram_db=sp.db, spectrogram_freqs_hz=sp.freqs_hz,
                           spectrogram_hop_s=sp.hop_s, event_strips=strips)


def grade_to_report(engine: Engine, path: Path, *, input_name: str, rpm: float | None = None,
                    record: Mapping | None = None,
                    progress: Callable[[float, float], None] | None = None,
                    warn: Callable[[str], None] | None = None) -> Graded:
    """Grade one file and build its report: the one path from a file to its report, for
    ``vinylmon grade`` (here and in its worker processes) and ``vinylmon serve``.

    ``warn(text)`` is told what the user should know about the grade (a truncated file,
    a scratch that fits another speed than ``rpm``) as soon as it is known.

    Raises
    ------
    VinylmonError
        An unreadable or silent file (:meth:`Engine.grade_file`, :func:`build_report`).
    """
    from vinylmon.reports.report import build_report

    warn = warn or (lambda text: None)
    result = engine.grade_file(path, rpm=rpm, progress=progress)
    notes = []
    if result.short_by_s > max(1.0, 0.01 * result.declared_s):
        notes.append(f"its header says {result.declared_s:.1f} s, but only "
                     f"{result.duration_s:.1f} s could be decoded (is the file truncated?); "
                     f"the grade covers those {result.duration_s:.1f} s")
        warn(notes[-1])
    report = build_report(result.state, result.windows, input_name=input_name,
                          sample_rate=result.sample_rate, channels=result.channels,
                          duration_s=result.duration_s, models=engine.models(),
                          record=record, notes=notes,
                          crackle_method=engine.crackle_method)
    from vinylmon.grading.discmap import whole_side
    if whole_side([w.silent for w in result.windows]):  # lead-in and run-out heard
        report["side_complete"] = True
    if rpm is not None and (warning := speed_mismatch(report, given_rpm=rpm)) is not None:
        warn(warning)
    return Graded(Path(path), result, report)


def _warn_for(name: str) -> Callable[[str], None]:
    def warn(text: str) -> None:
        print(f"vinylmon: {name}: warning: {text}", file=sys.stderr, flush=True)
    return warn


@dataclass
class _Outcome:
    """What a worker process sends back for one file: the warnings, then the report and
    its page, or the failure as ``vinylmon grade`` says it (``status`` 2 or 3)."""

    warnings: list[str]
    report: dict | None = None
    page: str | None = None
    wall_s: float = 0.0
    error: str | None = None
    status: int = 0


_worker_engine: Engine | None = None


def _init_worker(device: str, no_grader: bool, threads: int) -> None:
    """A worker process: its log, its share of the CPU threads, its own engine."""
    global _worker_engine
    import torch

    from vinylmon.cli.main import _setup_logging
    from vinylmon.engine.engine import Engine

    _setup_logging()
    torch.set_num_threads(threads)
    _worker_engine = Engine(device=device, grader=False if no_grader else None)


def _grade_task(path: Path, rpm: float | None, record: dict, html: bool,
                device: str = "auto", no_grader: bool = False) -> _Outcome:
    """Grade one file in a worker (a process of the pool, or a Ray task, which builds
    its engine on its first file); never raises."""
    global _worker_engine
    warnings: list[str] = []
    try:
        if _worker_engine is None:
            from vinylmon.engine.engine import Engine
            _worker_engine = Engine(device=device, grader=False if no_grader else None)
        g = grade_to_report(_worker_engine, path, input_name=shown(path.name), rpm=rpm,
                            record=record, warn=warnings.append)
        return _Outcome(warnings, g.report, g.html() if html else None, g.result.wall_s)
    except Exception as exc:
        line, status = failure("grade", path, exc)
        return _Outcome(warnings, error=line, status=status)


def _pool_outcomes(files: list[Path], args: argparse.Namespace, record: dict
                   ) -> Iterator[_Outcome]:
    """``--workers N``: the files graded in N processes (spawned), their outcomes in the
    order of ``files``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // args.workers)
    with ProcessPoolExecutor(max_workers=args.workers,
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker,
                             initargs=(args.device, args.no_grader, threads)) as pool:
        futures = [pool.submit(_grade_task, f, args.rpm, record, args.html is not None)
                   for f in files]
        for f, fut in zip(files, futures, strict=True):
            try:
                yield fut.result()
            except BrokenProcessPool:  # a worker died (killed, out of memory)
                log.error("a worker process died grading %s", shown(f))
                yield _Outcome([], error=f"{shown(f)}: internal error: the worker process "
                                         "grading it died", status=3)


RAY_MISSING = "--ray needs Ray, which is not installed: pip install vinylmon[ray]"


def _check_reachable(address: str, *, timeout_s: float = 5.0) -> None:
    """A HOST:PORT that does not answer is said at once (Ray itself would retry for
    minutes, then exit the process); ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise VinylmonError(f"--ray wants HOST:PORT (or auto), got {address!r}")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or exc) from None


def _unreachable(address: str, why: object) -> VinylmonError:
    return VinylmonError(f"cannot reach the Ray cluster at {address} ({why}); start one with "
                         "`ray start --head` or give its address")


def _ray_outcomes(files: list[Path], args: argparse.Namespace, record: dict
                  ) -> Iterator[_Outcome]:
    """``--ray ADDRESS``: one Ray task per file on the cluster at ADDRESS (each worker
    builds its engine; the files must be readable at the same path there). The cluster
    is joined here, so one that cannot be reached fails the command, not each file."""
    try:
        import ray
    except ImportError:
        raise VinylmonError(RAY_MISSING) from None
    _check_reachable(args.ray)
    try:
        ray.init(address=args.ray, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise _unreachable(args.ray, exc) from None
    task = ray.remote(_grade_task)
    refs = [task.remote(f.resolve(), args.rpm, record, args.html is not None, args.device,
                        args.no_grader) for f in files]

    def results() -> Iterator[_Outcome]:
        try:
            for f, ref in zip(files, refs, strict=True):
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died, the node was lost
                    log.error("the Ray task grading %s failed: %s", shown(f), exc)
                    yield _Outcome([], error=f"{shown(f)}: internal error: the Ray task "
                                             "grading it failed", status=3)
        finally:
            ray.shutdown()

    return results()


def cmd_grade(args: argparse.Namespace) -> int:
    if args.json == "-" and args.csv == "-":
        raise VinylmonError("--json - and --csv - would both print on stdout; "
                            "write one of them to a file")
    workers = getattr(args, "workers", 1)
    ray_address = getattr(args, "ray", None)
    if workers < 1:
        raise VinylmonError(f"--workers must be 1 or more, got {workers}")
    if ray_address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise VinylmonError(RAY_MISSING) from None
    record = _record(args)
    from vinylmon.reports.csv import events_csv, write_events_csv
    from vinylmon.reports.report import write_report

    to_stdout = "-" in (args.json, args.csv)
    files: list[Path] = []
    status = 0
    for text in args.files:  # a folder without audio is reported; the other inputs go on
        try:
            files += expand_input(Path(text))
        except VinylmonError as exc:
            print(f"vinylmon: {shown(exc)}", file=sys.stderr, flush=True)
            status = 2
    if not files:
        return status
    many = len(files) > 1
    for option, value in (("--json", args.json), ("--csv", args.csv)):
        if value == "-" and many:
            raise VinylmonError(f"{option} - prints one report; give a folder for "
                                "several files")

    def emit(f: Path, report: dict, page: Callable[[], str], wall_s: float) -> None:
        """Write a graded file's reports and print its row of the table."""
        if args.json == "-":
            json.dump(report, sys.stdout, indent=1, allow_nan=False)
            sys.stdout.write("\n")
        elif (out := _target(args.json, f, ".json", many)) is not None:
            write_report(report, out)
        if args.csv == "-":
            sys.stdout.write(events_csv(report))
        elif (out := _target(args.csv, f, ".csv", many)) is not None:
            write_events_csv(report, out)
        if (out := _target(args.html, f, ".html", many)) is not None:
            tmp = out.with_name(out.name + ".part")
            tmp.write_text(page(), encoding="utf-8")
            tmp.replace(out)
        if not to_stdout:
            print(_row(shown(f.name), report, wall_s, rpm_given=args.rpm is not None),
                  flush=True)

    outcomes: Iterator[_Outcome] | None = None
    engine = None
    if ray_address is not None:
        outcomes = _ray_outcomes(files, args, record)
    elif workers > 1 and many:
        outcomes = _pool_outcomes(files, args, record)
    else:
        from vinylmon.engine.engine import Engine
        engine = Engine(device=args.device, grader=False if args.no_grader else None)
    if not to_stdout:
        print(HEADER, flush=True)
    for f in files:
        name = shown(f.name)
        try:
            if outcomes is not None:  # graded elsewhere: say what it said
                o = next(outcomes)
                for text in o.warnings:
                    _warn_for(name)(text)
                if o.error is not None:
                    print(f"vinylmon: {o.error}", file=sys.stderr, flush=True)
                    status = max(status, o.status)
                    continue
                emit(f, o.report, lambda o=o: o.page, o.wall_s)
                continue
            g = grade_to_report(engine, f, input_name=name, rpm=args.rpm, record=record,
                                progress=None if args.quiet else Progress(name),
                                warn=_warn_for(name))
            emit(f, g.report, g.html, g.result.wall_s)
        except Exception as exc:  # a bad file, a report folder not writable, a bug
            line, code = failure("grade", f, exc)
            print(f"vinylmon: {line}", file=sys.stderr, flush=True)
            status = max(status, code)
    return status


def add_parser(sub) -> None:
    g = sub.add_parser("grade", help="grade recordings: summary table, JSON, HTML and CSV "
                       "reports", description=plain(__doc__))
    g.add_argument("files", nargs="+", metavar="FILE", help="audio files or folders")
    g.add_argument("--rpm", type=parse_rpm, default=None,
                   help="record speed: 33 1/3 (or 33), 45 or 78 (default: estimated from "
                        "repeating scratches)")
    g.add_argument("--json", metavar="OUT",
                   help="write the JSON report here (a folder for several files; - for stdout)")
    g.add_argument("--html", metavar="OUT",
                   help="write the HTML report here (a folder for several files)")
    g.add_argument("--csv", metavar="OUT",
                   help="write the event table as CSV here (a folder for several files; "
                        "- for stdout)")
    g.add_argument("--artist", help="the record's artist, for the report")
    g.add_argument("--title", help="the record's title, for the report")
    g.add_argument("--side", help="the side graded (e.g. A), for the report")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the models run (default: CUDA when available)")
    g.add_argument("--no-grader", action="store_true", help="skip the learned grader")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="grade the files in N processes at once (no progress bars; "
                        "default 1)")
    g.add_argument("--ray", metavar="ADDRESS",
                   help="grade the files as tasks on the Ray cluster at ADDRESS (needs "
                        "vinylmon[ray]; the files must be readable there)")
    g.set_defaults(func=cmd_grade)

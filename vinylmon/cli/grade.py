"""``vinylmon grade``: grade recordings from the command line.

For each file (a folder stands for the audio files in it): a progress bar on
stderr, then one line of the summary table on stdout; ``--json``/``--html``
write the report of REPORT.md and the seller's HTML page. One bad file does not
stop the others; the exit status is 2 if any file failed, 3 if vinylmon itself
failed on one (the traceback goes to the log file), else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from vinylmon.errors import AudioFileError, VinylmonError

log = logging.getLogger("vinylmon")

AUDIO_SUFFIXES = {".flac", ".wav", ".wave", ".aif", ".aiff", ".ogg", ".oga", ".opus", ".mp3",
                  ".w64", ".caf", ".rf64"}


def parse_rpm(text: str | None) -> float | None:
    """``33``, ``33.3``, ``33 1/3``, ``45``, ``78`` (or any speed 10-100) to rpm; None/auto."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    t = text.strip().replace("⅓", " 1/3")
    try:
        if " 1/3" in t:
            value = float(t.split()[0]) + 1 / 3
        else:
            value = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (33, 45, 78 or auto)") from None
    if 33.0 <= value < 34.0:
        value = 100.0 / 3.0
    if not 10.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"speed {value:g} rpm is outside 10-100")
    return value


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


def _row(name: str, report: dict, wall_s: float) -> str:
    s = report["summary"]
    m = s["measured"]
    n = "n/a" if m["surface_noise_db"] is None else f"{m['surface_noise_db']:.1f}"
    speed = report["duration_s"] / wall_s if wall_s > 0 else float("inf")
    return (f"{name[:32]:32s} {report['duration_s'] / 60:6.1f} {s['grade']:>4s} "
            f"{s['confidence']:5.0%} {m['clicks_per_min']:7.1f} {m['crackle_per_s']:7.2f} "
            f"{n:>6s} {m['scratches']:3d} {m['skips']:3d} {len(report['events']):6d} "
            f"{speed:6.0f}x  {s['reasons'][0]}")


HEADER = (f"{'file':32s} {'min':>6s} {'grade':>4s} {'conf':>5s} {'clk/min':>7s} {'crk/s':>7s} "
          f"{'noise':>6s} {'scr':>3s} {'skp':>3s} {'events':>6s} {'speed':>7s}  reason")


def cmd_grade(args: argparse.Namespace) -> int:
    from vinylmon.engine.engine import Engine
    from vinylmon.reports.html import render_html
    from vinylmon.reports.report import build_report, write_report

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
    if args.json == "-" and many:
        raise VinylmonError("--json - prints one report; give a folder for several files")
    engine = Engine(device=args.device, grader=False if args.no_grader else None)
    if args.json != "-":
        print(HEADER, flush=True)
    for f in files:
        name = shown(f.name)
        try:
            result = engine.grade_file(f, rpm=args.rpm,
                                       progress=None if args.quiet else Progress(name))
            if result.short_by_s > max(1.0, 0.01 * result.declared_s):
                print(f"vinylmon: {name}: warning: its header says "
                      f"{result.declared_s:.1f} s, but only {result.duration_s:.1f} s could "
                      "be decoded (is the file truncated?); the grade covers those "
                      f"{result.duration_s:.1f} s", file=sys.stderr, flush=True)
            report = build_report(result.state, result.windows, input_name=name,
                                  sample_rate=result.sample_rate, channels=result.channels,
                                  duration_s=result.duration_s, models=engine.models())
            if args.json == "-":
                json.dump(report, sys.stdout, indent=1, allow_nan=False)
                sys.stdout.write("\n")
            elif (out := _target(args.json, f, ".json", many)) is not None:
                write_report(report, out)
            if (out := _target(args.html, f, ".html", many)) is not None:
                sp = result.spectrogram
                page = render_html(report, spectrogram_db=sp.db, spectrogram_freqs_hz=sp.freqs_hz,
                                   spectrogram_hop_s=sp.hop_s)
                tmp = out.with_name(out.name + ".part")
                tmp.write_text(page, encoding="utf-8")
                tmp.replace(out)
            if args.json != "-":
                print(_row(name, report, result.wall_s), flush=True)
        except VinylmonError as exc:
            log.info("grade %s", _message(f, exc))
            print(f"vinylmon: {_message(f, exc)}", file=sys.stderr, flush=True)
            status = max(status, 2)
        except OSError as exc:  # e.g. the report folder is not writable
            log.info("grade %s: %s", shown(f), shown(exc))
            print(f"vinylmon: {shown(f)}: {shown(exc.strerror or exc)}: "
                  f"{shown(exc.filename or '')}", file=sys.stderr, flush=True)
            status = max(status, 2)
        except Exception:
            log.exception("internal error grading %s", shown(f))
            print(f"vinylmon: {shown(f)}: internal error; details were written to the log",
                  file=sys.stderr, flush=True)
            status = 3
    return status


def add_parser(sub) -> None:
    g = sub.add_parser("grade", help="grade recordings: summary table, JSON and HTML reports",
                       description=__doc__.split("\n")[0])
    g.add_argument("files", nargs="+", metavar="FILE", help="audio files or folders")
    g.add_argument("--rpm", type=parse_rpm, default=None,
                   help="record speed: 33, 45, 78 (default: estimated)")
    g.add_argument("--json", metavar="OUT",
                   help="write the JSON report here (a folder for several files; - for stdout)")
    g.add_argument("--html", metavar="OUT",
                   help="write the HTML report here (a folder for several files)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    g.add_argument("--no-grader", action="store_true", help="skip the learned grader")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_grade)

"""``vinylmon clean``: repair the clicks and crackle of recordings.

    vinylmon clean side.flac                    # writes side.clean.flac beside it
    vinylmon clean side.flac -o fixed.flac --removed side.removed.flac
    vinylmon clean sides/ -o cleaned/ --rpm 45  # a folder: the same names, .clean added

The events are those ``vinylmon grade`` finds (the same engine; ``--rpm`` as there);
each is filled in from the music around it
(:mod:`vinylmon.audio.repair`: least-squares autoregressive interpolation, per
channel). Only the damaged samples change: the output has the input's format, rate
and bit depth, and every other sample is bit-identical (lossless formats). A span
longer than ``--max-span-ms`` is left as it is and listed. ``--removed`` also writes
what was taken out (input - output). One bad file does not stop the others; the
exit status is 2 if any file failed, 3 if vinylmon itself failed on one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from vinylmon.cli import plain
from vinylmon.cli.grade import Progress, expand_input, failure, parse_rpm, shown
from vinylmon.errors import AudioFileError, VinylmonError

log = logging.getLogger("vinylmon")

#: Names given to what ``clean`` writes: ``NAME.clean.EXT`` and ``NAME.removed.EXT``.
CLEAN_TAG = ".clean"
REMOVED_TAG = ".removed"
#: At most this many unrepaired spans are listed by time (then how many more).
MAX_LISTED = 10

#: The file name endings of each container (an output named otherwise is refused).
_SUFFIXES = {"WAV": {".wav", ".wave"}, "WAVEX": {".wav", ".wave"}, "RF64": {".rf64", ".wav"},
             "FLAC": {".flac"}, "OGG": {".ogg", ".oga", ".opus"}, "AIFF": {".aif", ".aiff",
             ".aifc"}, "MP3": {".mp3"}, "W64": {".w64"}, "CAF": {".caf"}}
_KNOWN = set().union(*_SUFFIXES.values())


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a file ``clean`` wrote (``NAME.clean.EXT``, ``NAME.removed.EXT``):
    a folder's own outputs are not cleaned again."""
    return path.stem.endswith((CLEAN_TAG, REMOVED_TAG))


def _inputs(texts: list[str]) -> tuple[list[tuple[Path, Path | None]], int]:
    """``[(file, the folder it was found in or None)]`` and the status so far."""
    files: list[tuple[Path, Path | None]] = []
    status = 0
    for text in texts:
        p = Path(text)
        try:
            if p.is_dir():
                found = [f for f in expand_input(p) if not is_ours(f)]
                if not found:
                    raise AudioFileError(shown(p), "no audio files in this folder (other than "
                                                   "those vinylmon clean wrote)")
                files += [(f, p) for f in found]
            else:
                files.append((p, None))
        except VinylmonError as exc:
            print(f"vinylmon: {shown(exc)}", file=sys.stderr, flush=True)
            status = 2
    return files, status


def _named(f: Path, tag: str) -> str:
    return f"{f.stem}{tag}{f.suffix}"


def target(option: str | None, f: Path, root: Path | None, tag: str, *, many: bool,
           beside: bool) -> Path | None:
    """Where a file's output goes: beside the input as NAME<tag>.EXT (no ``option``,
    ``beside``), in the folder ``option`` (several files, or a folder given; a folder
    input's subfolders are kept), or the file ``option``."""
    if option is None:
        return f.with_name(_named(f, tag)) if beside else None
    p = Path(option)
    if many or p.is_dir():
        rel = f.relative_to(root).parent if root is not None else Path()
        folder = p / rel
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _named(f, tag)
    return p


def _check_suffix(out: Path, fmt: str) -> None:
    suffix = out.suffix.lower()
    if suffix in _KNOWN and suffix not in _SUFFIXES.get(fmt, {suffix}):
        raise AudioFileError(shown(out), f"the repair keeps the input's format ({fmt}); "
                                         f"name the output with {sorted(_SUFFIXES[fmt])[0]}")


def _times(spans, rate: int) -> str:
    shown_ = ", ".join(f"{s.start / rate:.3f}" for s in spans[:MAX_LISTED])
    more = f" and {len(spans) - MAX_LISTED} more" if len(spans) > MAX_LISTED else ""
    return f"at {shown_} s{more}"


def summary(name: str, events: int, fr, *, max_span_ms: float, analysis_s: float) -> str:
    """The one line about a cleaned file."""
    speed = fr.duration_s / max(1e-9, analysis_s + fr.wall_s)
    line = (f"{name}: {events} events, {len(fr.repaired)} spans repaired "
            f"({fr.changed_samples} samples changed)")
    if fr.faint:
        line += f", {len(fr.faint)} too faint to repair better than they are"
    if fr.left:
        long = [s for s in fr.left if s.frames > max_span_ms * 1e-3 * fr.sample_rate]
        other = [s for s in fr.left if s not in long]
        if long:
            line += (f", {len(long)} left as they are (longer than {max_span_ms:g} ms) "
                     f"{_times(long, fr.sample_rate)}")
        if other:
            line += (f", {len(other)} left as they are (no audio around them) "
                     f"{_times(other, fr.sample_rate)}")
    return line + f"; {speed:.0f}x real time -> {shown(fr.out)}"


def cmd_clean(args: argparse.Namespace) -> int:
    if not args.max_span_ms > 0 or args.max_span_ms > 1000:
        raise VinylmonError(f"--max-span-ms must be more than 0 and at most 1000, got "
                            f"{args.max_span_ms:g}")
    files, status = _inputs(args.files)
    if not files:
        return status
    many = len(files) > 1 or any(root is not None for _, root in files)
    from vinylmon.audio.io import audio_info
    from vinylmon.audio.repair import repair_file
    from vinylmon.engine.engine import Engine

    engine = Engine(device=args.device, grader=False)
    for f, root in files:
        name = shown(f.name)
        try:
            info = audio_info(f)  # a bad file is said before it is analysed
            out = target(args.output, f, root, CLEAN_TAG, many=many, beside=True)
            rem = target(args.removed, f, root, REMOVED_TAG, many=many, beside=False)
            for path in (out, rem):
                if path is not None:
                    _check_suffix(path, info.format)
            result = engine.grade_file(f, rpm=args.rpm,
                                       progress=None if args.quiet else Progress(name))
            events = [(e.start_s, e.end_s, e.channel) for e in result.state.events]
            fr = repair_file(f, out, events, removed=rem, max_span_s=args.max_span_ms * 1e-3,
                             progress=None if args.quiet else Progress(f"{name} (repair)"))
            if not fr.exact:
                print(f"vinylmon: {name}: note: {fr.format}/{fr.subtype} is a lossy encoding, "
                      "so the whole file was encoded again: samples outside the repairs are "
                      "not bit-identical (a lossless copy of the source keeps them)",
                      file=sys.stderr, flush=True)
            if fr.removed_clipped:
                print(f"vinylmon: {name}: note: {fr.removed_clipped} samples of the removed "
                      "signal went beyond full scale (a click near full scale replaced by a "
                      "value of the other sign) and were clipped there", file=sys.stderr,
                      flush=True)
            print(summary(name, len(events), fr, max_span_ms=args.max_span_ms,
                          analysis_s=result.wall_s), flush=True)
        except Exception as exc:  # a bad file, an output folder not writable, a bug
            line, code = failure("clean", f, exc)
            print(f"vinylmon: {line}", file=sys.stderr, flush=True)
            status = max(status, code)
    return status


def add_parser(sub) -> None:
    c = sub.add_parser("clean", help="repair clicks and crackle: the damaged samples only, "
                       "in the input's format", description=plain(__doc__))
    c.add_argument("files", nargs="+", metavar="IN", help="audio files or folders")
    c.add_argument("-o", "--output", metavar="OUT",
                   help="the repaired file (a folder for several files or a folder; default: "
                        "NAME.clean.EXT beside each input)")
    c.add_argument("--removed", metavar="FILE",
                   help="also write what was removed (input - output) here (a folder for "
                        "several files: NAME.removed.EXT)")
    c.add_argument("--rpm", type=parse_rpm, default=None,
                   help="record speed: 33 1/3 (or 33), 45 or 78 (default: estimated from "
                        "repeating scratches)")
    c.add_argument("--max-span-ms", type=float, default=5.0,
                   help="longest damaged span repaired, in ms; longer ones are left and "
                        "listed (default: 5)")
    c.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the models run (default: CUDA when available)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_clean)

"""The session journal: what the live monitor has heard and analysed, on disk as it goes.

When vinylmon is killed mid-side (a crash, the OOM killer, a power cut), the next
start offers the session back, with every window analysed so far. Each running
session has a folder ``<root>/<id>/`` (root: ``$XDG_STATE_HOME/vinylmon/sessions``
or ``~/.local/state/vinylmon/sessions``; the monitor's ``journal_dir`` in tests)
holding:

- ``audio.raw``: the session's audio as captured, 16-bit little-endian
  interleaved (:class:`vinylmon.audio.recording.SessionRecording`);
- ``windows.jsonl``: one JSON object per line, appended as things happen.

``windows.jsonl`` (format ``vinylmon.journal/1``; non-finite numbers are written
as the strings ``"nan"``, ``"inf"``, ``"-inf"``, so every line is strict JSON):

- line 1, ``{"type": "session", "format": "vinylmon.journal/1", "id", "started"
  (ISO 8601, UTC), "input", "rpm" (or null), "sample_rate", "channels", "record"
  (the record's details, or null), "window_s", "learned_weight", "models",
  "false_clicks_per_min", "noise_sd_db", "crackle_sd_log", "click_sd_log" and "accept"
  (absent in older journals: 0),
  "vinylmon"}``: the session's facts;
- ``{"type": "window", "index", "start_s", "end_s", "silent", "level_db",
  "defect_probs", "grade_probs", "noise_db", "impulses": [[start_s, end_s,
  channel, peak_dbfs, confidence], ...], "inference_s", "crackle_per_s",
  "floor_dbfs", "floor_ticks_dbfs" (both absent in older journals: unknown, none),
  "learned_clicks" (absent in older journals: unknown)}``: one
  analysed window
  (every field of :class:`~vinylmon.grading.events.AnalysedWindow`);
- ``{"type": "dropped", "count"}``: windows dropped so far, when it changes;
- ``{"type": "repeats", "repeats": [[start_s, end_s, period_s, similarity], ...]}``:
  every groove repeat found so far, when they change;
- ``{"type": "record", "record"}``: the record's details changed;
- ``{"type": "resumed", "at_s", "input"}``: listening went on (after a stop, a
  lost input or a restore), from ``at_s`` on, with this input;
- ``{"type": "saved", "windows", "folder"}``: the session was saved with its
  first ``windows`` windows;
- ``{"type": "finished"}``: the session was discarded or replaced; not offered again.

Each line is written whole with one ``write`` and goes to the kernel at once, so
a killed process loses at most the window being analysed; it is fsync'd (the
audio first) at most every :data:`FSYNC_INTERVAL_S`, and when the journal closes,
against power cuts. A torn last line (killed mid-write) is ignored when reading;
any other damage, a foreign file or another format refuses the whole journal
with :class:`JournalError`: a session is never half-loaded. A running session
holds an exclusive ``flock`` on ``windows.jsonl``, so another vinylmon never
offers or touches it (the kernel drops the lock when the process dies).

A finished session's folder is removed. :func:`unfinished_sessions` lists what
can be restored (sessions with windows that were never saved),
:func:`restore_session` rebuilds one (the engine's :class:`Session` from its
windows reproduces the events, scratches and grade exactly).

No Qt and no torch here.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vinylmon import __version__
from vinylmon.audio.recording import SessionRecording
from vinylmon.engine.session import Session, SessionState
from vinylmon.errors import VinylmonError
from vinylmon.grading.events import AnalysedWindow, Impulse
from vinylmon.grading.rubric import GRADES
from vinylmon.grading.skips import Repeat
from vinylmon.store.dirs import state_dir

try:
    import fcntl
except ImportError:  # pragma: no cover (not Linux/macOS: no locking)
    fcntl = None

log = logging.getLogger(__name__)

FORMAT = "vinylmon.journal/1"
WINDOWS_FILE = "windows.jsonl"
AUDIO_FILE = "audio.raw"
#: Seconds between two fsyncs of the journal (and its audio) at most.
FSYNC_INTERVAL_S = 2.0


class JournalError(VinylmonError):
    """A session journal cannot be used: missing, damaged, foreign, of another
    format, in use by a running vinylmon, or finished.

    Attributes
    ----------
    path : str
        The journal's folder (or file).
    """

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"session journal {self.path}: {message}")


def sessions_root(root: str | os.PathLike | None = None) -> Path:
    """Where session journals live: ``root`` when given, else the user state folder."""
    if root is not None:
        return Path(root)
    return state_dir() / "sessions"


# ---- encoding ----------------------------------------------------------------------

def _num(x) -> float | str:
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _opt_nums(xs) -> list | None:
    return None if xs is None else [_num(x) for x in xs]


def window_record(a: AnalysedWindow) -> dict:
    """The journal line of an analysed window (a dict for :func:`json.dumps`)."""
    return {"type": "window", "index": int(a.index), "start_s": _num(a.start_s),
            "end_s": _num(a.end_s), "silent": bool(a.silent), "level_db": _num(a.level_db),
            "defect_probs": _opt_nums(a.defect_probs), "grade_probs": _opt_nums(a.grade_probs),
            "noise_db": _num(a.noise_db),
            "impulses": [[_num(i.start_s), _num(i.end_s),
                          None if i.channel is None else int(i.channel), _num(i.peak_dbfs),
                          _num(i.confidence)] for i in a.impulses],
            "inference_s": _num(a.inference_s),
            "crackle_per_s": None if a.crackle_per_s is None else _num(a.crackle_per_s),
            "floor_dbfs": _num(a.floor_dbfs),
            "floor_ticks_dbfs": [_num(p) for p in a.floor_ticks_dbfs],
            "learned_clicks": None if a.learned_clicks is None else _num(a.learned_clicks)}


class _Bad(ValueError):
    pass


def _f(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise _Bad(f"{what} is not a number ({v!r:.40})")
    if isinstance(v, str) and v not in ("nan", "inf", "-inf"):
        raise _Bad(f"{what} is not a number ({v!r:.40})")
    return float(v)


def _finite(v, what: str) -> float:
    x = _f(v, what)
    if not math.isfinite(x):
        raise _Bad(f"{what} is not finite")
    return x


def _int(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{what} is not an integer ({v!r:.40})")
    return v


def _str(v, what: str) -> str:
    if not isinstance(v, str):
        raise _Bad(f"{what} is not text ({v!r:.40})")
    return v


def _probs(v, what: str) -> tuple[float, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise _Bad(f"{what} is not a list of probabilities")
    return tuple(_f(x, what) for x in v)


def _channel(v, what: str) -> int | None:
    if v is None:
        return None
    c = _int(v, what)
    if c not in (0, 1):
        raise _Bad(f"{what} is {c}, not 0, 1 or null")
    return c


def _ticks(v) -> tuple[float, ...]:
    if not isinstance(v, list):
        raise _Bad("floor_ticks_dbfs is not a list")
    return tuple(_f(p, "a floor tick") for p in v)


def _learned_clicks(v) -> float | None:
    if v is None:
        return None
    n = _finite(v, "learned_clicks")
    if n < 0:
        raise _Bad(f"learned_clicks is negative ({n})")
    return n


def window_from_record(d: dict) -> AnalysedWindow:
    """An :class:`AnalysedWindow` from its journal line (ValueError when malformed)."""
    imps = d.get("impulses")
    if not isinstance(imps, list):
        raise _Bad("impulses is not a list")
    impulses = []
    for i in imps:
        if not isinstance(i, list) or len(i) != 5:
            raise _Bad("an impulse is not [start_s, end_s, channel, peak_dbfs, confidence]")
        impulses.append(Impulse(_finite(i[0], "impulse start_s"), _finite(i[1], "impulse end_s"),
                                _channel(i[2], "impulse channel"), _f(i[3], "impulse peak_dbfs"),
                                _f(i[4], "impulse confidence")))
    silent = d.get("silent")
    if not isinstance(silent, bool):
        raise _Bad("silent is not true or false")
    start, end = _finite(d.get("start_s"), "start_s"), _finite(d.get("end_s"), "end_s")
    if not 0 <= start < end:
        raise _Bad(f"window span [{start}, {end}) is empty or negative")
    grade_probs = _probs(d.get("grade_probs"), "grade_probs")
    if grade_probs is not None and len(grade_probs) != len(GRADES):
        raise _Bad(f"grade_probs holds {len(grade_probs)} values, not one per grade "
                   f"({len(GRADES)})")
    return AnalysedWindow(_int(d.get("index"), "index"), start, end, silent,
                          _f(d.get("level_db"), "level_db"),
                          _probs(d.get("defect_probs"), "defect_probs"), grade_probs,
                          _f(d.get("noise_db"), "noise_db"), tuple(impulses),
                          _f(d.get("inference_s"), "inference_s"),
                          None if d.get("crackle_per_s") is None
                          else _f(d.get("crackle_per_s"), "crackle_per_s"),
                          _f(d.get("floor_dbfs", "nan"), "floor_dbfs"),
                          _ticks(d.get("floor_ticks_dbfs", [])),
                          _learned_clicks(d.get("learned_clicks")))


def _repeats_from(v) -> list[Repeat]:
    if not isinstance(v, list):
        raise _Bad("repeats is not a list")
    out = []
    for r in v:
        if not isinstance(r, list) or len(r) != 4:
            raise _Bad("a repeat is not [start_s, end_s, period_s, similarity]")
        out.append(Repeat(*(_finite(x, "repeat") for x in r)))
    return out


def _dumps(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


# ---- locking -----------------------------------------------------------------------

def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def in_use(folder: str | os.PathLike) -> bool:
    """Whether a running vinylmon (this one included) is writing this journal."""
    try:
        fd = os.open(Path(folder) / WINDOWS_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # closing drops the probe's lock


# ---- writing -----------------------------------------------------------------------

class SessionJournal:
    """The writer of one session's journal (thread-safe; see the module notes).

    Use :meth:`create` for a new session and :meth:`reopen` to go on with one.
    Writing never raises: a journal that cannot be written any more (disk full)
    is logged once and stops; the session goes on without it.
    """

    def __init__(self, folder: Path, fd: int, *, windows: int = 0, saved: int = 0,
                 dropped: int = 0, repeats: Sequence[Repeat] = (), record: dict | None = None,
                 ) -> None:
        self.folder = folder
        self._fd: int | None = fd
        self._lock = threading.Lock()
        self._synced = time.monotonic()
        self.recording: SessionRecording | None = None
        self.windows = windows
        self.saved_windows = saved
        self._dropped = dropped
        self._repeats = list(repeats)
        self._record = dict(record) if record else None
        self.failed = False

    @property
    def audio_path(self) -> Path:
        return self.folder / AUDIO_FILE

    @property
    def path(self) -> Path:
        return self.folder / WINDOWS_FILE

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def unsaved(self) -> bool:
        """Whether windows were analysed since the last save."""
        return self.windows > self.saved_windows

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, *, input_name: str,
               sample_rate: int, channels: int, rpm: float | None = None,
               record: dict | None = None, window_s: float | None = None,
               learned_weight: float = 0.0, models: dict | None = None,
               false_clicks_per_min: float = 0.0, noise_sd_db: float = 0.0,
               crackle_sd_log: float = 0.0, click_sd_log: float = 0.0,
               accept: float = 0.0) -> SessionJournal:
        """A new journal folder under ``root`` (see :func:`sessions_root`), its facts written.

        Raises
        ------
        OSError
            The folder cannot be made or written.
        """
        now = datetime.now(UTC)
        sid = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        folder = sessions_root(root) / sid
        folder.mkdir(parents=True)
        fd = os.open(folder / WINDOWS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                     0o600)
        _try_lock(fd)  # a new file: nobody else holds it
        rec = {str(k): str(v) for k, v in record.items()} if record else None
        j = cls(folder, fd, record=rec)
        header = {"type": "session", "format": FORMAT, "id": sid,
                  "started": now.isoformat(timespec="seconds"), "input": str(input_name),
                  "rpm": None if rpm is None else float(rpm), "sample_rate": int(sample_rate),
                  "channels": int(channels), "record": rec,
                  "window_s": None if window_s is None else float(window_s),
                  "learned_weight": float(learned_weight), "models": dict(models or {}),
                  "false_clicks_per_min": float(false_clicks_per_min),
                  "noise_sd_db": float(noise_sd_db),
                  "crackle_sd_log": float(crackle_sd_log),
                  "click_sd_log": float(click_sd_log), "accept": float(accept),
                  "vinylmon": __version__}
        try:
            j._write_now(header)
            os.fsync(fd)
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)  # the new folder's entry, too
            finally:
                os.close(dfd)
        except OSError:
            j.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return j

    @classmethod
    def reopen(cls, folder: str | os.PathLike) -> SessionJournal:
        """Go on writing an unfinished journal (a torn last line is cut off first).

        Raises
        ------
        JournalError
            Missing, unreadable, damaged, finished, or in use by a running vinylmon.
        """
        folder = Path(folder)
        path = folder / WINDOWS_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            raise JournalError(folder, f"cannot be opened ({exc.strerror or exc})") from exc
        try:
            if not _try_lock(fd):
                raise JournalError(folder, "is in use by a running vinylmon")
            contents = read_journal(folder)
            if contents.finished:
                raise JournalError(folder, "was finished: there is nothing to go on with")
            if contents.torn_bytes:
                os.ftruncate(fd, os.fstat(fd).st_size - contents.torn_bytes)
        except BaseException:
            os.close(fd)
            raise
        return cls(folder, fd, windows=len(contents.windows), saved=contents.saved_windows,
                   dropped=contents.dropped, repeats=contents.repeats, record=contents.record)

    # -- lines

    def _write_now(self, obj: dict) -> None:
        data = memoryview(_dumps(obj))
        while data:
            n = os.write(self._fd, data)
            data = data[n:]

    def _write(self, obj: dict, *, sync: bool = False) -> bool:
        with self._lock:
            if self._fd is None or self.failed:
                return False
            try:
                self._write_now(obj)
                if sync or time.monotonic() - self._synced >= FSYNC_INTERVAL_S:
                    self._sync_locked()
            except OSError as exc:
                self.failed = True
                log.error("the session journal %s cannot be written any more (%s): this "
                          "session cannot be restored after a crash", self.folder, exc)
                return False
            return True

    def _sync_locked(self) -> None:
        if self.recording is not None:
            self.recording.sync()  # the audio first: a window on disk has its audio
        os.fsync(self._fd)
        self._synced = time.monotonic()

    def add_window(self, a: AnalysedWindow, *, dropped: int | None = None,
                   repeats: Sequence[Repeat] | None = None) -> None:
        """Write an analysed window, and the dropped count and repeats when they changed."""
        if self._write(window_record(a)):
            self.windows += 1
        self.set_dropped(dropped)
        self.set_repeats(repeats)

    def set_dropped(self, count: int | None) -> None:
        if count is not None and count != self._dropped and self._write(
                {"type": "dropped", "count": int(count)}):
            self._dropped = int(count)

    def set_repeats(self, repeats: Sequence[Repeat] | None) -> None:
        if repeats is None:
            return
        reps = list(repeats)
        if reps != self._repeats and self._write(
                {"type": "repeats", "repeats": [[_num(r.start_s), _num(r.end_s),
                                                 _num(r.period_s), _num(r.similarity)]
                                                for r in reps]}):
            self._repeats = reps

    def set_record(self, record: dict | None) -> None:
        rec = {str(k): str(v) for k, v in record.items()} if record else None
        if rec != self._record and self._write({"type": "record", "record": rec}):
            self._record = rec

    def mark_resumed(self, at_s: float, input_name: str) -> None:
        self._write({"type": "resumed", "at_s": _num(at_s), "input": str(input_name)})

    def mark_saved(self, windows: int, folder: str | os.PathLike) -> None:
        if self._write({"type": "saved", "windows": int(windows), "folder": str(folder)},
                       sync=True):
            self.saved_windows = max(self.saved_windows, int(windows))

    def sync(self) -> None:
        with self._lock:
            if self._fd is not None and not self.failed:
                try:
                    self._sync_locked()
                except OSError as exc:
                    log.warning("cannot sync the session journal %s: %s", self.folder, exc)

    def close(self) -> None:
        """Sync and close; the journal stays (it can be restored)."""
        self.sync()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def finish(self) -> None:
        """The session is over (discarded or replaced): mark it and remove its folder."""
        self._write({"type": "finished"}, sync=True)
        self.close()
        _remove(self.folder)


def _remove(folder: Path) -> None:
    for name in (AUDIO_FILE, WINDOWS_FILE):
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s: %s", folder / name, exc)
    try:
        folder.rmdir()
    except OSError as exc:  # something else in there: leave it
        log.warning("cannot remove the session journal %s: %s", folder, exc)


# ---- reading -----------------------------------------------------------------------

@dataclass(frozen=True)
class JournalContents:
    """A journal as read (no audio opened): see :func:`read_journal`."""

    folder: Path
    header: dict
    windows: tuple[AnalysedWindow, ...]
    dropped: int
    repeats: list[Repeat]
    record: dict | None
    input_name: str
    saved_windows: int
    finished: bool
    torn_bytes: int
    modified: datetime

    @property
    def id(self) -> str:
        return self.header["id"]

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.header["started"])

    @property
    def sample_rate(self) -> int:
        return self.header["sample_rate"]

    @property
    def channels(self) -> int:
        return self.header["channels"]

    @property
    def rpm(self) -> float | None:
        return self.header["rpm"]

    @property
    def duration_s(self) -> float:
        """The audio analysed: up to the end of the last window."""
        return max((w.end_s for w in self.windows), default=0.0)

    def session(self) -> Session:
        """A fresh engine :class:`Session` holding the journal's windows."""
        s = Session(rpm=self.rpm, learned_weight=self.header["learned_weight"],
                    false_clicks_per_min=self.header["false_clicks_per_min"],
                    noise_sd_db=self.header["noise_sd_db"],
                    crackle_sd_log=self.header["crackle_sd_log"],
                    click_sd_log=self.header["click_sd_log"], accept=self.header["accept"])
        for w in self.windows:
            s.add(w)
        s.set_repeats(self.repeats)
        s.dropped_windows = self.dropped
        return s


def _check_header(h: dict, folder: Path) -> dict:
    if h.get("type") != "session" or "format" not in h:
        raise JournalError(folder, "is not a vinylmon session journal (its first line holds "
                                   "no session facts)")
    if h["format"] != FORMAT:
        raise JournalError(folder, f"is in format {str(h['format'])[:40]!r}; this vinylmon "
                                   f"reads {FORMAT!r}")
    try:
        _str(h.get("id"), "id")
        try:
            datetime.fromisoformat(_str(h.get("started"), "started"))
        except ValueError as exc:
            raise _Bad("started is not an ISO 8601 time") from exc
        _str(h.get("input"), "input")
        if not 1 <= _int(h.get("sample_rate"), "sample_rate") <= 768_000:
            raise _Bad("sample_rate is out of range")
        if _int(h.get("channels"), "channels") not in (1, 2):
            raise _Bad("channels is not 1 or 2")
        rpm = h.get("rpm")
        if rpm is not None and not 10 <= _finite(rpm, "rpm") <= 100:
            raise _Bad("rpm is out of range")
        _finite(h.get("learned_weight", 0.0), "learned_weight")
        if not 0 <= _finite(h.get("false_clicks_per_min", 0.0), "false_clicks_per_min") < 1000:
            raise _Bad("false_clicks_per_min is out of range")
        if not 0 <= _finite(h.get("noise_sd_db", 0.0), "noise_sd_db") < 100:
            raise _Bad("noise_sd_db is out of range")
        if not 0 <= _finite(h.get("crackle_sd_log", 0.0), "crackle_sd_log") < 20:
            raise _Bad("crackle_sd_log is out of range")
        if not 0 <= _finite(h.get("click_sd_log", 0.0), "click_sd_log") < 20:
            raise _Bad("click_sd_log is out of range")
        if not 0 <= _finite(h.get("accept", 0.0), "accept") <= 1:
            raise _Bad("accept is out of range")
        if h.get("record") is not None and not isinstance(h["record"], dict):
            raise _Bad("record is not an object")
        if not isinstance(h.get("models", {}), dict):
            raise _Bad("models is not an object")
    except (_Bad, ValueError) as exc:
        raise JournalError(folder, f"has broken session facts: {exc}") from exc
    return {**h, "learned_weight": float(h.get("learned_weight", 0.0)),
            "false_clicks_per_min": float(h.get("false_clicks_per_min", 0.0)),  # older: 0
            "noise_sd_db": float(h.get("noise_sd_db", 0.0)),
            "crackle_sd_log": float(h.get("crackle_sd_log", 0.0)),
            "click_sd_log": float(h.get("click_sd_log", 0.0)),
            "accept": float(h.get("accept", 0.0)),  # older: every impulse an event
            "models": dict(h.get("models") or {})}


def read_journal(folder: str | os.PathLike) -> JournalContents:
    """Read a journal's ``windows.jsonl`` (the audio is not opened).

    A torn last line (a process killed mid-write) is ignored.

    Raises
    ------
    JournalError
        No such journal, not a vinylmon journal, another format, or damaged.
    """
    folder = Path(folder)
    path = folder / WINDOWS_FILE
    if not folder.is_dir():
        raise JournalError(folder, "is not a folder")
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise JournalError(folder, f"has no readable {WINDOWS_FILE} "
                                   f"({exc.strerror or exc})") from exc
    lines = data.split(b"\n")
    torn = len(lines[-1])  # after the last newline: a line killed mid-write
    lines = lines[:-1]
    # a last line that is not JSON at all is torn too (e.g. zeros after a power cut)
    if lines:
        try:
            json.loads(lines[-1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            if len(lines) > 1:
                torn += len(lines[-1]) + 1
                lines = lines[:-1]
    if not lines:
        raise JournalError(folder, f"{WINDOWS_FILE} is empty" if not data else
                           f"{WINDOWS_FILE} holds no complete line")
    records = []
    for n, raw in enumerate(lines, 1):
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            if n == 1:
                raise JournalError(folder, "is not a vinylmon session journal (its first line "
                                           "is not JSON)") from exc
            raise JournalError(folder, f"line {n} of {WINDOWS_FILE} is damaged ({exc})") from exc
        if not isinstance(obj, dict):
            raise JournalError(folder, f"line {n} of {WINDOWS_FILE} is not a JSON object")
        records.append(obj)
    header = _check_header(records[0], folder)
    windows: list[AnalysedWindow] = []
    dropped, repeats, saved, finished = 0, [], 0, False
    record = header.get("record")
    input_name = header["input"]
    for n, r in enumerate(records[1:], 2):
        try:
            kind = r.get("type")
            if kind == "window":
                windows.append(window_from_record(r))
            elif kind == "dropped":
                dropped = _int(r.get("count"), "count")
            elif kind == "repeats":
                repeats = _repeats_from(r.get("repeats"))
            elif kind == "record":
                record = r.get("record")
                if record is not None and not isinstance(record, dict):
                    raise _Bad("record is not an object")
            elif kind == "resumed":
                input_name = _str(r.get("input"), "input")
            elif kind == "saved":
                saved = max(saved, _int(r.get("windows"), "windows"))
            elif kind == "finished":
                finished = True
            elif kind == "session":
                raise _Bad("a second session header")
            else:
                raise _Bad(f"unknown line type {str(kind)[:40]!r}")
        except (_Bad, ValueError) as exc:
            raise JournalError(folder, f"line {n} of {WINDOWS_FILE} is broken: {exc}") from exc
    return JournalContents(folder, header, tuple(windows), dropped, repeats,
                           {str(k): str(v) for k, v in record.items()} if record else None,
                           input_name, saved, finished, torn,
                           datetime.fromtimestamp(mtime, UTC))


@dataclass(frozen=True)
class RestoredSession:
    """A journal brought back: the engine session, its windows and its audio.

    Attributes
    ----------
    contents : JournalContents
        The journal's facts (``input_name``, ``started``, ``record``, ...).
    session : Session
        A fresh engine session holding ``windows`` (add more to go on).
    windows : list of AnalysedWindow
    state : SessionState
        ``session.state()``: the events, scratches and grade as they were.
    recording : SessionRecording
        The audio, reopened to read excerpts and to go on recording.
    """

    contents: JournalContents
    session: Session
    windows: list[AnalysedWindow]
    state: SessionState
    recording: SessionRecording

    @property
    def folder(self) -> Path:
        return self.contents.folder


def restore_session(folder: str | os.PathLike) -> RestoredSession:
    """Rebuild the session of an unfinished journal.

    Raises
    ------
    JournalError
        Missing, damaged or foreign journal, no audio or too little of it, a
        finished session, nothing analysed, or one a running vinylmon is writing.
    """
    folder = Path(folder)
    contents = read_journal(folder)
    if in_use(folder):
        raise JournalError(folder, "is in use by a running vinylmon")
    if contents.finished:
        raise JournalError(folder, "was finished: there is nothing to restore")
    if not contents.windows:
        raise JournalError(folder, "holds no analysed window: there is nothing to restore")
    audio = folder / AUDIO_FILE
    try:
        size = audio.stat().st_size
    except OSError as exc:
        raise JournalError(folder, f"has no audio ({AUDIO_FILE}: {exc.strerror or exc})"
                           ) from exc
    frames = size // (2 * contents.channels)
    if frames / contents.sample_rate < contents.duration_s - 1.0 / contents.sample_rate:
        raise JournalError(folder, f"holds {frames / contents.sample_rate:.2f} s of audio for "
                                   f"{contents.duration_s:.2f} s of windows: it is damaged")
    session = contents.session()
    try:
        state = session.state()
    except Exception as exc:  # numbers that parse but make no sense
        raise JournalError(folder, f"its windows cannot be graded ({exc})") from exc
    try:
        recording = SessionRecording(audio, sample_rate=contents.sample_rate,
                                     channels=contents.channels, append=True)
    except VinylmonError as exc:
        raise JournalError(folder, str(exc)) from exc
    return RestoredSession(contents, session, list(contents.windows), state, recording)


@dataclass(frozen=True)
class JournalInfo:
    """An unfinished session, as offered for restoring."""

    folder: Path
    input_name: str
    started: datetime
    modified: datetime
    duration_s: float
    windows: int
    events: int
    grade: str | None


def unfinished_sessions(root: str | os.PathLike | None = None) -> list[JournalInfo]:
    """The sessions that can be restored, newest first.

    A session is offered when its journal is readable, not finished, not being
    written by a running vinylmon, and holds windows that were never saved.
    Damaged or foreign folders are logged and left alone.
    """
    base = sessions_root(root)
    out = []
    try:
        folders = sorted(p for p in base.iterdir() if (p / WINDOWS_FILE).is_file())
    except OSError:
        return []
    for folder in folders:
        if in_use(folder):
            continue
        try:
            c = read_journal(folder)
        except JournalError as exc:
            log.warning("not offered: %s", exc)
            continue
        if c.finished or len(c.windows) <= c.saved_windows:
            continue
        try:
            state = c.session().state()
        except Exception as exc:
            log.warning("not offered: session journal %s cannot be graded (%s)", folder, exc)
            continue
        out.append(JournalInfo(folder, c.input_name, c.started, c.modified, c.duration_s,
                               len(c.windows), len(state.events),
                               state.grade.grade if state.grade is not None else None))
    out.sort(key=lambda i: i.modified, reverse=True)
    return out


def discard_session(folder: str | os.PathLike) -> None:
    """Mark an unfinished journal finished and remove it (it is not offered again).

    Raises
    ------
    JournalError
        It is in use by a running vinylmon, or not a journal.
    """
    folder = Path(folder)
    try:
        j = SessionJournal.reopen(folder)
    except JournalError:
        c = read_journal(folder)  # damaged or foreign: raises, and the folder stays
        if not c.finished or in_use(folder):
            raise
        _remove(folder)  # finished before, not removed then
        return
    j.finish()


def prune_sessions(root: str | os.PathLike | None = None) -> int:
    """Remove journals with nothing to restore (finished, or everything saved, or no
    window analysed) that no running vinylmon holds. Returns how many went."""
    base = sessions_root(root)
    n = 0
    try:
        folders = [p for p in base.iterdir() if (p / WINDOWS_FILE).is_file()]
    except OSError:
        return 0
    for folder in folders:
        if in_use(folder):
            continue
        try:
            c = read_journal(folder)
        except JournalError:
            continue  # not ours to judge: left alone
        if c.finished or len(c.windows) <= c.saved_windows:
            _remove(folder)
            n += 1
    return n


__all__ = ["FORMAT", "JournalContents", "JournalError", "JournalInfo", "RestoredSession",
           "SessionJournal", "discard_session", "in_use", "prune_sessions", "read_journal",
           "restore_session", "sessions_root", "unfinished_sessions"]

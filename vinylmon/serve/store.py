"""The job store: one SQLite table, and a folder per job named by its id.

A job's folder holds its upload (``audio`` with a suffix from a fixed list: never the
uploaded file's name), ``report.json`` and ``report.html``. Ids are random
(:func:`secrets.token_urlsafe`), so a job's reports are found only by who was given
its id. The store is shared by the server's event loop and its worker threads: one
connection, every statement under one lock.
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from vinylmon.grading.names import criterion_name

STATUSES = ("queued", "running", "done", "failed")
#: What a job left running by a server that stopped (killed, a power cut) is failed with.
INTERRUPTED = "the server stopped while this file was being graded; upload it again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    audio TEXT NOT NULL,
    rpm REAL,
    artist TEXT,
    title TEXT,
    side TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    duration_s REAL,
    grade TEXT,
    limited_by TEXT,
    reason TEXT,
    error TEXT
)
"""
_FIELDS = ("status", "progress", "started", "finished", "duration_s", "grade", "limited_by",
           "reason", "error")


def new_id() -> str:
    """A job id: 16 random bytes, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


class JobStore:
    """The jobs under ``root`` (``root/jobs.sqlite3``, ``root/jobs/<id>/``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "jobs.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def folder(self, job_id: str) -> Path:
        """The job's folder (its id is ours, never the user's text: see :func:`new_id`)."""
        return self.root / "jobs" / job_id

    def recover(self) -> list[str]:
        """On start: jobs left ``running`` by a server that stopped are failed (their
        grading is lost), folders of uploads it was receiving removed; the ids of the jobs
        still ``queued``, oldest first, to queue again."""
        with self._lock:
            self._db.execute("UPDATE jobs SET status='failed', error=?, finished=? "
                             "WHERE status='running'", (INTERRUPTED, time.time()))
            queued = [r["id"] for r in self._db.execute(
                "SELECT id FROM jobs WHERE status='queued' ORDER BY seq")]
            known = {r["id"] for r in self._db.execute("SELECT id FROM jobs")}
        for folder in (self.root / "jobs").iterdir():  # uploads cut off by the stop
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        return queued

    def add(self, job_id: str, *, name: str, audio: str, rpm: float | None,
            record: Mapping[str, str]) -> None:
        """A new job, ``queued``; its folder and upload are already in place."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, name, audio, rpm, artist, title, side, created) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (job_id, name, audio, rpm, record.get("artist"), record.get("title"),
                 record.get("side"), time.time()))

    def update(self, job_id: str, **fields) -> bool:
        """Set ``fields`` of the job; False when there is no such job (deleted)."""
        bad = set(fields) - set(_FIELDS)
        if bad:
            raise ValueError(f"not a job field: {sorted(bad)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"not a job status: {fields['status']!r}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {cols} WHERE id=?",
                                   (*fields.values(), job_id))
            return cur.rowcount > 0

    def row(self, job_id: str) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()

    def get(self, job_id: str) -> dict | None:
        """The job as the API shows it; None when there is none."""
        r = self.row(job_id)
        return None if r is None else job_dict(r)

    def list(self, limit: int = 500) -> list[dict]:
        """The jobs, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created DESC, seq DESC "
                                    "LIMIT ?", (limit,)).fetchall()
        return [job_dict(r) for r in rows]

    def delete(self, job_id: str) -> bool:
        """Forget the job and remove its folder; False when there is none."""
        with self._lock:
            cur = self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        return cur.rowcount > 0


def job_dict(r: sqlite3.Row) -> dict:
    """A job row as JSON: ``id``, ``status``, ``progress`` (0..1) and the rest."""
    record = {k: r[k] for k in ("artist", "title", "side") if r[k]}
    d = {
        "id": r["id"],
        "status": r["status"],
        "progress": round(float(r["progress"]), 4),
        "name": r["name"],
        "rpm": r["rpm"],
        "record": record,
        "created": _iso(r["created"]),
        "started": _iso(r["started"]),
        "finished": _iso(r["finished"]),
        "duration_s": r["duration_s"],
        "grade": r["grade"],
        "limited_by": r["limited_by"],
        "limited_by_name": criterion_name(r["limited_by"]),
        "reason": r["reason"],
        "error": r["error"],
    }
    if r["status"] == "done":
        d["report_json"] = f"/api/jobs/{r['id']}/report.json"
        d["report_html"] = f"/api/jobs/{r['id']}/report.html"
    return d

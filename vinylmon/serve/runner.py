"""The worker pool: jobs graded on worker threads, never on the server's event loop.

Each worker thread has its own engine (an engine grades one file at a time), made by
``engine_factory`` on its first job. Grading goes through
:func:`vinylmon.cli.grade.grade_to_report`, the path of ``vinylmon grade``, so a job's
``report.json`` and ``report.html`` are what ``vinylmon grade --json --html`` writes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vinylmon.cli.grade import grade_to_report, limit_text, shown
from vinylmon.errors import VinylmonError
from vinylmon.reports.report import write_report
from vinylmon.serve.store import JobStore

if TYPE_CHECKING:
    from vinylmon.engine.engine import Engine

log = logging.getLogger("vinylmon")


class _Deleted(Exception):
    """The job was deleted while it was graded: stop."""


class JobRunner:
    """``workers`` threads grading the jobs of ``store`` in the order they are queued."""

    def __init__(self, store: JobStore, engine_factory: Callable[[], Engine], *,
                 workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.store = store
        self.engine_factory = engine_factory
        self.workers = workers
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"vinylmon-serve-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 0.0) -> None:
        """Ask the workers to stop after the job each is grading (a job cut short by the
        process ending is failed on the next start: :meth:`JobStore.recover`)."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the workers to end (after :meth:`stop`)."""
        for t in self._threads:
            t.join(timeout)

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _work(self) -> None:
        engine = None
        while (job_id := self._queue.get()) is not None:
            try:
                if engine is None:
                    engine = self.engine_factory()
                self._grade(engine, job_id)
            except Exception:  # never lose the worker
                log.exception("serve: internal error on job %s", job_id)
                self.store.update(job_id, status="failed", finished=time.time(),
                                  error="internal error; details were written to the log")

    def _grade(self, engine: Engine, job_id: str) -> None:
        r = self.store.row(job_id)
        if r is None or r["status"] != "queued":
            return  # deleted meanwhile
        folder = self.store.folder(job_id)
        self.store.update(job_id, status="running", started=time.time(), progress=0.0)
        last = [0.0]

        def progress(done_s: float, total_s: float) -> None:
            frac = 0.0 if total_s <= 0 else min(1.0, done_s / total_s)
            if frac - last[0] >= 0.01 or frac >= 1.0:
                last[0] = frac
                if not self.store.update(job_id, progress=frac):
                    raise _Deleted
        record = {k: r[k] for k in ("artist", "title", "side") if r[k]}
        try:
            g = grade_to_report(engine, folder / r["audio"], input_name=r["name"],
                                rpm=r["rpm"], record=record, progress=progress)
            page = g.html()
            write_report(g.report, folder / "report.json")
            tmp = folder / "report.html.part"
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(folder / "report.html")
        except _Deleted:
            return
        except VinylmonError as exc:
            log.info("serve: job %s failed: %s", job_id, shown(exc))
            self.store.update(job_id, status="failed", finished=time.time(),
                              error=_without_path(shown(exc), str(folder / r["audio"]),
                                                  r["name"]))
            return
        except OSError:
            if self.store.row(job_id) is None:
                return  # deleted meanwhile: its folder is gone
            raise
        s = g.report["summary"]
        if not self.store.update(job_id, status="done", progress=1.0, finished=time.time(),
                                 duration_s=g.report["duration_s"], grade=s["grade"],
                                 limited_by=s.get("limited_by"), reason=limit_text(s)):
            self.store.delete(job_id)  # deleted while its reports were written


def _without_path(message: str, path: str, name: str) -> str:
    """An error message about the stored upload, naming the file as it was uploaded
    (the server's folders are not the user's business)."""
    return message.replace(path, name).replace(path.rsplit("/", 1)[-1], name)

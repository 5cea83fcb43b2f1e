"""A real uvicorn server on a free loopback port, on a background thread, and a small
HTTP client for it (``http.client``): the serve tests talk to it as a browser would."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

uvicorn = pytest.importorskip("uvicorn", reason="vinylmon[serve] is not installed")

from vinylmon.serve.app import ServeConfig, create_app  # noqa: E402

#: Longest a job may take to be graded in these tests (a 12-s file takes a few seconds).
JOB_TIMEOUT_S = 120.0


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None) -> tuple[bytes, str]:
    """A multipart/form-data body (the file in field ``file``) and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                     f"{v}\r\n".encode())
    if file is not None:
        name, data = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Answer:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Answer({self.status}, {self.body[:300]!r})"


class LiveServer:
    """``create_app(config)`` served by uvicorn on 127.0.0.1 at a free port."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.app = create_app(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.headers: dict[str, str] = {}

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)
        runner = self.app.state.runner
        runner.stop()
        runner.join(JOB_TIMEOUT_S)  # a job still grading holds the shared engine
        self.app.state.store.close()
        self.sock.close()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 30.0) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            r = conn.getresponse()
            return Answer(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def upload(self, name: str, data: bytes, **fields) -> Answer:
        body, ctype = multipart({k: str(v) for k, v in fields.items()}, (name, data))
        return self.request("POST", "/api/jobs", body=body, headers={"Content-Type": ctype})

    def wait(self, job_id: str, statuses=("done", "failed"),
             timeout: float = JOB_TIMEOUT_S) -> dict:
        """Poll the job until its status is one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/api/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
            time.sleep(0.1)

    def events(self, job_id: str, timeout: float = JOB_TIMEOUT_S) -> list[dict]:
        """The job's server-sent events, read until the stream ends."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", f"/api/jobs/{job_id}/events", headers=self.headers)
            r = conn.getresponse()
            assert r.status == 200, r.read()
            assert r.getheader("Content-Type").startswith("text/event-stream")
            found = []
            for line in r:
                if line.startswith(b"data: "):
                    found.append(json.loads(line[6:]))
            return found
        finally:
            conn.close()


@pytest.fixture
def serve(tmp_path, cpu_engine):
    """``serve(**config)``: a running server (a context manager) over a fresh data folder,
    grading with the shared CPU engine."""
    made = []

    def make(**kw):
        kw.setdefault("data_dir", tmp_path / "serve-data")
        kw.setdefault("engine_factory", lambda: cpu_engine)
        s = LiveServer(ServeConfig(**kw))
        made.append(s)
        return s
    yield make


@pytest.fixture
def clicked_bytes(clicked_file) -> bytes:
    return Path(clicked_file[0]).read_bytes()

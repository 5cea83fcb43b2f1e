"""The FastAPI application of ``vinylmon serve``, and running it with uvicorn.

Every answer that is not a report or the page is JSON; every error is
``{"error": message}`` (never a traceback: those go to the log). The guard in front
of the app checks the token (when one is set) and cuts uploads off at the size limit
while they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from vinylmon import __version__
from vinylmon.audio.io import audio_info, load
from vinylmon.cli.grade import AUDIO_SUFFIXES, parse_rpm, shown
from vinylmon.errors import VinylmonError
from vinylmon.serve.page import grade_css, index_html, live_html, live_worklet_js
from vinylmon.serve.runner import JobRunner
from vinylmon.serve.store import JobStore, new_id

if TYPE_CHECKING:
    from vinylmon.engine.engine import Engine

log = logging.getLogger("vinylmon")

DEFAULT_MAX_UPLOAD = 2 * 1024**3
DEFAULT_MAX_MINUTES = 180.0
#: Form fields besides ``file``, and how long each may be.
RECORD_FIELDS = ("artist", "title", "side")
MAX_FIELD_CHARS = 200
#: Bytes of a request body allowed beyond the upload limit (multipart framing, fields).
FORM_OVERHEAD = 16 * 1024


def _default_engine() -> Engine:
    from vinylmon.engine.engine import Engine
    return Engine()


@dataclass
class ServeConfig:
    """What ``vinylmon serve`` is told: where the jobs are kept, the token, the limits."""

    data_dir: Path
    token: str | None = None
    workers: int = 1
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    max_duration_s: float = DEFAULT_MAX_MINUTES * 60
    engine_factory: Callable[[], Engine] = field(default=_default_engine)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token.

    Raises
    ------
    VinylmonError
        ``host`` is not a loopback address and ``token`` is None or empty.
    """
    if not is_loopback(host) and not token:
        raise VinylmonError(f"--host {host} serves beyond this machine: give --token T as "
                            "well (every request must then carry it: 'Authorization: Bearer "
                            "T' or ?token=T)")


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Guard:
    """ASGI middleware: the token (when set) on every request; request bodies longer
    than ``max_body`` refused (413) by their Content-Length, or cut off as they arrive."""

    def __init__(self, app, *, token: str | None, max_body: int):
        self.app = app
        self.token = token
        self.max_body = max_body

    def _authorised(self, scope) -> bool:
        if not self.token:
            return True
        given = None
        for k, v in scope.get("headers", ()):
            if k == b"authorization":
                text = v.decode("latin-1")
                if text.lower().startswith("bearer "):
                    given = text[7:].strip()
        if given is None:
            from urllib.parse import parse_qs
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
            given = values[0] if values else None
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not self._authorised(scope):
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 4401,
                               "reason": "a token is required: ?token=T"})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorised(scope):
            return await _error(401, "a token is required: 'Authorization: Bearer T' or "
                                "?token=T", {"WWW-Authenticate": "Bearer"})(scope, receive, send)
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _error(413, self._too_large())(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise ApiError(413, self._too_large())
            return message

        return await self.app(scope, counted, send)

    def _too_large(self) -> str:
        return ("the upload is larger than the limit of "
                f"{_size(max(0, self.max_body - FORM_OVERHEAD))}")


def _size(n: int) -> str:
    for unit, k in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n} bytes"


def upload_name(filename: str | None) -> str:
    """The uploaded file's name as shown (in the report's ``input``, the history): its
    last component, printable, at most 200 characters. It never names a path."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in shown(name) if c.isprintable()).strip()[:200]
    return name or "upload"


def _field(form, key: str) -> str | None:
    value = form.get(key)
    if value is None or isinstance(value, UploadFile):
        return None
    value = "".join(c for c in str(value) if c.isprintable()).strip()
    if len(value) > MAX_FIELD_CHARS:
        raise ApiError(422, f"{key} is longer than {MAX_FIELD_CHARS} characters")
    return value or None


def create_app(config: ServeConfig) -> FastAPI:
    """The application: the API under ``/api``, the page at ``/``."""
    store = JobStore(config.data_dir)
    runner = JobRunner(store, config.engine_factory, workers=config.workers)

    async def lifespan(app):
        for job_id in store.recover():
            runner.submit(job_id)
        runner.start()
        yield
        runner.stop()

    app = FastAPI(title="vinylmon", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    # the body is the file and a few form fields: their framing is allowed on top
    app.add_middleware(Guard, token=config.token,
                       max_body=config.max_upload_bytes + FORM_OVERHEAD)
    app.state.store = store
    app.state.runner = runner
    app.state.config = config

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        return _error(422, "; ".join(str(e.get("msg", e)) for e in exc.errors()) or "invalid")

    @app.exception_handler(Exception)
    async def _internal(request, exc: Exception):
        log.error("serve: internal error on %s %s", request.method, request.url.path,
                  exc_info=exc)
        return _error(500, "internal error; details were written to the log")

    def job_or_404(job_id: str) -> dict:
        job = store.get(job_id)
        if job is None:
            raise ApiError(404, "no such job")
        return job

    def report_file(job_id: str, name: str) -> Path:
        job = job_or_404(job_id)
        if job["status"] != "done":
            raise ApiError(409, f"the job is {job['status']}: its report is not ready")
        p = store.folder(job_id) / name
        if not p.is_file():
            raise ApiError(404, "the report is missing")
        return p

    @app.get("/api/health")
    async def health():
        return {"status": "ok", "version": __version__, "workers": config.workers,
                "max_upload_bytes": config.max_upload_bytes,
                "max_duration_s": config.max_duration_s}

    @app.post("/api/jobs", status_code=202)
    async def create_job(request: Request):
        try:
            form = await request.form(max_files=1, max_fields=len(RECORD_FIELDS) + 1)
        except ApiError:
            raise
        except Exception as exc:  # a body that is not multipart, or malformed
            raise ApiError(400, f"expected a multipart form with a file: {exc}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "no file: send the recording in the form field 'file'")
        rpm_text = _field(form, "rpm")
        try:
            rpm = parse_rpm(rpm_text)
        except argparse.ArgumentTypeError as exc:
            raise ApiError(422, f"rpm: {exc}") from None
        record = {k: v for k in RECORD_FIELDS if (v := _field(form, k)) is not None}
        name = upload_name(upload.filename)
        suffix = PurePosixPath(name).suffix.lower()
        audio = "audio" + (suffix if suffix in AUDIO_SUFFIXES else "")
        job_id = new_id()
        folder = store.folder(job_id)
        folder.mkdir(parents=True)
        try:
            await run_in_threadpool(_save, upload, folder / audio)
            await upload.close()
            await run_in_threadpool(_check_audio, folder / audio, name, config.max_duration_s)
            store.add(job_id, name=name, audio=audio, rpm=rpm, record=record)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        runner.submit(job_id)
        return {"id": job_id, "status": "queued", "progress": 0.0}

    @app.get("/api/jobs")
    async def list_jobs():
        return {"jobs": store.list()}

    @app.get("/api/jobs/{job_id}")
    async def get_job(job_id: str):
        return job_or_404(job_id)

    @app.delete("/api/jobs/{job_id}")
    async def delete_job(job_id: str):
        if not store.delete(job_id):
            raise ApiError(404, "no such job")
        return {"id": job_id, "deleted": True}

    @app.get("/api/jobs/{job_id}/report.json")
    async def report_json(job_id: str):
        return FileResponse(report_file(job_id, "report.json"), media_type="application/json")

    @app.get("/api/jobs/{job_id}/report.html")
    async def report_html(job_id: str):
        return FileResponse(report_file(job_id, "report.html"),
                            media_type="text/html; charset=utf-8")

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request):
        job_or_404(job_id)

        async def stream():
            last = None
            idle = 0.0
            while True:
                job = store.get(job_id)
                if job is None:
                    yield "event: deleted\ndata: {}\n\n"
                    return
                key = (job["status"], job["progress"])
                if key != last:
                    last, idle = key, 0.0
                    yield f"data: {json.dumps(job)}\n\n"
                    if job["status"] in ("done", "failed"):
                        return
                elif idle >= 15.0:
                    idle = 0.0
                    yield ": still grading\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)
                idle += 0.25

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    live_state = {"engine": None, "busy": False}

    @app.websocket("/api/live")
    async def live(ws: WebSocket):
        """The /live page's stream (see :mod:`vinylmon.serve.live`)."""
        from vinylmon.serve.live import LiveInputError, LiveStream, decode_frames, parse_hello

        await ws.accept()
        if live_state["busy"]:
            await ws.send_json({"type": "error", "message": "another browser is listening "
                                "live on this server; one at a time"})
            return await ws.close(code=1013)
        live_state["busy"] = True
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        stream = None

        async def sender():
            while True:
                m = await out.get()
                await ws.send_json(m)
                if m.get("type") in ("end", "error"):
                    return

        send_task = None
        try:
            try:
                hello = json.loads(await asyncio.wait_for(ws.receive_text(), 30.0))
                rate, channels = parse_hello(hello)
            except (TimeoutError, ValueError, TypeError, KeyError, LiveInputError) as exc:
                message = str(exc) if isinstance(exc, LiveInputError) else \
                    "the first message must be {\"sample_rate\": R, \"channels\": C}"
                await ws.send_json({"type": "error", "message": message})
                return await ws.close(code=1003)
            if live_state["engine"] is None:
                live_state["engine"] = await run_in_threadpool(config.engine_factory)
            stream = LiveStream(live_state["engine"], sample_rate=rate, channels=channels,
                                on_message=lambda m: loop.call_soon_threadsafe(out.put_nowait, m))
            send_task = asyncio.create_task(sender())
            heard = 0
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                if msg.get("bytes") is not None:
                    try:
                        frames = decode_frames(msg["bytes"], channels=channels, sample_rate=rate)
                    except LiveInputError as exc:
                        await out.put({"type": "error", "message": str(exc)})
                        break
                    heard += frames.shape[0]
                    if heard > config.max_duration_s * rate:
                        await out.put({"type": "error", "message": "the live session is longer "
                                       f"than the limit of {config.max_duration_s / 60:g} min"})
                        break
                    stream.push(frames)
                elif msg.get("text") is not None:  # {"stop": true}: the rest is analysed
                    break
            stream.close()
            if send_task is not None:
                await asyncio.wait_for(send_task, 60.0)
        except (TimeoutError, WebSocketDisconnect):
            pass
        except Exception as exc:  # never a traceback to the page: the log has it
            log.error("serve: live stream failed", exc_info=exc)
            try:
                await ws.send_json({"type": "error", "message": "internal error; details "
                                    "were written to the log"})
            except Exception:
                pass
        finally:
            if stream is not None:
                stream.close()
            if send_task is not None and not send_task.done():
                send_task.cancel()
            live_state["busy"] = False
            try:
                await ws.close()
            except Exception:
                pass

    @app.get("/live")
    async def live_page():
        return HTMLResponse(live_html())

    @app.get("/live-worklet.js")
    async def live_worklet():
        return Response(live_worklet_js(), media_type="text/javascript")

    @app.get("/grades.css")
    async def css():
        return Response(grade_css(), media_type="text/css")

    @app.get("/")
    async def index():
        return HTMLResponse(index_html())

    return app


def _save(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)


def _check_audio(path: Path, name: str, max_duration_s: float) -> None:
    """Decode the upload's header and first second (its content, not its name, says what
    it is).

    Raises
    ------
    ApiError
        415 when it is not audio that can be read, 422 when it is too long.
    """
    try:
        info = audio_info(path)
        load(path, start_s=0.0, duration_s=min(1.0, info.duration_s))  # its first second
    except VinylmonError as exc:
        message = shown(exc).replace(str(path), name)
        raise ApiError(415, f"not a recording that can be graded: {message}") from None
    if info.duration_s > max_duration_s:
        raise ApiError(422, f"{name} is {info.duration_s / 60:.1f} min long; the limit is "
                            f"{max_duration_s / 60:g} min")


def run_server(config: ServeConfig, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (Ctrl+C)."""
    import uvicorn

    check_bind(host, config.token)
    app = create_app(config)
    shown_host = f"[{host}]" if ":" in host else host
    print(f"vinylmon serve: http://{shown_host}:{port}/ (jobs in {config.data_dir}; "
          "Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

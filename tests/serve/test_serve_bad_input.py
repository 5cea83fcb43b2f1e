"""``vinylmon serve`` given bad input: every refusal is JSON ``{"error": ...}`` with
its status, nothing is kept of a refused upload, and a file's name never reaches a
path."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from conftest import multipart


def _no_jobs_kept(s) -> None:
    assert s.get("/api/jobs").json()["jobs"] == []
    assert list((s.config.data_dir / "jobs").iterdir()) == []


def test_a_text_file_named_flac_is_refused_as_not_audio(serve):
    with serve() as s:
        r = s.upload("side_a.flac", b"these are liner notes, not a recording\n" * 50)
        assert r.status == 415, r
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert "not a recording" in error and "Traceback" not in error
        assert str(s.config.data_dir) not in error  # the server's folders stay its own
        _no_jobs_kept(s)


def test_an_upload_over_the_size_limit_is_refused(serve, clicked_bytes):
    with serve(max_upload_bytes=4096) as s:
        r = s.upload("clicked.flac", clicked_bytes)
        assert r.status == 413, r
        assert "limit" in r.json()["error"]
        _no_jobs_kept(s)


def test_an_upload_over_the_limit_without_a_length_is_cut_off(serve):
    """A chunked body (no Content-Length) is counted as it arrives."""
    import http.client

    with serve(max_upload_bytes=4096) as s:
        body, ctype = multipart({}, ("big.flac", b"\0" * 200_000))
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
        conn.request("POST", "/api/jobs", body=chunks, encode_chunked=True,
                     headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        assert r.status == 413
        conn.close()
        _no_jobs_kept(s)


def test_a_recording_over_the_duration_limit_is_refused(serve, clicked_bytes):
    with serve(max_duration_s=5.0) as s:
        r = s.upload("clicked.flac", clicked_bytes)
        assert r.status == 422, r
        assert "limit" in r.json()["error"]
        _no_jobs_kept(s)


def test_a_form_without_a_file_and_a_body_that_is_no_form(serve):
    with serve() as s:
        body, ctype = multipart({"rpm": "45"}, None)
        r = s.request("POST", "/api/jobs", body=body, headers={"Content-Type": ctype})
        assert r.status == 400 and "file" in r.json()["error"]
        r = s.request("POST", "/api/jobs", body=b'{"file": 1}',
                      headers={"Content-Type": "application/json"})
        assert r.status == 400 and "error" in r.json()
        _no_jobs_kept(s)


def test_a_speed_that_is_not_a_record_speed_is_refused(serve, clicked_bytes):
    with serve() as s:
        r = s.upload("clicked.flac", clicked_bytes, rpm="16 2/3")
        assert r.status == 422 and "rpm" in r.json()["error"]
        r = s.upload("clicked.flac", clicked_bytes, artist="x" * 201)
        assert r.status == 422 and "artist" in r.json()["error"]
        _no_jobs_kept(s)


def test_a_file_name_never_reaches_a_path(serve, clicked_bytes, tmp_path):
    with serve() as s:
        r = s.upload("../../../escape.flac", clicked_bytes)
        assert r.status == 202, r
        job_id = r.json()["id"]
        job = s.wait(job_id)
        assert job["name"] == "escape.flac" and job["status"] == "done"
        assert sorted(p.name for p in s.app.state.store.folder(job_id).iterdir()) == \
            ["audio.flac", "report.html", "report.json"]
        assert not list(tmp_path.rglob("escape.flac"))
        assert s.get(job["report_json"]).json()["input"] == "escape.flac"


def test_silent_audio_fails_its_job_with_the_reason(serve):
    buf = io.BytesIO()
    sf.write(buf, np.zeros((44100 * 8, 2)), 44100, format="FLAC")
    with serve() as s:
        r = s.upload("silence.flac", buf.getvalue())
        assert r.status == 202, r
        job = s.wait(r.json()["id"])
        assert job["status"] == "failed"
        assert "silent" in job["error"] and "Traceback" not in job["error"]
        assert s.get(f"/api/jobs/{job['id']}/report.json").status == 409


def test_unknown_jobs_answer_404_json(serve):
    with serve() as s:
        for path in ("/api/jobs/nope", "/api/jobs/nope/report.json",
                     "/api/jobs/nope/report.html", "/api/jobs/nope/events"):
            r = s.get(path)
            assert r.status == 404 and r.json() == {"error": "no such job"}, path

"""``vinylmon serve`` given bad input: every refusal is JSON ``{"error": ...}`` with
its status, nothing is kept of a refused upload, and a file's name never reaches a
path."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from conftest import JOB_TIMEOUT_S, multipart


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


# ---- hostile input: truncated and empty files, many uploads at once ----

def _wav(music, seconds: float) -> bytes:
    """``seconds`` of the seeded synthetic music as 16-bit stereo WAV (44-byte header)."""
    buf = io.BytesIO()
    sf.write(buf, music(seconds).T, 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _flac(music, seconds: float) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, music(seconds).T, 44100, format="FLAC")
    return buf.getvalue()


@pytest.mark.parametrize("keep", [20, 44], ids=["cut-inside-the-header", "header-only"])
def test_a_wav_cut_before_its_audio_is_refused_as_not_audio(serve, music, keep):
    """A WAV whose header says 4 s of audio follow, cut inside the header or right after
    it: nothing can be decoded, so 415, and nothing kept."""
    data = _wav(music, 4.0)
    assert data[36:40] == b"data" and len(data) > 44  # the header is the usual 44 bytes
    with serve() as s:
        r = s.upload("cut.wav", data[:keep])
        assert r.status == 415, r
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert "not a recording" in error and "Traceback" not in error
        assert str(s.config.data_dir) not in error
        _no_jobs_kept(s)
        assert s.get("/api/health").status == 200


def test_a_wav_cut_inside_its_audio_grades_the_part_that_is_there(serve, music):
    """A valid header claiming 4 s whose data stops mid-frame at about 2 s: the decoder
    reads the whole frames present (as ``vinylmon grade`` does on that file), so the
    upload is accepted, the report covers those 2 s and says the header claimed 4."""
    data = _wav(music, 4.0)
    cut = data[:44 + (len(data) - 44) // 2 + 1]  # half the audio and one odd byte
    with serve() as s:
        r = s.upload("cut.wav", cut)
        assert r.status == 202, r
        job = s.wait(r.json()["id"])
        assert job["status"] == "done", job
        report = s.get(job["report_json"]).json()
        assert report["input"] == "cut.wav"
        assert report["duration_s"] == pytest.approx(2.0, abs=0.01)
        # never a silent wrong answer: the report says the header promised 4 s
        assert any("truncated" in n and "4.0 s" in n for n in report["summary"]["notes"])
        assert b"truncated" in s.get(job["report_html"]).body
        assert s.get("/api/health").status == 200


def test_an_empty_upload_is_refused_with_a_json_error(serve):
    with serve() as s:
        r = s.upload("empty.wav", b"")
        assert r.status == 415, r
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert "empty" in error and "Traceback" not in error
        assert str(s.config.data_dir) not in error
        _no_jobs_kept(s)
        assert s.get("/api/health").status == 200


def test_twenty_uploads_at_once_are_all_queued_and_graded(serve, music):
    """20 clients upload a 2-s clip at the same moment: each gets 202 and its own job,
    the single worker grades them all, the server stays up, every report is served."""
    n = 20
    data = _flac(music, 2.0)
    with serve() as s:
        start = threading.Barrier(n)

        def one(i: int):
            start.wait(30)
            return s.upload(f"clip-{i:02d}.flac", data, side=str(i))

        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(one, range(n)))
        assert [a.status for a in answers] == [202] * n, answers
        ids = [a.json()["id"] for a in answers]
        assert len(set(ids)) == n
        assert s.get("/api/health").status == 200  # answers while the worker grades

        deadline = time.monotonic() + JOB_TIMEOUT_S * 2
        while True:
            jobs = {j["id"]: j for j in s.get("/api/jobs").json()["jobs"]}
            if all(jobs[i]["status"] in ("done", "failed") for i in ids):
                break
            waiting = sorted({jobs[i]["status"] for i in ids})
            assert time.monotonic() < deadline, f"jobs still {waiting}"
            time.sleep(0.1)

        assert set(jobs) == set(ids)
        assert [jobs[i]["status"] for i in ids] == ["done"] * n, \
            [jobs[i].get("error") for i in ids]
        assert s.get("/api/health").status == 200
        for i, job_id in enumerate(ids):
            r = s.get(jobs[job_id]["report_json"])
            assert r.status == 200, r
            report = r.json()
            assert report["input"] == f"clip-{i:02d}.flac"
            assert report["record"]["side"] == str(i)

"""``vinylmon serve``: a real server on a loopback port, driven over HTTP: upload ->
graded -> the same report as ``vinylmon grade``; progress events; history; delete;
the token; a job left running by a killed server; health; the page and its palette."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import JOB_TIMEOUT_S

from vinylmon.cli.grade import grade_to_report, limit_text
from vinylmon.cli.main import main
from vinylmon.grading.names import GRADE_COLORS, criterion_name
from vinylmon.reports.schema import report_problems
from vinylmon.serve.app import check_bind
from vinylmon.serve.store import INTERRUPTED, JobStore


def test_health(serve):
    with serve() as s:
        r = s.get("/api/health")
        assert r.status == 200
        assert r.json()["status"] == "ok"


def test_an_upload_is_graded_to_the_report_vinylmon_grade_gives(serve, clicked_file,
                                                                clicked_bytes, cpu_engine):
    with serve() as s:
        r = s.upload("clicked.flac", clicked_bytes, rpm="45", artist="Nina Simone",
                     side="A")
        assert r.status == 202, r
        job_id = r.json()["id"]
        assert len(job_id) >= 20  # random, not a counter
        events = s.events(job_id)
        assert events[-1]["status"] == "done"
        progress = [e["progress"] for e in events]
        assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)
        job = s.get(f"/api/jobs/{job_id}").json()
        assert job["status"] == "done" and job["progress"] == 1.0
        served = s.get(job["report_json"])
        assert served.status == 200
        assert served.headers["content-type"].startswith("application/json")
        report = served.json()
        page = s.get(job["report_html"])
        assert page.status == 200 and page.body.lower().startswith(b"<!doctype html>")
        assert page.headers["content-type"].startswith("text/html")
    expected = grade_to_report(cpu_engine, clicked_file[0], input_name="clicked.flac", rpm=45.0,
                               record={"artist": "Nina Simone", "side": "A"}).report
    assert report_problems(report) == []
    assert report == json.loads(json.dumps(expected))
    assert report["input"] == "clicked.flac" and report["record"]["artist"] == "Nina Simone"
    s_ = report["summary"]
    assert job["grade"] == s_["grade"]
    assert job["reason"] == limit_text(s_)
    assert job["limited_by_name"] == criterion_name(s_["limited_by"])


def test_history_is_newest_first_and_delete_forgets_a_job(serve, clicked_bytes):
    with serve() as s:
        ids = []
        for name in ("first.flac", "second.flac"):
            r = s.upload(name, clicked_bytes)
            assert r.status == 202, r
            ids.append(r.json()["id"])
        for job_id in ids:
            assert s.wait(job_id)["status"] == "done"
        jobs = s.get("/api/jobs").json()["jobs"]
        assert [j["id"] for j in jobs] == ids[::-1]
        assert [j["name"] for j in jobs] == ["second.flac", "first.flac"]
        folder = s.app.state.store.folder(ids[0])
        assert (folder / "report.json").is_file()
        r = s.request("DELETE", f"/api/jobs/{ids[0]}")
        assert r.status == 200 and r.json()["deleted"] is True
        assert not folder.exists()
        assert s.get(f"/api/jobs/{ids[0]}").status == 404
        assert s.get(f"/api/jobs/{ids[0]}/report.json").status == 404
        assert [j["id"] for j in s.get("/api/jobs").json()["jobs"]] == [ids[1]]
        again = s.request("DELETE", f"/api/jobs/{ids[0]}")
        assert again.status == 404 and "error" in again.json()


def test_the_server_answers_while_a_job_grades(serve, clicked_bytes, throttled_engine):
    engine, detector = throttled_engine(1.0)  # 1 s a window: the job takes seconds
    with serve(engine_factory=lambda: engine) as s:
        job_id = s.upload("clicked.flac", clicked_bytes).json()["id"]
        s.wait(job_id, statuses=("running",))
        assert detector.busy.wait(JOB_TIMEOUT_S)
        for _ in range(5):  # answered at once, not after the grading
            assert s.get("/api/health", timeout=2.0).status == 200
            assert s.get("/api/jobs", timeout=2.0).status == 200
        assert s.get(f"/api/jobs/{job_id}").json()["status"] == "running"
        r = s.get(f"/api/jobs/{job_id}/report.json")
        assert r.status == 409 and "running" in r.json()["error"]
        assert s.wait(job_id)["status"] == "done"


def test_a_job_deleted_while_it_grades_stops_and_the_next_is_graded(serve, clicked_bytes,
                                                                     throttled_engine):
    engine, detector = throttled_engine(0.5)
    with serve(engine_factory=lambda: engine) as s:
        first = s.upload("first.flac", clicked_bytes).json()["id"]
        second = s.upload("second.flac", clicked_bytes).json()["id"]
        s.wait(first, statuses=("running",))
        assert s.request("DELETE", f"/api/jobs/{first}").status == 200
        assert s.wait(second)["status"] == "done"
        assert s.get(f"/api/jobs/{first}").status == 404
        assert not s.app.state.store.folder(first).exists()
        assert [j["id"] for j in s.get("/api/jobs").json()["jobs"]] == [second]


def test_a_token_is_required_on_every_request_when_set(serve):
    with serve(token="s3cret") as s:
        for path in ("/api/health", "/", "/api/jobs", "/api/jobs/x"):
            r = s.get(path)
            assert r.status == 401, path
            assert "token" in r.json()["error"]
        assert s.get("/api/health", headers={"Authorization": "Bearer wrong"}).status == 401
        assert s.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status == 200
        assert s.get("/api/health?token=s3cret").status == 200
        assert s.get("/?token=s3cret").status == 200


def test_only_loopback_hosts_may_go_without_a_token(capsys):
    check_bind("127.0.0.1", None)
    check_bind("localhost", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "t")
    with pytest.raises(Exception, match="--token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(Exception, match="--token"):
        check_bind("192.168.1.20", "")
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err


def test_a_job_left_running_by_a_killed_server_fails_and_a_queued_one_is_graded(
        serve, tmp_path, clicked_file):
    data = tmp_path / "serve-data"
    store = JobStore(data)
    for job_id in ("left-running", "left-queued"):
        store.folder(job_id).mkdir(parents=True)
        shutil.copy(clicked_file[0], store.folder(job_id) / "audio.flac")
        store.add(job_id, name=f"{job_id}.flac", audio="audio.flac", rpm=None, record={})
    store.update("left-running", status="running", progress=0.4)
    store.folder("cut-off-upload").mkdir()
    store.close()
    with serve(data_dir=data) as s:
        job = s.get("/api/jobs/left-running").json()
        assert job["status"] == "failed" and job["error"] == INTERRUPTED
        assert s.wait("left-queued", timeout=JOB_TIMEOUT_S)["status"] == "done"
        assert not store.folder("cut-off-upload").exists()


def test_the_page_and_its_grade_colours_from_the_palette(serve):
    with serve() as s:
        page = s.get("/")
        assert page.status == 200 and b"<input id=\"file\" type=\"file\"" in page.body
        css = s.get("/grades.css")
        assert css.status == 200 and css.headers["content-type"].startswith("text/css")
        for grade, color in GRADE_COLORS.items():
            assert f'[data-grade="{grade}"]{{background:{color}' in css.body.decode()


def test_unknown_paths_answer_json(serve):
    with serve() as s:
        r = s.get("/api/nothing-here")
        assert r.status == 404 and r.json() == {"error": "Not Found"}
        r = s.get("/api/jobs/nope")
        assert r.status == 404 and r.json() == {"error": "no such job"}

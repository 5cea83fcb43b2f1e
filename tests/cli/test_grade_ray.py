"""``vinylmon grade FOLDER --ray ADDRESS`` on a real local Ray cluster (``ray start
--head`` on 127.0.0.1, started here): the same rows, reports and exit status as one
process. Skipped where Ray is not installed (it is the optional extra vinylmon[ray])."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vinylmon.cli.main import main

pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Ray cluster on 127.0.0.1 (2 CPUs, no dashboard); its address."""
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        ray_bin = shutil.which("ray")
    if not ray_bin:
        pytest.skip("the ray command is not installed")
    port = _free_port()
    tmp = tmp_path_factory.mktemp("ray")
    cmd = [str(ray_bin), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
           "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
           f"--temp-dir={tmp}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, timeout=120)


@pytest.fixture
def folder(side_folder):
    return side_folder((8.0, 6.0))


def test_ray_gives_what_one_process_gives(cluster, folder, tmp_path, capsys, table_rows):
    one, on_ray = tmp_path / "one", tmp_path / "ray"
    code1 = main(["grade", str(folder), "--json", str(one), "--device", "cpu", "--quiet",
                  "--no-grader"])
    out1 = capsys.readouterr()
    code2 = main(["grade", str(folder), "--json", str(on_ray), "--device", "cpu", "--quiet",
                  "--no-grader", "--ray", cluster])
    out2 = capsys.readouterr()
    assert code1 == code2 == 2  # the broken file, in both
    assert table_rows(out1.out) == table_rows(out2.out) and len(table_rows(out2.out)) == 2
    assert "broken.flac" in out2.err
    assert sorted(p.name for p in on_ray.iterdir()) == ["good0.json", "good1.json"]
    for name in ("good0.json", "good1.json"):
        assert json.loads((on_ray / name).read_text()) == json.loads((one / name).read_text())


def test_an_address_with_no_cluster_is_said_plainly(folder, capsys):
    code = main(["grade", str(folder), "--ray", f"127.0.0.1:{_free_port()}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot reach the Ray cluster" in err and "Traceback" not in err

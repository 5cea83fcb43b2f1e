#!/usr/bin/env python3
"""The same events, grades and report bytes before and after a change that should
not alter behaviour (issue 18's layout move).

``record DIR`` writes what vinylmon says today about three inputs; ``compare DIR``
says it again and compares, byte for byte, with the version fields blanked:

- ``demo``: the demo recording graded by ``vinylmon grade --json --html`` (the
  seller's command, run as a process);
- ``side``: the 20-minute bench side of ``scripts/bench_grade.py``, the same way;
- ``live``: the demo played through the monitor (``FileSource`` as fast as it
  reads), its session report and HTML page, as the desktop app saves them.

    python scripts/check_identical.py record /tmp/before
    python scripts/check_identical.py compare /tmp/before      # exit 1 on any difference
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "vinylmon" / "data" / "demo.ogg"
#: Fields that name the code, not what it heard
VERSION_KEYS = ("vinylmon",)


def _blank_versions(report: dict) -> dict:
    return {k: ("*" if k in VERSION_KEYS else v) for k, v in report.items()}


def _blank_html(text: str) -> str:
    return re.sub(r"(vinylmon version</dt><dd>)[^<]*", r"\1*", text)


def _graded(path: Path, out: Path, name: str) -> None:
    js, html = out / f"{name}.json", out / f"{name}.html"
    subprocess.run([sys.executable, "-m", "vinylmon", "grade", str(path), "--json", str(js),
                    "--html", str(html), "--quiet"], check=True, cwd=ROOT)
    js.write_text(json.dumps(_blank_versions(json.loads(js.read_text())), indent=1,
                             sort_keys=True))
    html.write_text(_blank_html(html.read_text()))


def _live(out: Path) -> None:
    from vinylmon.engine.engine import Engine
    from vinylmon.live.monitor import FileSource, Monitor

    with tempfile.TemporaryDirectory() as journals:
        mon = Monitor(Engine(), journal_dir=journals, max_pending=10_000)
        mon.start(FileSource(DEMO, speed=None))
        mon.join()
        rep = _blank_versions(mon.report())
        (out / "live.json").write_text(json.dumps(rep, indent=1, sort_keys=True))
        mon.export_html(out / "live.html")
        (out / "live.html").write_text(_blank_html((out / "live.html").read_text()))
        mon.close()


def say_all(out: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_grade import make_side

    out.mkdir(parents=True, exist_ok=True)
    side = make_side(ROOT / "cache" / "bench" / "side_20min.flac", 20.0, ROOT / "cache" / "corpus")
    _graded(DEMO, out, "demo")
    _graded(side, out, "side")
    _live(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("record", "compare"))
    ap.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "record":
        say_all(args.dir)
        print(f"recorded {sorted(p.name for p in args.dir.iterdir())} in {args.dir}")
        return 0
    with tempfile.TemporaryDirectory() as now:
        say_all(Path(now))
        bad = 0
        for before in sorted(args.dir.iterdir()):
            after = Path(now) / before.name
            if after.read_bytes() == before.read_bytes():
                print(f"same: {before.name}")
                continue
            bad += 1
            print(f"DIFFERENT: {before.name}")
            diff = difflib.unified_diff(before.read_text().splitlines(),
                                        after.read_text().splitlines(), lineterm="", n=1)
            for i, line in enumerate(diff):
                if i >= 40:
                    print("  ...")
                    break
                print("  " + line[:200])
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The child of test_journal.py's kill test (run as a script, never collected).

``python journal_kill_child.py AUDIO JOURNAL_ROOT SPEED`` plays AUDIO through a
live :class:`~vinylmon.live.monitor.Monitor` (CPU models, a paced FileSource)
and prints one JSON line per analysed window as ``on_window`` fires: its index,
span and impulses, and the events of the session so far (floats exactly, as
``repr`` writes them). The parent SIGKILLs this process mid-side.
"""

import json
import sys
import threading

from vinylmon.engine.engine import Engine
from vinylmon.live.monitor import FileSource, Monitor


def main(audio: str, root: str, speed: str) -> int:
    mon = Monitor(Engine(device="cpu"), journal_dir=root)
    done = threading.Event()

    def on_window(a, state) -> None:
        line = {"index": a.index, "start_s": a.start_s, "end_s": a.end_s,
                "impulses": [[i.start_s, i.end_s, i.channel, i.peak_dbfs, i.confidence]
                             for i in a.impulses],
                "events": [[e.kind, e.start_s, e.end_s, e.channel, e.peak_db, e.confidence]
                           for e in state.events]}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    mon.on_window = on_window
    mon.on_finished = done.set
    mon.start(FileSource(audio, speed=float(speed)), details={"artist": "Killed"})
    done.wait(600)
    sys.stdout.write(json.dumps({"done": True}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

#!/usr/bin/env python3
"""Run the monitor in a real window, screenshot it mid-demo, and measure its frame rate.

Run under an X server (on a headless machine: ``xvfb-run -s '-screen 0 1600x1000x24'``):

    xvfb-run -a -s '-screen 0 1600x1000x24' python scripts/screenshot.py \
        [--seconds 25] [--out docs/monitor.png] [--file RECORDING]

Plays the bundled demo (or ``--file``) at real-time pace through the whole
pipeline (scope, journal, engine on its worker thread), then grabs the screen
and prints what was measured over the run: repaint ticks and spectrogram frames
per second, the GUI thread's CPU share (``time.thread_time`` in the paint timer
and in the handlers of the engine's signals), the process's CPU share, per-window
inference time and dropped windows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--out", type=Path, default=Path("docs/monitor.png"))
    ap.add_argument("--file", type=Path, help="play this recording instead of the demo")
    ap.add_argument("--compute", default="cpu")
    ap.add_argument("--idle-seconds", type=float, default=0.0,
                    help="first measure the window this long with no input (a baseline)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("no X display: run under xvfb-run (see the docstring)", file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from vinylmon.cli.monitor import AppBackend
    from vinylmon.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    # its own journal folder: the user's unfinished sessions are neither offered
    # (and shown in the screenshot) nor joined by this one
    backend = AppBackend(device=args.compute,
                         journal_dir=tempfile.mkdtemp(prefix="vinylmon-screenshot-"))
    win = MainWindow(backend, offer_restore=False)
    win.artist_edit.setText("Demo Orchestra")
    win.title_edit.setText("Battle Themes")
    win.side_edit.setText("A")
    win.show()
    idle: dict = {}
    result: dict = {}
    clock = {"cpu": time.process_time(), "wall": time.monotonic()}

    def play() -> None:
        if args.idle_seconds > 0:  # the same window with nothing playing: the baseline
            idle.update(win.frame_stats())
            idle["process_cpu_share"] = (time.process_time() - clock["cpu"]) / idle["wall_s"]
        source = backend.file_source(args.file or backend.demo_path, speed=1.0,
                                     name=None if args.file else "demo recording")
        win.start_source(source)
        win.reset_frame_stats()
        clock.update(cpu=time.process_time(), wall=time.monotonic())
        QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish() -> None:
        result.update(win.frame_stats())
        result["process_cpu_share"] = ((time.process_time() - clock["cpu"])
                                       / (time.monotonic() - clock["wall"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screen = app.primaryScreen().grabWindow(0)  # what the X server shows
        win_rect = win.frameGeometry()
        screen.copy(win_rect).save(str(args.out))
        win.monitor.stop()
        result["stats"] = win.monitor.stats()
        # its journal goes: a session with unsaved windows would have the window ask
        # before quitting (closeEvent), and the run would wait for an answer forever
        win.monitor.discard()
        app.quit()

    win.reset_frame_stats()
    QTimer.singleShot(int(args.idle_seconds * 1000), play)
    app.exec()
    st = result.pop("stats")
    print(f"screenshot: {args.out}")
    print(f"over {result['wall_s']:.1f} s: {result['ticks_per_s']:.1f} repaint ticks/s, "
          f"{result['frames_per_s']:.1f} spectrogram frames/s, GUI thread CPU "
          f"{100 * result['gui_cpu_share']:.1f} % of one core (paint timer "
          f"{100 * result['tick_cpu_share']:.1f} %), whole process "
          f"{100 * result['process_cpu_share']:.0f} % of one core; longest gap between "
          f"repaints {1000 * result['max_tick_gap_s']:.0f} ms (timer interval 33 ms)")
    print(f"engine: {st.windows} windows, last inference "
          f"{1000 * (st.last_inference_s or 0):.0f} ms/window, dropped {st.dropped_windows}, "
          f"overflows {st.overflows}, models on {st.compute_device}")
    if idle:
        print(f"baseline, idle window over {idle['wall_s']:.1f} s: {idle['ticks_per_s']:.1f} "
              f"repaint ticks/s, GUI thread CPU {100 * idle['gui_cpu_share']:.1f} % of one "
              f"core, whole process {100 * idle['process_cpu_share']:.0f} %")
    if args.json:
        args.json.write_text(json.dumps({
            "playing": result, "idle": idle, "windows": st.windows,
            "last_inference_s": st.last_inference_s, "dropped_windows": st.dropped_windows,
            "overflows": st.overflows, "compute_device": st.compute_device}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

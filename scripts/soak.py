#!/usr/bin/env python3
"""Soak: an hour of input through the live monitor at accelerated pace (issue 8).

A seeded damaged clip (synthetic music with clicks and a repeating scratch) is
looped into :class:`vinylmon.live.monitor.Monitor` as a live source would
deliver it, in 1024-frame blocks, faster than real time. Every ``--sample-s``
of wall time it samples the process's memory (RSS), the engine's queue of
pending windows, the windows analysed and dropped. At the end it checks:

- memory: flat (growth over the second half of the run, in MB per hour of audio);
- queue: never more than the monitor's ``max_pending``;
- windows: analysed + dropped == the windows the input held (none lost);
- events: every impulse of every analysed window is one of the session's events,
  and the truth clicks of analysed windows are found as often in the last part
  of the run as in the first (nothing degrades as the session grows).

    python scripts/soak.py [--hours 1] [--speed 40] [--json OUT]

``tests/engine/test_soak.py`` runs the same soak shortened.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock, frozen_samples

BLOCK_FRAMES = 1024
WINDOW_S = 5.0


def rss_mb() -> float:
    """The process's resident memory now (MB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource
    return pages * resource.getpagesize() / 2**20


def damaged_clip(seconds: float = 60.0, *, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(audio (2, frames) float32, click start times in s)``: music, clicks, a scratch."""
    from vinylmon.simulate import (
        ClickSpec,
        DamageSpec,
        ScratchSpec,
        simulate,
        synthetic_music,
    )

    x = synthetic_music(np.random.default_rng(seed), seconds)
    spec = DamageSpec(seed=seed, clicks=ClickSpec(rate_per_min=12.0, peak_db=(2.0, 6.0)),
                      scratches=(ScratchSpec(start_s=3.0, revolutions=8, peak_db=0.0),))
    d = simulate(x, spec)
    clicks = np.array(sorted({i.start for i in d.truth.impulses if i.kind == "click"}))
    return d.audio.astype(np.float32), clicks / ANALYSIS_RATE


class LoopSource:
    """A clip looped to ``total_s`` seconds, delivered like a live input.

    Parameters
    ----------
    audio : np.ndarray, shape (channels, frames)
    total_s : float
    speed : float or None
        Times real time; None: as fast as the consumer takes it.
    """

    def __init__(self, audio: np.ndarray, *, total_s: float, speed: float | None) -> None:
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.total_frames = int(total_s * ANALYSIS_RATE)
        self.speed = speed
        self.name = "soak loop"
        self.sample_rate = ANALYSIS_RATE
        self.channels = self.audio.shape[0]
        self.overflows = 0

    def blocks(self, stop: threading.Event) -> Iterator[AudioBlock]:
        n = self.audio.shape[1]
        t0 = time.monotonic()
        pos = 0
        while pos < self.total_frames and not stop.is_set():
            m = min(BLOCK_FRAMES, self.total_frames - pos)
            i = pos % n
            chunk = self.audio[:, i:i + m]
            if chunk.shape[1] < m:  # wrap around the loop
                chunk = np.concatenate([chunk, self.audio[:, :m - chunk.shape[1]]], axis=1)
            start_s = pos / ANALYSIS_RATE
            if self.speed is not None:
                delay = start_s / self.speed - (time.monotonic() - t0)
                if delay > 0 and stop.wait(delay):
                    return
            yield AudioBlock(frozen_samples(chunk.copy()), ANALYSIS_RATE, start_s)
            pos += m


@dataclass
class SoakResult:
    audio_s: float
    wall_s: float
    speed: float | None
    max_pending: int
    windows_expected: int
    windows_analysed: int
    windows_silent: int
    windows_dropped: int
    max_queue: int
    rss_start_mb: float
    rss_peak_mb: float
    rss_end_mb: float
    growth_mb_per_hour: float
    impulses: int
    impulses_not_in_events: int
    events: int
    recall_first: float | None
    recall_last: float | None
    inference_first_ms: float | None
    inference_last_ms: float | None
    #: Session.state() per window (the side's events, scratches and grade so far), median
    #: over the first and the last fifth of the run: flat when the state is incremental.
    state_first_ms: float | None = None
    state_last_ms: float | None = None
    samples: list = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.windows_analysed + self.windows_dropped == self.windows_expected

    def problems(self, *, max_growth_mb_per_hour: float = 100.0) -> list[str]:
        """What failed; empty when the soak held."""
        out = []
        if not self.accounted:
            out.append(f"windows: {self.windows_analysed} analysed + {self.windows_dropped} "
                       f"dropped != {self.windows_expected} in the input")
        if self.max_queue > self.max_pending:
            out.append(f"queue reached {self.max_queue} > max_pending {self.max_pending}")
        if self.impulses_not_in_events:
            out.append(f"{self.impulses_not_in_events} of {self.impulses} impulses are in no "
                       "event")
        if self.growth_mb_per_hour > max_growth_mb_per_hour:
            out.append(f"memory grew {self.growth_mb_per_hour:.0f} MB per hour of audio "
                       f"(> {max_growth_mb_per_hour:.0f})")
        return out

    def summary(self) -> str:
        speed = "as fast as it goes" if self.speed is None else f"{self.speed:g}x real time"
        lines = [
            f"{self.audio_s / 60:.1f} min of audio in {self.wall_s:.1f} s ({speed}, "
            f"max_pending {self.max_pending})",
            f"windows: {self.windows_expected} in the input, {self.windows_analysed} analysed "
            f"({self.windows_silent} silent), {self.windows_dropped} dropped; queue max "
            f"{self.max_queue}",
            f"memory: RSS {self.rss_start_mb:.0f} MB at the first sample, peak "
            f"{self.rss_peak_mb:.0f} MB, end {self.rss_end_mb:.0f} MB; growth over the "
            f"second half {self.growth_mb_per_hour:+.1f} MB per hour of audio",
            f"events: {self.events} in the session; {self.impulses} window impulses, "
            f"{self.impulses_not_in_events} in no event",
        ]
        if self.recall_first is not None:
            lines.append(f"truth clicks found: first fifth {self.recall_first:.3f}, last fifth "
                         f"{self.recall_last:.3f}; inference {self.inference_first_ms:.0f} -> "
                         f"{self.inference_last_ms:.0f} ms/window (first vs last fifth)")
        if self.state_first_ms is not None:
            lines.append(f"session state: {self.state_first_ms:.2f} -> {self.state_last_ms:.2f} "
                         "ms/window (first vs last fifth)")
        return "\n".join(lines)


def second_half_growth_mb(samples: list[dict]) -> float:
    """RSS at the end minus the lowest RSS of the run's second half (MB)."""
    half = [s["rss_mb"] for s in samples if s["audio_s"] >= samples[-1]["audio_s"] / 2]
    return half[-1] - min(half) if half else 0.0


def _growth_per_hour(samples: list[dict]) -> float:
    """Slope of RSS against audio time over the run's second half (MB per hour)."""
    half = [s for s in samples if s["audio_s"] >= samples[-1]["audio_s"] / 2]
    if len(half) < 3 or half[-1]["audio_s"] - half[0]["audio_s"] < 1.0:
        return 0.0
    t = np.array([s["audio_s"] for s in half]) / 3600.0
    m = np.array([s["rss_mb"] for s in half])
    return float(np.polyfit(t, m, 1)[0])


def run_soak(engine, *, total_s: float, speed: float | None, sample_s: float = 0.5,
             max_pending: int = 2, clip_s: float = 60.0, journal_dir=None,
             timeout_s: float | None = None) -> SoakResult:
    """Loop a damaged clip through a :class:`Monitor` for ``total_s`` of audio."""
    from vinylmon.live.monitor import Monitor

    audio, clicks = damaged_clip(clip_s)
    source = LoopSource(audio, total_s=total_s, speed=speed)
    with tempfile.TemporaryDirectory(prefix="vinylmon-soak-") as tmp:
        monitor = Monitor(engine, journal_dir=journal_dir or tmp, max_pending=max_pending)
        samples: list[dict] = []
        t0 = time.monotonic()
        monitor.start(source)
        state_ms = _time_states(monitor.session)

        def sample() -> None:
            a = monitor._analyser
            st = monitor.stats()
            samples.append({"wall_s": time.monotonic() - t0, "audio_s": st.elapsed_s,
                            "rss_mb": rss_mb(), "pending": a.pending if a else 0,
                            "analysed": st.windows, "dropped": st.dropped_windows})

        deadline = None if timeout_s is None else t0 + timeout_s
        while monitor.running:
            sample()
            if deadline is not None and time.monotonic() > deadline:
                monitor.stop()
                raise TimeoutError(f"soak did not finish within {timeout_s} s")
            time.sleep(sample_s)
        monitor.join()
        sample()
        wall = time.monotonic() - t0
        state = monitor.state
        windows = list(monitor.windows)
        dropped = monitor.session.dropped_windows
        if monitor.recording is not None:
            monitor.recording.close()
    return _result(windows, state, dropped, samples, clicks, clip_s, total_s, wall, speed,
                   max_pending, state_ms, accept=engine.detector.event_accept)


def _time_states(session) -> list[tuple[float, float]]:
    """``(audio s, ms)`` of each ``session.state()`` from now on (the analyser calls it
    once per window)."""
    out: list[tuple[float, float]] = []
    state = session.state

    def timed():
        t = time.perf_counter()
        st = state()
        ms = 1000 * (time.perf_counter() - t)
        out.append((session.windows[-1].end_s if session.windows else 0.0, ms))
        return st

    session.state = timed
    return out


def _result(windows, state, dropped, samples, clicks, clip_s, total_s, wall, speed,
            max_pending, state_ms=(), *, accept: float = 0.0) -> SoakResult:
    live = [w for w in windows if not w.silent]
    events = state.events if state is not None else ()
    starts = np.array([e.start_s for e in events])
    ends = np.array([e.end_s for e in events])
    tol = 0.0011  # detections within 1 ms merge into one event
    missing, impulses = 0, 0
    for w in live:
        for imp in w.impulses:
            if imp.confidence < accept:
                continue  # a scratch tick at most: an event only inside a train
            impulses += 1
            if not np.any((starts - tol <= imp.start_s) & (imp.start_s <= ends + tol)):
                missing += 1
    # truth clicks of each analysed window, found or not, by fifths of the run
    loops = math.ceil(total_s / clip_s)
    truth = np.concatenate([clicks + k * clip_s for k in range(loops)])
    truth = truth[truth < total_s]
    found = np.zeros(len(truth), dtype=bool)
    heard = np.zeros(len(truth), dtype=bool)
    for w in live:
        inside = (truth >= w.start_s) & (truth < w.end_s)
        heard |= inside
        for j in np.flatnonzero(inside):
            found[j] = bool(np.any(np.abs(starts - truth[j]) <= 0.002))
    fifth = total_s / 5

    def recall(lo, hi):
        sel = heard & (truth >= lo) & (truth < hi)
        return float(found[sel].mean()) if sel.any() else None

    def inference(lo, hi):
        ms = [1000 * w.inference_s for w in live if lo <= w.start_s < hi]
        return float(np.median(ms)) if ms else None

    def state_cost(lo, hi):
        ms = [m for t, m in state_ms if lo <= t < hi]
        return float(np.median(ms)) if ms else None

    rss = [s["rss_mb"] for s in samples]
    return SoakResult(
        audio_s=total_s, wall_s=wall, speed=speed, max_pending=max_pending,
        windows_expected=math.ceil(round(total_s * ANALYSIS_RATE) / (WINDOW_S * ANALYSIS_RATE)),
        windows_analysed=len(windows), windows_silent=len(windows) - len(live),
        windows_dropped=dropped, max_queue=max(s["pending"] for s in samples),
        rss_start_mb=rss[0], rss_peak_mb=max(rss), rss_end_mb=rss[-1],
        growth_mb_per_hour=_growth_per_hour(samples), impulses=impulses,
        impulses_not_in_events=missing, events=len(events),
        recall_first=recall(0, fifth), recall_last=recall(total_s - fifth, total_s + 1),
        inference_first_ms=inference(0, fifth),
        inference_last_ms=inference(total_s - fifth, total_s + 1),
        state_first_ms=state_cost(0, fifth), state_last_ms=state_cost(total_s - fifth, total_s + 1),
        samples=samples)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--speed", type=float, default=40.0,
                    help="times real time (0: as fast as it goes)")
    ap.add_argument("--sample-s", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, help="write the result (with the samples) here")
    args = ap.parse_args(argv)
    from vinylmon.engine.engine import Engine

    engine = Engine(device=args.device)
    res = run_soak(engine, total_s=args.hours * 3600, speed=args.speed or None,
                   sample_s=args.sample_s)
    print(res.summary())
    problems = res.problems()
    print("soak held" if not problems else "soak FAILED: " + "; ".join(problems))
    if args.json:
        args.json.write_text(json.dumps({**asdict(res), "problems": problems}, indent=1))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

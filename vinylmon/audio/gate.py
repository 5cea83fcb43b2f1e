"""Silence gate: marks windows with nothing to analyse (an idle input, the
silence between sides) so the models skip them and grading ignores them.

A window is judged on two levels, both dB re full scale: its RMS and its peak.
Groove noise is impulsive (ticks, crackle), so its peak stands 25-31 dB above its
RMS, while an idle input is a flat floor. The gate closes (silent) only when
both are low and opens again when either is clearly up; in between it keeps its
state (hysteresis), so a record fading out does not flicker.

Measured levels behind the defaults. The beds: 1-s windows of each file in
../shared/data/noise/vinyl through :func:`vinylmon.audio.file_windows`
(``tests/audio/test_gate.py`` checks every one). The idle input and a bed played
through a real sound server: ``pytest -s tests/audio/test_capture_gate_levels.py``
(vinyl5 captured at -49.2..-47.3 dBFS RMS, as in the file).

============================================  ============  ===========
recording                                     RMS dBFS      peak dBFS
============================================  ============  ===========
real turntable beds (shared noise/vinyl, 1-s  -49.3..-27.5  >= -21.9
windows, 5 recordings)
same beds played 30 dB quieter                -79.3..-57.5  >= -51.9
idle input: PulseAudio null-sink monitor      -inf          -inf
(nothing playing; digital silence)
idle 16-bit converter, simulated (TPDF-      -96.3         -90.3
dithered zero; no real idle device here)
============================================  ============  ===========

Defaults: close below -72 dBFS RMS *and* -54 dBFS peak; open at 6 dB above
either. Every real groove-noise window above stays open even 30 dB quieter;
digital silence and a 16-bit idle floor close. A microphone's room noise is
usually above these levels and is not gated: by level alone it cannot be told
from a quiet record, and analysing it costs only time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vinylmon.audio.types import Window

DEFAULT_THRESHOLD_DB = -72.0
DEFAULT_PEAK_THRESHOLD_DB = -54.0
DEFAULT_HYSTERESIS_DB = 6.0


def peak_db(samples: np.ndarray) -> float:
    """Peak absolute sample in dB re full scale (-inf for silence).

    Parameters
    ----------
    samples : np.ndarray, any shape
    """
    if samples.size == 0:
        return float("-inf")
    peak = float(np.max(np.abs(samples)))
    return float(20.0 * np.log10(peak)) if peak > 0.0 else float("-inf")


class SilenceGate:
    """Mark windows silent or not, with hysteresis.

    Parameters
    ----------
    threshold_db : float, keyword-only
        RMS level (dBFS) below which a window may close the gate.
    peak_threshold_db : float, keyword-only
        Peak level (dBFS) below which a window may close the gate.
    hysteresis_db : float, keyword-only
        The gate opens again only when RMS or peak is this far above its threshold.

    Notes
    -----
    The gate starts open: a first window between the close and open levels is
    analysed rather than skipped.
    """

    def __init__(self, *, threshold_db: float = DEFAULT_THRESHOLD_DB,
                 peak_threshold_db: float = DEFAULT_PEAK_THRESHOLD_DB,
                 hysteresis_db: float = DEFAULT_HYSTERESIS_DB) -> None:
        if hysteresis_db < 0:
            raise ValueError(f"hysteresis_db must be >= 0, got {hysteresis_db}")
        self.threshold_db = float(threshold_db)
        self.peak_threshold_db = float(peak_threshold_db)
        self.hysteresis_db = float(hysteresis_db)
        self.silent = False

    def reset(self) -> None:
        """Forget the state (a new record)."""
        self.silent = False

    def update(self, *, level_db: float, peak_db: float) -> bool:
        """Feed one window's levels; return whether it is silent."""
        if self.silent:
            opens = bool(level_db >= self.threshold_db + self.hysteresis_db
                     or peak_db >= self.peak_threshold_db + self.hysteresis_db)
            self.silent = not opens
        else:
            self.silent = bool(level_db < self.threshold_db and peak_db < self.peak_threshold_db)
        return self.silent

    def __call__(self, window: Window) -> Window:
        """Return ``window`` with ``silent`` set."""
        silent = self.update(level_db=window.level_db, peak_db=peak_db(window.samples))
        return dataclasses.replace(window, silent=silent)

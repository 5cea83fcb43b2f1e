"""Training windows for the stereo wav2vec2 grader, mixed from the training music.

The windows of :class:`vinylmon.training.measure_data.MeasureWindows` (a fresh
5-s stretch of a training song, a noise bed of known level, -85..-10 dB re L,
of random make-up, crackle at 0.05-100 per second, clicks at 0-120 per minute,
wow, gaps, sometimes a microphone path), kept as audio with dense targets from
the simulator's exact truth: n re the window's level, log(1 + k), log(1 + c) and
the window's rubric grade (GRADING.md). The grader learns what the grade is made
of, not a grade label alone.

numpy/scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vinylmon.grading.rubric import GRADES
from vinylmon.training.measure_data import MeasureWindows


@dataclass(frozen=True)
class GraderWindow:
    """One damaged window and its exact quantities.

    ``audio`` ``(2, samples)`` float32 at 44.1 kHz; ``noise_db`` n re the window's
    RMS; ``noise_re_l_db`` n re L; ``crackle_per_s`` k; ``clicks_per_min`` c;
    ``grade`` the index in :data:`vinylmon.grading.rubric.GRADES` of the window's rubric grade.
    """

    audio: np.ndarray
    noise_db: float
    noise_re_l_db: float
    crackle_per_s: float
    clicks_per_min: float
    grade: int


class GraderWindows(MeasureWindows):
    """Random damaged 5-s windows with their exact quantities (module docstring)."""

    def window(self) -> GraderWindow:
        d, n_window = self.damaged()
        q = d.truth.quantities
        return GraderWindow(np.ascontiguousarray(d.audio, dtype=np.float32), n_window,
                            float(d.truth.surface_noise_db), float(q.crackle_per_s),
                            float(q.clicks_per_min), GRADES.index(d.truth.grade.grade))

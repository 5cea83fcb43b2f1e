"""A side's state made by hand (no models): windows with impulses through a Session."""

import pytest

from vinylmon.engine.session import Session
from vinylmon.grading.events import AnalysedWindow, Impulse
from vinylmon.grading.rubric import GRADES

#: Window level, dBFS: impulses at LEVEL + x dBFS are x dB re L.
LEVEL = -20.0
#: A repeating scratch at 33 1/3 rpm (1.8 s apart, in every channel), a click in
#: channel 0 and a crackle tick in channel 1.
SCRATCH_S = (0.5, 2.3, 4.1, 5.9, 7.7)
IMPULSES = (*(Impulse(t, t + 0.0005, None, LEVEL + 2.0, 0.9) for t in SCRATCH_S),
            Impulse(3.00012, 3.00051, 0, LEVEL + 5.0, 0.97),
            Impulse(6.54321, 6.54339, 1, LEVEL - 20.0, 0.61))


def windows_of(impulses=IMPULSES, *, seconds: int = 10, window_s: float = 5.0):
    out = []
    for i in range(int(seconds / window_s)):
        t0, t1 = i * window_s, (i + 1) * window_s
        out.append(AnalysedWindow(
            i, t0, t1, False, LEVEL, (0.6, 0.2, 0.1, 0.05, 0.05),
            tuple(1.0 / len(GRADES) for _ in GRADES), -55.0,
            tuple(imp for imp in impulses if t0 <= imp.start_s < t1), 0.01))
    return out


@pytest.fixture
def side_by_hand():
    """``side_by_hand(rpm=None, impulses=IMPULSES, learned_weight=0.0)``: ``(state,
    windows)`` of a 10-s side."""
    def make(rpm=None, impulses=IMPULSES, learned_weight=0.0):
        session = Session(rpm=rpm, learned_weight=learned_weight)
        for w in windows_of(impulses):
            session.add(w)
        return session.state(), session.windows
    return make

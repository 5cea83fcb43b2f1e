"""The session's quantities: k from the window measures when every window has them."""

import pytest

from vinylmon.engine.session import Session
from vinylmon.engine.types import AnalysedWindow, Impulse


def _window(i, *, k, impulses=(), length=5.0):
    return AnalysedWindow(i, 5.0 * i, 5.0 * i + length, False, -20.0, (0.2,) * 5, None,
                          -55.0, tuple(impulses), 0.01, k)


def test_k_is_the_duration_weighted_mean_of_the_windows_measures():
    s = Session()
    s.add(_window(0, k=2.0))
    s.add(_window(1, k=8.0, length=2.5))
    q = s.state().grade.quantities
    assert q.crackle_per_s == pytest.approx((2.0 * 5 + 8.0 * 2.5) / 7.5)
    assert q.analysed_s == pytest.approx(7.5)


def test_without_measures_k_is_counted_from_the_crackle_events():
    s = Session()
    faint = [Impulse(0.1 * j, 0.1 * j + 0.0005, 0, -20.0 - 30.0, 0.9) for j in range(1, 11)]
    s.add(_window(0, k=None, impulses=faint))
    s.add(_window(1, k=3.0))  # one window without measures: all counted
    q = s.state().grade.quantities
    assert q.crackle_per_s == pytest.approx(10 / 10.0)

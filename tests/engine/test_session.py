"""The session's quantities: k from the window measures when every window has them."""

import pytest

from vinylmon.engine.session import Session
from vinylmon.grading.events import AnalysedWindow, Impulse
from vinylmon.grading.measured import GROOVE_NOISE_SD_DB


def _window(i, *, k, impulses=(), length=5.0, noise_db=-55.0):
    return AnalysedWindow(i, 5.0 * i, 5.0 * i + length, False, -20.0, (0.2,) * 5, None,
                          noise_db, tuple(impulses), 0.01, k)


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


def _clicks(n, *, start_s=0.0, every_s=1.0):
    return [Impulse(start_s + every_s * j, start_s + every_s * j + 0.0005, 0, -20.0 + 5.0, 0.99)
            for j in range(n)]


def test_clicks_are_counted_net_of_the_detectors_false_rate_on_clean_music():
    """A minute of music with one click-loud event: a detector that finds 1.2 false
    events per minute on clean music has not shown a click; one that finds none has."""
    windows = [_window(i, k=0.0, impulses=_clicks(1, start_s=1.0) if i == 0 else [],
                       noise_db=-70.0) for i in range(12)]
    plain, net = Session(), Session(false_clicks_per_min=1.2)
    for w in windows:
        plain.add(w)
        net.add(w)
    a, b = plain.state(), net.state()
    assert a.grade.quantities.clicks_per_min == pytest.approx(1.0)
    assert a.grade.grade == "VG+"
    assert b.grade.quantities.clicks_per_min == 0.0 and b.grade.grade == "NM"
    assert len(b.events) == 1  # the event is still shown
    assert b.false_clicks_per_min == 1.2
    # the probabilities follow the count with its false events: NM more likely, not certain
    nm = 0
    assert b.grade.grade_probs[nm] > a.grade.grade_probs[nm]
    assert b.grade.grade_probs[nm] < 0.99


def test_a_damaged_record_keeps_its_clicks_net_of_the_false_rate():
    windows = [_window(i, k=0.0, impulses=_clicks(3, start_s=5.0 * i + 0.5))
               for i in range(12)]
    s = Session(false_clicks_per_min=1.2)
    for w in windows:
        s.add(w)
    q = s.state().grade.quantities
    assert q.clicks_per_min == pytest.approx(36.0 - 1.2)
    assert s.state().grade.grade == "G+"


def _groove(i, level_db):
    return AnalysedWindow(i, 5.0 * i, 5.0 * i + 5.0, False, level_db, (0.2,) * 5, None,
                          -75.0 - level_db, (), 0.01, 0.0, level_db)


def test_n_read_on_the_groove_is_graded_as_a_measurement():
    """Heard alone in the lead-in, the bed is measured, not estimated under the music:
    the grade's probabilities allow n the groove's spread, not the estimate's."""
    s = Session(noise_sd_db=8.9, crackle_sd_log=2.7)
    s.add(_groove(0, -64.0))  # the lead-in, 44 dB under the music
    for i in range(1, 7):
        s.add(_window(i, k=0.0))
    st = s.state()
    assert st.noise_db == pytest.approx(-44.0, abs=0.01)
    assert st.groove_s == pytest.approx(5.0)
    assert st.noise_sd_db == GROOVE_NOISE_SD_DB < 8.9
    assert st.crackle_sd_log == 0.0  # k counted in the groove: its count's spread alone
    assert st.grade.grade == "VG" and st.grade.limited_by == "surface_noise_db"
    # the same side without its lead-in: n is the estimate, with the estimate's spread
    s = Session(noise_sd_db=8.9, crackle_sd_log=2.7)
    for i in range(1, 7):
        s.add(_window(i, k=0.0))
    st = s.state()
    assert st.groove_s == 0.0 and st.noise_sd_db == 8.9 and st.crackle_sd_log == 2.7
    assert st.noise_db == pytest.approx(-55.0)

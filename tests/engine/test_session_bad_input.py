"""A session refuses settings that would grade wrongly."""

import pytest

from vinylmon.engine.session import Session
from vinylmon.grading.rubric import click_rate


@pytest.mark.parametrize("rate", [-0.1, float("nan"), float("inf"), 1e6])
def test_bad_false_click_rates(rate):
    with pytest.raises(ValueError, match="false_clicks_per_min"):
        Session(false_clicks_per_min=rate)


@pytest.mark.parametrize("kw, match", [({"noise_sd_db": -1.0}, "noise_sd_db"),
                                       ({"noise_sd_db": float("nan")}, "noise_sd_db"),
                                       ({"crackle_sd_log": -0.1}, "crackle_sd_log"),
                                       ({"crackle_sd_log": float("inf")}, "crackle_sd_log")])
def test_bad_measurement_spreads(kw, match):
    with pytest.raises(ValueError, match=match):
        Session(**kw)


@pytest.mark.parametrize("kw", [{"analysed_s": 0.0}, {"analysed_s": -1.0},
                                {"analysed_s": 60.0, "false_clicks_per_min": -1.0},
                                {"analysed_s": 60.0, "false_clicks_per_min": float("nan")}])
def test_click_rate_bad_input(kw):
    with pytest.raises(ValueError):
        click_rate(3, **kw)


def test_click_rate_is_never_negative():
    assert click_rate(0, 60.0, false_clicks_per_min=2.0) == 0.0
    assert click_rate(6, 120.0, false_clicks_per_min=1.0) == pytest.approx(2.0)

"""``/live``: a stream of samples over the WebSocket comes back as analysed windows
(events, the window's likelihoods, the grade so far), from a Python client speaking
the page's protocol and from the page itself in headless Chromium, whose fake
microphone plays a WAV with clicks (a screenshot is kept at /tmp/serve_live.png)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from vinylmon.simulate import ClickSpec, DamageSpec, simulate, synthetic_music

websockets_sync = pytest.importorskip("websockets.sync.client",
                                      reason="vinylmon[serve] without websockets")
SR = 44100
SCREENSHOT = "/tmp/serve_live.png"


@pytest.fixture(scope="module")
def clicked_music():
    x = synthetic_music(np.random.default_rng(17), 12.0)
    d = simulate(x, DamageSpec(seed=6, clicks=ClickSpec(rate_per_min=40.0, peak_db=(8.0, 14.0),
                                                        pop_fraction=0.0)))
    return d.audio.astype(np.float32)


def _stream(url: str, audio: np.ndarray, *, rate: int = SR, hello=None) -> list[dict]:
    """Send ``audio`` as the page does (hello, 0.1-s binary messages, stop); every
    message the server sent back, to its end."""
    got = []
    with websockets_sync.connect(url, open_timeout=30, close_timeout=30) as ws:
        ws.send(json.dumps(hello if hello is not None else {"sample_rate": rate,
                                                              "channels": audio.shape[0]}))
        step = rate // 10
        frames = np.ascontiguousarray(audio.T)
        for a in range(0, frames.shape[0], step):
            ws.send(frames[a:a + step].astype("<f4").tobytes())
        ws.send(json.dumps({"stop": True}))
        try:
            while True:
                m = json.loads(ws.recv(timeout=120))
                got.append(m)
                if m["type"] in ("end", "error"):
                    break
        except Exception as exc:  # closed by the server
            if not got:
                raise AssertionError(f"the server closed without a word: {exc!r}") from exc
    return got


def test_a_stream_comes_back_as_windows_with_events_and_a_grade(serve, clicked_music):
    with serve() as s:
        url = s.url.replace("http://", "ws://") + "/api/live"
        got = _stream(url, clicked_music)
    windows = [m for m in got if m["type"] == "window"]
    assert got[-1]["type"] == "end"
    assert [round(w["start_s"]) for w in windows] == [0, 5, 10]  # the last one short
    events = [e for w in windows for e in w["events"]]
    assert len(events) >= 3 and {e["kind"] for e in events} <= {"click", "pop", "crackle",
                                                                 "scratch"}
    last = windows[-1]
    assert last["grade"]["grade"] in last["grade"]["probs"]
    assert abs(sum(last["grade"]["probs"].values()) - 1) < 1e-3
    assert abs(sum(windows[0]["classes"].values()) - 1) < 1e-3
    assert last["heard_s"] == pytest.approx(12.0, abs=0.05)


def test_a_48_khz_mono_stream_is_heard_too(serve, clicked_music):
    import soxr

    mono = soxr.resample(clicked_music[0], SR, 48000)[None].astype(np.float32)
    with serve() as s:
        got = _stream(s.url.replace("http://", "ws://") + "/api/live", mono[:, :48000 * 6],
                      rate=48000)
    windows = [m for m in got if m["type"] == "window"]
    assert len(windows) == 2 and windows[0]["grade"] is not None


def test_the_page_listens_to_the_browsers_microphone(serve, tmp_path, clicked_music):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    driver_path = shutil.which("chromedriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if driver_path is None or binary is None:
        pytest.skip("headless Chromium needs Debian's chromium and chromium-driver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wav = tmp_path / "mic.wav"
    sf.write(wav, clicked_music.T, SR, subtype="PCM_16")
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                f"--use-file-for-fake-audio-capture={wav}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        with serve() as s:
            driver.get(s.url + "/live")
            assert "listen live" in driver.title
            driver.find_element(By.ID, "start").click()
            wait = WebDriverWait(driver, 120)
            wait.until(lambda d: int(d.find_element(By.ID, "windows").text) >= 2)
            grade = driver.find_element(By.ID, "grade")
            assert grade.get_attribute("data-grade") in ("NM", "VG+", "VG", "G+", "G", "F")
            assert int(driver.find_element(By.ID, "event-count").text) >= 1
            assert driver.find_element(By.ID, "reason").text
            driver.save_screenshot(SCREENSHOT)
            driver.find_element(By.ID, "stop").click()
            wait.until(lambda d: d.find_element(By.ID, "start").is_enabled())
    finally:
        driver.quit()

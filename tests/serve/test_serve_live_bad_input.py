"""``/api/live`` refuses what it cannot hear with a JSON error message, never a traceback,
and stays up; with a token set, a stream without it is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

websockets_sync = pytest.importorskip("websockets.sync.client",
                                      reason="vinylmon[serve] without websockets")
from websockets.exceptions import InvalidStatus, WebSocketException  # noqa: E402


def _answer(url: str, *messages) -> dict:
    with websockets_sync.connect(url, open_timeout=30) as ws:
        for m in messages:
            ws.send(m)
        return json.loads(ws.recv(timeout=60))


@pytest.mark.parametrize("hello, words", [
    ("hello", "first message"),
    (json.dumps({"sample_rate": 3000, "channels": 2}), "sample_rate"),
    (json.dumps({"sample_rate": 44100.5, "channels": 2}), "sample_rate"),
    (json.dumps({"sample_rate": 44100, "channels": 6}), "channels"),
    (json.dumps([44100, 2]), "first message"),
])
def test_a_bad_hello_is_refused(serve, hello, words):
    with serve() as s:
        m = _answer(s.url.replace("http://", "ws://") + "/api/live", hello)
        assert m["type"] == "error" and words in m["message"]
        assert "Traceback" not in m["message"]
        assert s.get("/api/health").status == 200


@pytest.mark.parametrize("frames, words", [
    (b"\x00\x00\x80", "whole frames"),
    (np.array([[np.nan, 0.0]] * 100, "<f4").tobytes(), "NaN"),
    (np.zeros((44100 * 3, 2), "<f4").tobytes(), "more than 2 s"),
])
def test_broken_audio_ends_the_stream_with_a_reason(serve, frames, words):
    with serve() as s:
        url = s.url.replace("http://", "ws://") + "/api/live"
        m = _answer(url, json.dumps({"sample_rate": 44100, "channels": 2}), frames)
        assert m["type"] == "error" and words in m["message"]
        # the server goes on: a good stream afterwards is heard
        good = _answer(url, json.dumps({"sample_rate": 44100, "channels": 2}),
                       (0.1 * np.random.default_rng(1).standard_normal((44100, 2)))
                       .astype("<f4").tobytes(), json.dumps({"stop": True}))
        assert good["type"] in ("window", "end")


def test_a_token_is_required_when_set(serve):
    with serve(token="s3cret") as s:
        url = s.url.replace("http://", "ws://") + "/api/live"
        with pytest.raises((InvalidStatus, WebSocketException, ConnectionError, OSError)):
            _answer(url, json.dumps({"sample_rate": 44100, "channels": 2}))
        m = _answer(url + "?token=s3cret", "not json")
        assert m["type"] == "error"

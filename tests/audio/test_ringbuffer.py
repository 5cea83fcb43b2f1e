"""RingBuffer: exact data across wrap-around, overflow accounting, read-only output."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vinylmon.audio.ringbuffer import RingBuffer


def _frames(start: int, n: int, channels: int) -> np.ndarray:
    """Frame-major test data whose values encode (frame index, channel), exact in float32."""
    idx = (np.arange(start, start + n) % 65536).astype(np.float32)[:, None]
    ch = np.arange(channels, dtype=np.float32)[None, :] / 8.0
    return idx + ch


def _expected(start: int, n: int, channels: int) -> np.ndarray:
    return _frames(start, n, channels).T


def test_write_read_exact_across_wraparound() -> None:
    rb = RingBuffer(10, 2)
    assert rb.write(_frames(0, 7, 2)) == 7
    np.testing.assert_array_equal(rb.read(5), _expected(0, 5, 2))
    # write pointer wraps: 7..9 then 0..5
    assert rb.write(_frames(7, 8, 2)) == 8
    assert rb.available == 10 and rb.free == 0
    out = rb.read()  # read pointer wraps too
    assert out.shape == (2, 10)
    np.testing.assert_array_equal(out, _expected(5, 10, 2))
    assert rb.frames_written == 15 and rb.frames_read == 15 and rb.dropped_frames == 0


def test_seeded_random_sizes_stream_is_exact() -> None:
    rng = np.random.default_rng(12345)
    channels, capacity = 3, 257
    rb = RingBuffer(capacity, channels)
    next_w = next_r = dropped = 0
    for _ in range(3000):
        if rng.random() < 0.5:
            n = int(rng.integers(0, 100))
            stored = rb.write(_frames(next_w, n, channels))
            assert stored == min(n, capacity - (next_w - next_r))
            # the newest frames were dropped; the next write continues after the
            # ones stored, so the stored stream stays contiguous for the check
            dropped += n - stored
            next_w += stored
        else:
            m = int(rng.integers(0, 120))
            out = rb.read(m)
            n = min(m, next_w - next_r)
            assert out.shape == (channels, n)
            np.testing.assert_array_equal(out, _expected(next_r, n, channels))
            next_r += n
        assert rb.available == next_w - next_r
        assert 0 <= rb.available <= capacity
    assert rb.frames_written == next_w and rb.frames_read == next_r
    assert rb.dropped_frames == dropped > 0


def test_overflow_keeps_oldest_and_counts_dropped() -> None:
    rb = RingBuffer(8, 1)
    assert rb.write(_frames(0, 5, 1)) == 5
    assert rb.write(_frames(5, 6, 1)) == 3  # 3 fit, 3 newest dropped
    assert rb.dropped_frames == 3
    assert rb.write(_frames(11, 4, 1)) == 0  # full: everything dropped
    assert rb.dropped_frames == 7
    np.testing.assert_array_equal(rb.read(), _expected(0, 8, 1))  # the oldest 8 survive
    assert rb.write(_frames(100, 2, 1)) == 2
    np.testing.assert_array_equal(rb.read(), _expected(100, 2, 1))
    assert rb.frames_written == 10 and rb.dropped_frames == 7


def test_output_is_read_only_copy_and_float32() -> None:
    rb = RingBuffer(4, 2)
    rb.write(_frames(0, 3, 2))
    out = rb.read()
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0, 0] = 1.0
    # the slots are reused; the returned block must not change
    rb.write(_frames(50, 4, 2))
    np.testing.assert_array_equal(out, _expected(0, 3, 2))
    empty = rb.read(0)
    assert empty.shape == (2, 0) and not empty.flags.writeable


def test_input_not_aliased() -> None:
    rb = RingBuffer(4, 1)
    data = _frames(0, 2, 1)
    rb.write(data)
    data[:] = -1.0  # PortAudio reuses its buffer after the callback
    np.testing.assert_array_equal(rb.read(), _expected(0, 2, 1))


@pytest.mark.parametrize(
    ("capacity", "channels", "exc"),
    [(0, 1, ValueError), (4, 0, ValueError), (-1, 2, ValueError), (4.0, 1, TypeError)],
)
def test_bad_construction(capacity: object, channels: object, exc: type) -> None:
    with pytest.raises(exc):
        RingBuffer(capacity, channels)  # type: ignore[arg-type]


def test_bad_shapes() -> None:
    rb = RingBuffer(4, 2)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        rb.write(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError):
        rb.write(np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        rb.read(-1)


def test_threaded_producer_consumer_is_exact() -> None:
    """One writer thread, one reader thread, no lock: the stream arrives intact."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 300, size=1000)
    total = int(sizes.sum())
    stream = rng.standard_normal((total, 2)).astype(np.float32)
    rb = RingBuffer(1000, 2)
    received: list[np.ndarray] = []

    def produce() -> None:
        pos = 0
        for n in sizes:
            chunk = stream[pos : pos + int(n)]
            done = 0
            while done < n:  # never drop here: wait for room
                stored = rb.write(chunk[done:])
                done += stored
                if not stored:
                    time.sleep(0)  # let the reader run
            pos += int(n)

    t = threading.Thread(target=produce)
    t.start()
    got = 0
    while got < total:
        out = rb.read(int(rng.integers(1, 500)))
        received.append(out)
        got += out.shape[1]
        if not out.shape[1]:
            time.sleep(0)  # let the writer run
    t.join(10)
    assert not t.is_alive()
    np.testing.assert_array_equal(np.concatenate(received, axis=1), stream.T)

"""The prefetch thread (the file reader of Engine.grade_file, training batches):
order, errors, early exit."""

from __future__ import annotations

import threading
import time

import pytest

from vinylmon.errors import AudioFileError
from vinylmon.models.device import prefetched


def test_items_arrive_in_order_and_the_thread_ends():
    got = list(prefetched(iter(range(50)), depth=2))
    assert got == list(range(50))
    assert not any(t.name == "vinylmon-prefetch" for t in threading.enumerate())


def test_the_reader_runs_at_most_depth_ahead():
    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    it = prefetched(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.3)
    # one taken, two queued, one more waiting to be put
    assert len(produced) <= 4
    it.close()


def test_an_error_in_the_source_is_raised_where_it_happened():
    def items():
        yield 1
        yield 2
        raise AudioFileError("side.flac", "read failed at 10.00 s")

    it = prefetched(items(), depth=2)
    assert [next(it), next(it)] == [1, 2]
    with pytest.raises(AudioFileError, match="read failed"):
        next(it)


def test_leaving_early_stops_the_reader():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    for i in prefetched(endless(), depth=2):
        if i == 3:
            break
    time.sleep(0.2)
    assert not any(t.name == "vinylmon-prefetch" for t in threading.enumerate())

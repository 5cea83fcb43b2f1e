"""Where models run: CUDA when there is a GPU, CPU otherwise, or what the user says."""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import threading
from collections.abc import Iterable, Iterator

import torch

from vinylmon.errors import VinylmonError


def select_device(override: str | None = None) -> torch.device:
    """The device to run models on.

    Parameters
    ----------
    override : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or None/``"auto"`` (CUDA when
        ``torch.cuda.is_available()``, else CPU).

    Raises
    ------
    VinylmonError
        An unknown device name, or CUDA asked for where there is none.
    """
    if override in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(override)
    except (RuntimeError, TypeError) as exc:
        raise VinylmonError(f"unknown device {override!r}: use auto, cpu or cuda") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise VinylmonError(f"device {override!r} asked for, but this machine has no "
                                "usable CUDA GPU; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise VinylmonError(f"device {override!r}: there are only "
                                f"{torch.cuda.device_count()} CUDA devices")
    elif dev.type != "cpu":
        raise VinylmonError(f"device {override!r} is not supported: use auto, cpu or cuda")
    return dev


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[int]:
    """Run the models with ``count`` intra-op CPU threads inside the block.

    None: as they are. The number in force before is restored on leaving.
    Yields the number in force inside.
    """
    before = torch.get_num_threads()
    if count is None or count == before:
        yield before
        return
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)


def threads_beside_reader() -> int:
    """Intra-op threads for the models while a reader thread decodes beside them.

    One core is left to the reader (decoding, resampling, the numpy work of
    each window, the learned grader). On 2 cores that is one thread for the
    detector, which is also what keeps it fast when other processes share the
    machine. Measured on the 2-core VM (in one process, alternating), the
    20-minute bench side took 12.1-14.0 s this way and 15.6-16.2 s with the
    reader's work in line and two model threads; with the machine loaded by
    another job, a 5-minute side took 4.5-5.1 s this way, 11-13 s with two
    model threads beside the reader and 6-9 s with no reader thread.
    """
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1))


#: glibc mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Let the C allocator reuse the models' freed buffers instead of unmapping them.

    A detector call allocates tensors of several MB; glibc's malloc serves those
    with fresh ``mmap`` pages and returns them on free, so every window paid
    the page faults of zeroing them again. Here allocations up to 256 MB come
    from the heap and up to 512 MB of free heap is kept for the next window.
    Peak memory of grading stays the same (the 20-minute bench side: 740-752 MB
    with, 727-751 MB without), and grading it took 9.2-10.9 s with, 11.3-14.2 s
    without (alternating runs on the 2-core VM). The live monitor does not ask
    for it: there the kept memory showed (the hour's soak at 858-957 MB instead
    of 599-709 MB) and nothing needed the speed. Once per process; returns
    whether it applied (False off glibc, e.g. macOS or musl: nothing changes).
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        try:
            libc = ctypes.CDLL("libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return False
        _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20)
                                and mallopt(_M_TRIM_THRESHOLD, 512 << 20))
    return _allocator_tuned


def prefetched(items: Iterable, *, depth: int, name: str = "vinylmon-prefetch") -> Iterator:
    """Iterate ``items`` on a thread of its own, at most ``depth`` items ahead.

    Decoding, resampling and the numpy work on each window (or on each training
    batch) then overlap with the models (which release the GIL). An exception in
    ``items`` is raised here, where it would have been; leaving the loop early
    stops the thread (named ``name``).
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((done, exc))
            return
        put((done, None))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()

"""Device selection: CUDA when present, CPU otherwise, overrides checked."""

import platform

import pytest
import torch

from vinylmon.errors import VinylmonError
from vinylmon.models.device import (
    cpu_threads,
    keep_freed_memory,
    select_device,
    threads_beside_reader,
)


def test_auto():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected
    assert select_device("auto").type == expected


def test_cpu_override():
    assert select_device("cpu") == torch.device("cpu")


def test_bad_names():
    with pytest.raises(VinylmonError, match="unknown device"):
        select_device("gpu please")
    with pytest.raises(VinylmonError, match="not supported"):
        select_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(VinylmonError, match="no usable CUDA"):
        select_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_when_present():
    assert select_device("cuda").type == "cuda"
    with pytest.raises(VinylmonError, match="only"):
        select_device(f"cuda:{torch.cuda.device_count()}")


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    with cpu_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None) as n:
        assert n == before
    with pytest.raises(ValueError):
        with cpu_threads(0):
            pass
    assert torch.get_num_threads() == before
    assert 1 <= threads_beside_reader() <= before


def test_keep_freed_memory_is_applied_once_and_says_so():
    first = keep_freed_memory()
    assert keep_freed_memory() is first  # once per process, same answer
    if platform.libc_ver()[0] == "glibc":  # Debian, Ubuntu: applied
        assert first is True

"""Vinyl damage simulator: realistic defects on clean music, with exact truth.

numpy/scipy only, seeded, no torch. Compose a :class:`DamageSpec` (or draw one
with :func:`random_spec`), call :func:`simulate`, get the damaged audio, the clean
reference and a :class:`Truth` in the terms of GRADING.md.
"""

from vinylmon.simulate.core import (
    CLICK_FLOOR_DB,
    COUNT_FLOOR_DB,
    Damaged,
    Impulse,
    ScratchTruth,
    SkipTruth,
    Truth,
    program_level,
    simulate,
)
from vinylmon.simulate.music import synthetic_music
from vinylmon.simulate.noise import NoiseBank, find_impulses
from vinylmon.simulate.spec import (
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    MicSpec,
    NoiseSpec,
    ScratchSpec,
    SkipSpec,
    WowSpec,
    random_spec,
)

__all__ = [
    "CLICK_FLOOR_DB", "COUNT_FLOOR_DB", "ClickSpec", "CrackleSpec", "DamageSpec", "Damaged",
    "Impulse", "MicSpec", "NoiseBank", "NoiseSpec", "ScratchSpec", "ScratchTruth", "SkipSpec",
    "SkipTruth", "Truth", "WowSpec", "find_impulses", "program_level", "random_spec", "simulate",
    "synthetic_music",
]

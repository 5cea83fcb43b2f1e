"""Audio layer: recordings and live input turned into analysis windows.

Knows numpy, soundfile, soxr and sounddevice; never Qt, and never torch except in
:mod:`vinylmon.audio.frontend`, which this package does not import.
"""

from vinylmon.audio.gate import SilenceGate, peak_db
from vinylmon.audio.io import (
    AudioInfo,
    BlockResampler,
    audio_info,
    load,
    read_blocks,
    resample,
)
from vinylmon.audio.types import ANALYSIS_RATE, MAX_CHANNELS, AudioBlock, Window, rms_db
from vinylmon.audio.windowing import DEFAULT_WINDOW_S, Windower, file_windows, windows_from_blocks

__all__ = [
    "ANALYSIS_RATE", "MAX_CHANNELS", "DEFAULT_WINDOW_S",
    "AudioBlock", "AudioInfo", "BlockResampler", "Window", "SilenceGate", "Windower",
    "audio_info", "file_windows", "load", "peak_db", "read_blocks", "resample", "rms_db",
    "windows_from_blocks",
]

"""The silence gate on real captured input: an idle input closes it, a real
turntable bed played through the sound server never does. Prints the levels
(they are the measurements quoted in vinylmon/audio/gate.py)."""

import time

import numpy as np
import pytest

from vinylmon.audio import BlockResampler, SilenceGate, Windower, peak_db
from vinylmon.audio.capture import LiveCapture


def capture_windows(cap, resampler, windower, seconds):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        block = cap.read(0.2)
        if block is not None and (block := resampler.push(block)) is not None:
            out.extend(windower.push(block))
    return out


@pytest.mark.pulse
def test_idle_input_is_gated_and_real_groove_noise_is_not(pulse, noise_dir):
    bed = sorted((noise_dir / "vinyl").glob("vinyl5*.flac"))[0]  # the quietest real bed
    # capture at 48 kHz: the live path resamples to the analysis rate like any file
    with LiveCapture("pulse", sample_rate=48000, channels=2) as cap:
        assert cap.read(5.0) is not None
        resampler = BlockResampler(cap.sample_rate, cap.channels)
        windower = Windower(resampler.out_rate, 2, window_s=1.0)
        idle = capture_windows(cap, resampler, windower, 3.0)
        player = pulse.play(bed)
        played = capture_windows(cap, resampler, windower, 6.0)
        player.wait(timeout=20)
    assert resampler.out_rate == 44100
    assert len(idle) >= 2 and len(played) >= 4
    gate = SilenceGate()
    idle_states = [gate(w).silent for w in idle]
    # skip the window where playback starts; judge the windows fully inside the bed
    inside = [w for w in played[1:-1] if w.level_db > -200]
    played_states = [gate(w).silent for w in inside]
    print(f"\n[gate levels] idle input: RMS {max(w.level_db for w in idle):.1f} dBFS, "
          f"peak {max(peak_db(w.samples) for w in idle):.1f} dBFS; "
          f"{bed.name} through the sink: RMS "
          f"{min(w.level_db for w in inside):.1f}..{max(w.level_db for w in inside):.1f} dBFS")
    assert all(idle_states), idle_states
    assert inside and not any(played_states), [(w.start_s, w.level_db) for w in inside]
    assert np.isfinite([w.level_db for w in inside]).all()

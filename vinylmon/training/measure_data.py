"""Training windows for the window measures (n and k), mixed from the training music.

Each example is a fresh 5-s window of a training song (random stereo width,
sometimes drums, sometimes a gap where the music falls 30-70 dB for a while, as
between tracks) with a noise bed drawn uniformly in level from -85 to -10 dB re
L, of random make-up (shaped hiss, rumble, hum, real turntable beds; a quarter of
the time a real bed alone), plus
clicks, crackle, wow and sometimes a microphone path, damaged by the simulator.
The targets are the simulator's exact n, re the window's own level (what
:func:`vinylmon.audio.noisefloor.noise_features` is measured against), and its
exact k (crackle per second), for which crackle rates are drawn log-uniformly
over 0.05-100 per second.

numpy/scipy only.
"""

from __future__ import annotations

import numpy as np

from vinylmon.audio.noisefloor import window_features
from vinylmon.simulate import (
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    MicSpec,
    NoiseSpec,
    WowSpec,
    simulate,
)
from vinylmon.training.verifier_data import SR, SceneMaker

WINDOW_S = 5.0
LEVEL_RANGE_DB = (-85.0, -10.0)
#: Share of windows whose whole bed is a real turntable recording (when there are
#: any): the shipped noise head, trained where hiss leads, read a real bed alone 18-30 dB
#: too quiet (at -50 and -35 dB re L). Windows made before it (measures 1.0) had none.
REAL_BED_ALONE = 0.25
#: Share of windows whose hiss is the same in both channels (a mono bed: nothing of it in
#: the side signal, where the noise head looked; two of the five real beds are mono);
#: otherwise the channels share 0-95 % of it. Windows made before it: always 30 %.
MONO_HISS = 0.25


class MeasureWindows(SceneMaker):
    """Random damaged 5-s windows with their exact n and k (see the module docstring)."""

    def __init__(self, songs, drums, bank, *, seed: int):
        super().__init__(songs, drums, bank, seed=seed, segment_s=WINDOW_S, chunk_s=20.0,
                         reuse=3)

    def _gap(self, x: np.ndarray) -> np.ndarray:
        rng = self.rng
        if rng.random() < 0.2:
            n = x.shape[1]
            length = int(rng.uniform(0.5, 3.0) * SR)
            at = int(rng.integers(0, max(1, n - length)))
            fade = np.ones(n)
            ramp = int(0.05 * SR)
            fade[at:at + length] = 10 ** (-rng.uniform(30, 70) / 20)
            fade = np.convolve(fade, np.ones(ramp) / ramp, mode="same")
            x = x * fade
        return x

    def noise_spec(self, level_db: float) -> DamageSpec:
        rng = self.rng
        real = self.bank is not None and self.bank.available
        if real and rng.random() < REAL_BED_ALONE:
            comps = ["bed"]
        else:
            comps = ["hiss"] + [c for c in ("rumble", "hum", "bed") if rng.random() < 0.3]
            if not real and "bed" in comps:
                comps.remove("bed")
        w = rng.dirichlet(np.ones(len(comps)) * 1.5)
        lv = {c: level_db + 10 * np.log10(max(wi, 1e-3)) for c, wi in zip(comps, w, strict=True)}
        noise = NoiseSpec(
            hiss_db=lv.get("hiss"), hiss_shape="real" if real and rng.random() < 0.5 else "tilt",
            hiss_tilt_db_per_oct=float(rng.uniform(-4.5, 0.0)),
            hiss_correlation=1.0 if rng.random() < MONO_HISS else float(rng.uniform(0.0, 0.95)),
            rumble_db=lv.get("rumble"), rumble_hz=float(rng.uniform(8, 30)),
            hum_db=lv.get("hum"), hum_hz=float(rng.choice([50.0, 60.0])),
            hum_real=bool(real and rng.random() < 0.4), real_bed_db=lv.get("bed"))
        clicks = ClickSpec(rate_per_min=float(rng.choice([0.0, rng.uniform(0, 120)])))
        crackle = CrackleSpec()
        if rng.random() < 0.75:
            crackle = CrackleSpec(rate_per_s=float(np.exp(rng.uniform(np.log(0.05), np.log(100)))),
                                  peak_db=(float(rng.uniform(-48, -35)),
                                           float(rng.uniform(-16, -11))),
                                  stereo_fraction=float(rng.uniform(0.4, 0.95)))
        wow = WowSpec(wow_depth=float(rng.uniform(0, 0.002))) if rng.random() < 0.3 else WowSpec()
        mic = None
        if real and rng.random() < 0.2:
            mic = MicSpec(rt60_s=float(rng.uniform(0.15, 0.6)), wet_db=float(rng.uniform(-22, -8)),
                          room_noise_db=float(rng.uniform(-70, -40)))
        return DamageSpec(seed=int(rng.integers(0, 2**31 - 1)), clicks=clicks, crackle=crackle,
                          noise=noise, wow=wow, mic=mic,
                          output_level_dbfs=float(rng.uniform(-35, -12)))

    def example(self) -> tuple[np.ndarray, float, float, float]:
        """(features, n re the window's level, n re L, k) of one fresh window: the
        noise-floor features then the impulse features; k is the exact crackle per
        second (GRADING.md's: impulses under L - 10 dB, down to L - 50 dB)."""
        d, n_window = self.damaged()
        return (window_features(d.audio), n_window, float(d.truth.surface_noise_db),
                float(d.truth.quantities.crackle_per_s))

    def damaged(self):
        """A fresh damaged window (the simulator's result, with its truth) and its exact
        n re the window's own level."""
        while True:
            x = self._gap(self._dress(self._music()))
            level = float(self.rng.uniform(*LEVEL_RANGE_DB))
            try:
                d = simulate(x, self.noise_spec(level), sample_rate=SR, bank=self.bank)
            except ValueError:
                continue
            n = d.truth.surface_noise_db
            if not np.isfinite(n):
                continue
            a = d.audio.astype(np.float64)
            window_db = 10 * np.log10(max(float(np.mean(a ** 2)), 1e-20))
            return d, float(n + d.truth.program_level_dbfs - window_db)

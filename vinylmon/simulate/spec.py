"""Parameters of simulated damage: what to add, how much, where.

A :class:`DamageSpec` plus its seed determines the damaged audio exactly. All
levels are dB re the program level L of GRADING.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vinylmon.grading.rubric import CLICK_LIMITS, CRACKLE_LIMITS, GRADES, NOISE_LIMITS, RPMS


@dataclass(frozen=True, slots=True)
class ClickSpec:
    """Clicks and pops. ``rate_per_min`` is the Poisson rate of clicks and pops."""

    rate_per_min: float = 0.0
    peak_db: tuple[float, float] = (-12.0, 20.0)
    pop_fraction: float = 0.15
    stereo_fraction: float = 0.5


@dataclass(frozen=True, slots=True)
class CrackleSpec:
    """Dense low-level crackle ticks (Poisson, 0.2-100 per second)."""

    rate_per_s: float = 0.0
    peak_db: tuple[float, float] = (-45.0, -12.0)
    stereo_fraction: float = 0.7


@dataclass(frozen=True, slots=True)
class ScratchSpec:
    """A repeating scratch: one tick per revolution.

    ``speed_error`` is the fractional turntable speed error (+-0.02), ``drift`` the
    fractional random period variation from revolution to revolution (wow).
    """

    start_s: float
    revolutions: int
    peak_db: float
    rpm: float = 100.0 / 3.0
    speed_error: float = 0.0
    drift: float = 0.002
    stereo: bool = False


@dataclass(frozen=True, slots=True)
class NoiseSpec:
    """The non-impulsive bed; each component's RMS in dB re L (None = absent).

    ``hiss_shape`` is ``real`` (mean spectrum of the real beds) or ``tilt``.
    ``real_bed_db`` is the level of tiled real turntable recordings (their
    non-impulsive part); their impulses join the truth as crackle.
    """

    hiss_db: float | None = None
    hiss_shape: str = "tilt"
    hiss_tilt_db_per_oct: float = -3.0
    #: Share of the hiss common to both channels (1: a mono bed, none of it in L - R).
    hiss_correlation: float = 0.3
    rumble_db: float | None = None
    rumble_hz: float = 20.0
    hum_db: float | None = None
    hum_hz: float = 50.0
    hum_real: bool = False
    real_bed_db: float | None = None


@dataclass(frozen=True, slots=True)
class WowSpec:
    wow_depth: float = 0.0
    wow_hz: float = 0.5556
    flutter_depth: float = 0.0
    flutter_hz: float = 8.0


@dataclass(frozen=True, slots=True)
class SkipSpec:
    """The stylus jumps at ``time_s``: ``repeat`` (falls back a groove) or ``jump``."""

    time_s: float
    kind: str = "repeat"
    repeats: int = 1
    rpm: float = 100.0 / 3.0


@dataclass(frozen=True, slots=True)
class MicSpec:
    """Playback picked up by a microphone in a room."""

    rt60_s: float = 0.3
    wet_db: float = -14.0
    room_noise_db: float = -50.0


@dataclass(frozen=True, slots=True)
class DamageSpec:
    """Everything the simulator adds to one excerpt. Default: nothing (clean)."""

    seed: int = 0
    clicks: ClickSpec = field(default_factory=ClickSpec)
    crackle: CrackleSpec = field(default_factory=CrackleSpec)
    scratches: tuple[ScratchSpec, ...] = ()
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    wow: WowSpec = field(default_factory=WowSpec)
    skips: tuple[SkipSpec, ...] = ()
    mic: MicSpec | None = None
    output_level_dbfs: float = -20.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- random specs
def _in_band(rng: np.random.Generator, limits: tuple[float, ...], grade: int, *,
             floor: float, ceil: float) -> float:
    """A value inside grade ``grade``'s band of a limit table (index into GRADES)."""
    lo = floor if grade == 0 else limits[grade - 1]
    hi = limits[grade] if grade < len(limits) else ceil
    return float(rng.uniform(lo, hi))


def random_spec(rng: np.random.Generator, *, duration_s: float, grade: str | None = None,
                limited_by: str | None = None, real_noise: bool = True,
                mic_probability: float = 0.3) -> DamageSpec:
    """Draw a diverse damage spec, aimed at a grade.

    The target grade (uniform if None) is reached through one limiting criterion
    (clicks, crackle, noise, scratch or skip; random among those that can give
    that grade, or ``limited_by``); every other criterion is drawn at that grade
    or better. Rates are Poisson, so the realised grade (the label, computed from
    the truth) can differ near the boundaries.

    Parameters
    ----------
    rng : np.random.Generator
    duration_s : float, keyword-only
        Length of the excerpt (skips and scratches are placed inside it).
    grade : str or None, keyword-only
    limited_by : str or None, keyword-only
        One of ``clicks``, ``crackle``, ``noise``, ``scratch``, ``skip``.
    real_noise : bool, keyword-only
        Whether real recordings (beds, hum, rooms) may be used.
    mic_probability : float, keyword-only
    """
    g = GRADES.index(grade) if grade is not None else int(rng.integers(0, len(GRADES)))
    options = ["clicks", "crackle", "noise"] if g > 0 else ["none"]
    if GRADES[g] in ("VG", "G+"):
        options.append("scratch")
    if GRADES[g] == "F":
        options.append("skip")
    crit = limited_by if limited_by is not None else str(rng.choice(options))

    def better(limit_grade: int) -> int:
        return int(rng.integers(0, limit_grade + 1))

    rpm = float(rng.choice(RPMS, p=[0.7, 0.25, 0.05]))
    click_grade = g if crit == "clicks" else better(g)
    crackle_grade = g if crit == "crackle" else better(g)
    noise_grade = g if crit == "noise" else better(g)
    clicks_pm = _in_band(rng, CLICK_LIMITS, click_grade, floor=0.0, ceil=250.0)
    if click_grade == 0 and rng.random() < 0.7:
        clicks_pm = 0.0
    crackle_ps = _in_band(rng, CRACKLE_LIMITS, crackle_grade, floor=0.0, ceil=100.0)
    if crackle_grade == 0 and rng.random() < 0.7:
        crackle_ps = 0.0
    noise_db = _in_band(rng, NOISE_LIMITS, noise_grade, floor=-80.0, ceil=-15.0)

    # split the noise power among the components present
    comps = ["hiss"] + [c for c in ("rumble", "hum", "bed") if rng.random() < 0.35]
    if not real_noise and "bed" in comps:
        comps.remove("bed")
    weights = rng.dirichlet(np.ones(len(comps)) * 1.5)
    weights[0] += 0.3  # hiss leads
    weights /= weights.sum()
    level = {c: noise_db + 10 * np.log10(w) for c, w in zip(comps, weights, strict=True)}
    noise = NoiseSpec(
        hiss_db=level["hiss"],
        hiss_shape="real" if (real_noise and rng.random() < 0.6) else "tilt",
        hiss_tilt_db_per_oct=float(rng.uniform(-4.5, -1.0)),
        rumble_db=level.get("rumble"), rumble_hz=float(rng.uniform(8, 30)),
        hum_db=level.get("hum"), hum_hz=float(rng.choice([50.0, 60.0])),
        hum_real=bool(real_noise and rng.random() < 0.4),
        real_bed_db=level.get("bed"))

    scratches: list[ScratchSpec] = []
    period = 60.0 / rpm
    if crit == "scratch" or (g >= GRADES.index("G+") and rng.random() < 0.3):
        if GRADES[g] == "VG":
            n_scr, peaks = 1, [float(rng.uniform(-22, -6.5))]
        else:
            n_scr = int(rng.integers(1, 3))
            peaks = [float(rng.uniform(-6, 12)) for _ in range(n_scr)]
        for p in peaks:
            revs = int(rng.integers(3, max(4, int(duration_s / period))))
            start = float(rng.uniform(0, max(0.1, duration_s - revs * period)))
            scratches.append(ScratchSpec(start, revs, p, rpm, float(rng.uniform(-0.02, 0.02)),
                                         float(rng.uniform(0.0005, 0.004)),
                                         bool(rng.random() < 0.3)))
    elif rng.random() < 0.1:  # two ticks one revolution apart: not yet a repeating scratch
        scratches.append(ScratchSpec(float(rng.uniform(0, duration_s - 2 * period)), 2,
                                     float(rng.uniform(-10, 6)), rpm))

    skips = ()
    if crit == "skip":
        skips = (SkipSpec(float(rng.uniform(0.2, 0.8) * duration_s),
                          str(rng.choice(["repeat", "jump"])), int(rng.integers(1, 4)), rpm),)

    wow = WowSpec()
    if rng.random() < 0.6:
        wow = WowSpec(wow_depth=float(rng.uniform(0.0002, 0.003)), wow_hz=rpm / 60.0,
                      flutter_depth=float(rng.uniform(0, 0.0008)),
                      flutter_hz=float(rng.uniform(4, 20)))
    mic = None
    if rng.random() < mic_probability:
        mic = MicSpec(rt60_s=float(rng.uniform(0.15, 0.6)), wet_db=float(rng.uniform(-22, -8)),
                      room_noise_db=float(rng.uniform(-65, -35)))
    return DamageSpec(
        seed=int(rng.integers(0, 2**31 - 1)),
        clicks=ClickSpec(rate_per_min=clicks_pm, pop_fraction=float(rng.uniform(0, 0.3)),
                         stereo_fraction=float(rng.uniform(0.2, 0.8))),
        crackle=CrackleSpec(rate_per_s=crackle_ps,
                            peak_db=(float(rng.uniform(-48, -35)), float(rng.uniform(-16, -11))),
                            stereo_fraction=float(rng.uniform(0.4, 0.95))),
        scratches=tuple(scratches), noise=noise, wow=wow, skips=skips, mic=mic,
        output_level_dbfs=float(rng.uniform(-30, -14)))

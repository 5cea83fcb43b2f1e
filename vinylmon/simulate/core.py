"""Damage clean music and know exactly what was done: :func:`simulate`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.types import ANALYSIS_RATE, Window, frozen_samples, rms_db, to_stereo
from vinylmon.grading.rubric import CLICK_FLOOR_DB, Quantities, RubricGrade, grade_quantities
from vinylmon.grading.scratches import MIN_SCRATCH_TICKS
from vinylmon.simulate import mic as micpath
from vinylmon.simulate import noise as nz
from vinylmon.simulate import shapes, transport
from vinylmon.simulate.spec import DamageSpec

#: Impulses below L - 50 dB are not counted as events: under music they are not
#: heard as discrete ticks, and real beds hold countless of them. They stay in
#: the audio as part of the noise bed. (GRADING.md gives k no lower level; this
#: floor is our reading, so that k is a finite, learnable number.)
COUNT_FLOOR_DB = -50.0
ANALYSIS_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class Impulse:
    """One impulsive defect: samples ``[start, end)`` of the output.

    ``channel`` is 0 or 1, or None when in both; ``peak_db`` re L; ``kind`` one of
    click, pop, crackle, scratch; ``scratch_id`` names its train (scratch ticks).
    ``source`` says where it came from (synthetic, real bed, skip).
    """

    start: int
    end: int
    channel: int | None
    kind: str
    peak_db: float
    scratch_id: int | None = None
    source: str = "synthetic"


@dataclass(frozen=True, slots=True)
class ScratchTruth:
    id: int
    period_s: float
    first_s: float
    last_s: float
    count: int
    peak_db: float
    rpm: float


@dataclass(frozen=True, slots=True)
class SkipTruth:
    time_s: float
    kind: str
    period_s: float
    repeats: int


@dataclass(frozen=True, slots=True, eq=False)
class Truth:
    """What the simulator did, in the terms of GRADING.md and REPORT.md.

    Attributes
    ----------
    sample_rate, frames : int
    program_level_dbfs : float
        L of the output (dBFS).
    impulses : tuple of Impulse
        Every counted impulse, sorted by start.
    scratches : tuple of ScratchTruth
        Tick trains (also those too short to be a repeating scratch).
    skips : tuple of SkipTruth
    surface_noise_db : float
        n: RMS of the non-impulsive bed re L (the record's; room noise excluded).
    room_noise_db : float or None
        The microphone path's room noise re L.
    quantities : Quantities
    grade : RubricGrade
    spec : DamageSpec
    """

    sample_rate: int
    frames: int
    program_level_dbfs: float
    impulses: tuple[Impulse, ...]
    scratches: tuple[ScratchTruth, ...]
    skips: tuple[SkipTruth, ...]
    surface_noise_db: float
    room_noise_db: float | None
    silent_windows: tuple[int, ...]
    quantities: Quantities
    grade: RubricGrade
    spec: DamageSpec

    def to_dict(self) -> dict:
        """A JSON-ready summary (the corpus manifest stores it)."""
        return {
            "sample_rate": self.sample_rate, "frames": self.frames,
            "program_level_dbfs": self.program_level_dbfs,
            "impulses": [asdict(i) for i in self.impulses],
            "scratches": [asdict(s) for s in self.scratches],
            "skips": [asdict(s) for s in self.skips],
            "surface_noise_db": self.surface_noise_db, "room_noise_db": self.room_noise_db,
            "silent_windows": list(self.silent_windows),
            "quantities": asdict(self.quantities),
            "grade": self.grade.grade, "limited_by": self.grade.limited_by,
            "reason": self.grade.reason, "spec": self.spec.to_dict(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class Damaged:
    """Simulator output.

    Attributes
    ----------
    audio : np.ndarray, shape (2, frames), float32
        What the line-in or microphone hears.
    clean : np.ndarray, shape (2, frames), float32
        The same music through the same transport (wow, skips) at the same gain,
        without defects, noise or microphone path: ``audio - clean`` is the damage
        (exactly, when there is no microphone path).
    truth : Truth
    impulses : np.ndarray, shape (2, frames), float32
        The impulsive damage alone (clicks, pops, crackle, scratch ticks), at the
        output gain, before any microphone path (real beds' ticks are in the bed).
    """

    audio: np.ndarray
    clean: np.ndarray
    truth: Truth
    impulses: np.ndarray


def program_level(x: np.ndarray, *, sample_rate: int,
                  window_s: float = ANALYSIS_WINDOW_S) -> tuple[float, tuple[int, ...]]:
    """L: RMS (dBFS) over the windows the silence gate keeps; and the silent windows."""
    gate = SilenceGate()
    wf = int(window_s * sample_rate)
    power, frames, silent = 0.0, 0, []
    for i, s in enumerate(range(0, x.shape[1], wf)):
        seg = x[:, s:s + wf]
        w = Window(frozen_samples(seg), sample_rate, s / sample_rate, i, rms_db(seg))
        if gate(w).silent:
            silent.append(i)
            continue
        power += float(np.sum(seg.astype(np.float64) ** 2))
        frames += seg.size
    if frames == 0:
        return float("-inf"), tuple(silent)
    return float(10 * np.log10(power / frames + 1e-30)), tuple(silent)


def _as_stereo(music: np.ndarray) -> np.ndarray:
    x = np.asarray(music, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise ValueError(f"music must be (channels<=2, frames), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("music holds NaN or infinite samples")
    return to_stereo(x).copy()


class _Layer:
    """The impulse layer with its truth."""

    def __init__(self, frames: int, level_dbfs: float):
        self.x = np.zeros((2, frames))
        self.level = level_dbfs
        self.items: list[Impulse] = []

    def add(self, pair: np.ndarray, at: int, channel: int | None, kind: str, peak_db: float,
            scratch_id: int | None = None, source: str = "synthetic") -> None:
        n = min(pair.shape[1], self.x.shape[1] - at)
        if at < 0 or n <= 0:
            return
        amp = 10 ** ((self.level + peak_db) / 20)
        self.x[:, at:at + n] += pair[:, :n] * amp
        nz_cols = np.flatnonzero(np.any(pair[:, :n] != 0, axis=0))
        if nz_cols.size:
            own = float(20 * np.log10(np.abs(pair[_rows(channel), :n]).max() * amp + 1e-30)
                        - self.level)
            self.items.append(Impulse(at + int(nz_cols[0]), at + int(nz_cols[-1]) + 1, channel,
                                      kind, own, scratch_id, source))

    def heard(self) -> list[Impulse]:
        """The items with each synthetic impulse's peak as the audio holds it.

        Overlapping impulses add up, so the loudest impulse of an overlap is read from
        the layer. A quieter one under a louder one is not heard apart from it and
        keeps its own peak: a crackle tick under a click stays crackle, not a second
        click at the click's level. A real bed's ticks stay as the bed gives them.
        """
        syn = sorted((i for i in self.items if i.source != "real bed"), key=lambda i: i.start)
        starts = np.array([i.start for i in syn], np.int64)
        longest = max((i.end - i.start for i in syn), default=0)

        def under_louder(imp: Impulse) -> bool:
            lo = int(np.searchsorted(starts, imp.start - longest, side="right"))
            hi = int(np.searchsorted(starts, imp.end, side="left"))
            return any(o is not imp and o.peak_db > imp.peak_db and o.end > imp.start
                       and (imp.channel is None or o.channel is None
                            or o.channel == imp.channel) for o in syn[lo:hi])

        out = []
        for imp in self.items:
            if imp.source == "real bed" or under_louder(imp):
                out.append(imp)
                continue
            seg = self.x[_rows(imp.channel), imp.start:imp.end]
            out.append(replace(imp, peak_db=float(20 * np.log10(np.abs(seg).max() + 1e-30)
                                                  - self.level)))
        return out


def _rows(channel: int | None) -> slice:
    """The rows of a (2, frames) array that hold an impulse in ``channel``."""
    return slice(None) if channel is None else slice(channel, channel + 1)


def simulate(music: np.ndarray, spec: DamageSpec, *, sample_rate: int = ANALYSIS_RATE,
             duration_s: float | None = None, bank: nz.NoiseBank | None = None) -> Damaged:
    """Damage clean music as ``spec`` says; return the audio and its exact truth.

    Parameters
    ----------
    music : np.ndarray, shape (channels, frames) or (frames,)
        Clean music; mono is played on both channels. With skips of kind
        ``jump``, pass a few seconds more than ``duration_s``.
    spec : DamageSpec
    sample_rate : int, keyword-only
    duration_s : float or None, keyword-only
        Output length; default the music's length.
    bank : NoiseBank or None, keyword-only
        Real noise recordings; required when the spec uses them.

    Returns
    -------
    Damaged

    Raises
    ------
    ValueError
        Bad music (shape, NaN, silent) or a spec that needs recordings without a bank.
    """
    x = _as_stereo(music)
    sr = int(sample_rate)
    n_out = x.shape[1] if duration_s is None else int(round(duration_s * sr))
    if x.shape[1] < n_out:
        raise ValueError(f"music has {x.shape[1]} frames, {n_out} asked for")
    rng = np.random.default_rng(spec.seed)
    needs_bank = (spec.noise.real_bed_db is not None or spec.noise.hum_real
                  or spec.noise.hiss_shape == "real" or spec.mic is not None)
    if needs_bank and (bank is None or not bank.available):
        raise ValueError("this spec uses real noise recordings: pass a NoiseBank that has them")

    # --- transport: skips, then wow and flutter
    skips: list[SkipTruth] = []
    splice_points: list[int] = []
    for sk in sorted(spec.skips, key=lambda s: s.time_s):
        period = int(round(60.0 / sk.rpm * sr))
        at = int(round(sk.time_s * sr))
        kind = sk.kind
        if kind == "jump" and x.shape[1] - period < n_out:
            kind = "repeat"  # not enough music to lose a groove: fall back a groove instead
        if not 0 < at < n_out:
            continue
        x = transport.splice(x, at=at, period=period, kind=kind, repeats=sk.repeats)
        skips.append(SkipTruth(at / sr, kind, period / sr, sk.repeats if kind == "repeat" else 0))
        splice_points.append(at)
        if kind == "repeat":
            splice_points += [at + k * period for k in range(1, sk.repeats)]
    x = x[:, :n_out]
    w = spec.wow
    x = transport.wow_flutter(x, sample_rate=sr, wow_depth=w.wow_depth, wow_hz=w.wow_hz,
                              flutter_depth=w.flutter_depth, flutter_hz=w.flutter_hz,
                              phase=float(rng.uniform(0, 2 * np.pi)))
    level, _ = program_level(x, sample_rate=sr)
    if not np.isfinite(level):
        raise ValueError("the music is silent: no program level to relate damage to")

    # --- impulses
    layer = _Layer(n_out, level)
    dur = n_out / sr
    c = spec.clicks
    for _ in range(rng.poisson(c.rate_per_min * dur / 60.0)):
        is_pop = rng.random() < c.pop_fraction
        shape = shapes.pop(rng, sr) if is_pop else shapes.click(rng, sr)
        pair, ch = shapes.to_stereo(rng, shape, both=rng.random() < c.stereo_fraction)
        peak = c.peak_db[0] + (c.peak_db[1] - c.peak_db[0]) * rng.beta(1.2, 2.0)
        layer.add(pair, int(rng.integers(0, n_out)), ch, "pop" if is_pop else "click", peak)
    for at in splice_points:  # the stylus landing makes a tick
        pair, ch = shapes.to_stereo(rng, shapes.click(rng, sr), both=True)
        layer.add(pair, at, ch, "click", float(rng.uniform(-6, 10)), source="skip")
    k = spec.crackle
    lo, hi = k.peak_db
    n_crackle = rng.poisson(k.rate_per_s * dur)
    # ticks are drawn from a few dozen shapes per excerpt (synthesis per tick is
    # the simulator's slowest step); placement, level, polarity and channels vary
    prototypes = [shapes.crackle_tick(rng, sr) for _ in range(min(n_crackle, 48))]
    for _ in range(n_crackle):
        tick = prototypes[int(rng.integers(0, len(prototypes)))] * rng.choice([-1.0, 1.0])
        # dust sits in the groove bottom: both walls, at nearly the same level
        pair, ch = shapes.to_stereo(rng, tick,
                                    both=rng.random() < k.stereo_fraction, max_ild_db=4.0)
        layer.add(pair, int(rng.integers(0, n_out)), ch, "crackle",
                  lo + (hi - lo) * rng.beta(1.0, 2.5))
    scratch_truth = []
    for sid, s in enumerate(spec.scratches):
        base = shapes.click(rng, sr, style="resonant" if rng.random() < 0.5 else "impulse")
        pair, ch = shapes.to_stereo(rng, base, both=s.stereo)
        period = 60.0 / s.rpm * (1 + s.speed_error)
        t, times = s.start_s, []
        for _ in range(s.revolutions):
            if t * sr >= n_out - pair.shape[1]:
                break
            times.append(t)
            t += period * (1 + rng.normal(0, s.drift))
        peaks = [s.peak_db + rng.uniform(-1.5, 1.5) for _ in times]
        for tt, p in zip(times, peaks, strict=True):
            layer.add(pair * rng.uniform(0.97, 1.0), int(round(tt * sr)), ch, "scratch", p, sid)
        if times:
            scratch_truth.append(ScratchTruth(sid, period, times[0], times[-1], len(times),
                                              float(max(peaks)), s.rpm))

    # --- the non-impulsive bed
    ns = spec.noise
    bed = np.zeros((2, n_out))
    bed_mask = np.ones(n_out, dtype=bool)
    bed_impulses: list[nz.BedImpulse] = []
    if ns.hiss_db is not None:
        shape_db = bank.hiss_shape_db() if ns.hiss_shape == "real" else None
        bed += nz.shaped_noise(rng, n_out, sample_rate=sr, shape_db=shape_db,
                               tilt_db_per_oct=ns.hiss_tilt_db_per_oct,
                               correlation=ns.hiss_correlation) * 10 ** (
            (level + ns.hiss_db) / 20)
    if ns.rumble_db is not None:
        bed += nz.rumble(rng, n_out, sample_rate=sr, cutoff_hz=min(ns.rumble_hz, 30.0)) * 10 ** (
            (level + ns.rumble_db) / 20)
    if ns.hum_db is not None:
        if ns.hum_real:
            recs = bank.recordings("hum")
            h = nz.set_rms(nz.loop(rng, recs[int(rng.integers(0, len(recs)))], n_out), 0.0)
        else:
            h = nz.hum(rng, n_out, sample_rate=sr, mains_hz=ns.hum_hz)
        bed += h * 10 ** ((level + ns.hum_db) / 20)
    if ns.real_bed_db is not None:
        real, bed_impulses, bed_mask = nz.tile(rng, bank.recordings("vinyl"), n_out,
                                               min_s=0.5, max_s=3.4, sample_rate=sr)
        gain = 10 ** ((level + ns.real_bed_db - rms_db(real[:, bed_mask])) / 20)
        bed += real * gain
        for imp in bed_impulses:
            peak_db = 20 * np.log10(imp.peak * gain + 1e-30) - level
            if peak_db >= COUNT_FLOOR_DB:
                layer.items.append(Impulse(imp.start, imp.end, imp.channel, "crackle",
                                           float(peak_db), None, "real bed"))
    noise_db = rms_db(bed[:, bed_mask]) - level if bed.any() else float("-inf")

    # --- peaks as they really are in the audio (Layer.heard)
    items = [i for i in layer.heard() if i.peak_db >= COUNT_FLOOR_DB]
    items.sort(key=lambda i: (i.start, i.end))

    audio = x + layer.x + bed
    room_db = None
    if spec.mic is not None:
        m = spec.mic
        audio = micpath.apply(audio, sos=micpath.coloration(rng, sr),
                              ir=micpath.room_ir(rng, sr, rt60_s=m.rt60_s, wet_db=m.wet_db))
        rooms = bank.recordings("machine")
        room = nz.set_rms(nz.loop(rng, rooms[int(rng.integers(0, len(rooms)))], n_out), 0.0)
        audio += room * 10 ** ((level + m.room_noise_db) / 20)
        room_db = m.room_noise_db

    # --- output gain: the requested level, never clipping
    gain = 10 ** ((spec.output_level_dbfs - level) / 20)
    peak = float(np.abs(audio).max()) * gain
    if peak > 0.99:
        gain *= 0.99 / peak
    audio *= gain
    clean = x * gain
    out_level = level + 20 * np.log10(gain)

    # --- the quantities of GRADING.md over the non-silent windows of the output
    _, silent = program_level(audio, sample_rate=sr)
    wf = int(ANALYSIS_WINDOW_S * sr)
    live = np.ones(n_out, dtype=bool)
    for i in silent:
        live[i * wf:(i + 1) * wf] = False
    analysed_s = float(live.sum()) / sr
    counted = [i for i in items if live[i.start]]
    n_clicks = sum(1 for i in counted if i.peak_db >= CLICK_FLOOR_DB)
    n_crackle = len(counted) - n_clicks
    trains = [s for s in scratch_truth if s.count >= MIN_SCRATCH_TICKS]
    q = Quantities(
        clicks_per_min=n_clicks / (analysed_s / 60) if analysed_s else 0.0,
        crackle_per_s=n_crackle / analysed_s if analysed_s else 0.0,
        surface_noise_db=float(noise_db),
        scratches=len(trains),
        scratch_peak_db=max((s.peak_db for s in trains), default=float("-inf")),
        skips=len(skips), analysed_s=analysed_s)
    truth = Truth(sr, n_out, float(out_level), tuple(items), tuple(scratch_truth), tuple(skips),
                  float(noise_db), room_db, silent, q, grade_quantities(q), spec)
    return Damaged(audio.astype(np.float32), clean.astype(np.float32), truth,
                   (layer.x * gain).astype(np.float32))

"""Training examples for the click verifier, mixed on the fly.

Every scene is a fresh 1.5-s stretch of training music (a random song, offset,
speed, tone and bandwidth, stereo width, sometimes with drum hits mixed in,
hard-panned ones too: other music than the training songs' own sound). A third
of the scenes stay clean (a quiet bed at most): their candidates are the music's
own transients, the false alarms to avoid. The others are damaged by the
simulator with a dense, wide draw of clicks, pops, crackle, scratch
ticks, noise beds, wow and microphone paths (some of them worn-out records: a loud
bed, dense crackle, :data:`HEAVY_SHARE`), plus impulses of shapes the corpus
simulator does not make (gaussian derivatives, steps, damped sines, bursts,
single-sample spikes), so the verifier learns "an impulse the music did not
make", not one simulator's shapes. Nothing is fixed to memorise: each step
sees new placements.

The candidate stage (:func:`vinylmon.audio.candidates.find_candidates`) runs on
the damaged audio as it will at inference; each candidate is labelled from the
exact truth:

- positive when it lies on a true impulse (its span +-0.5 ms) *and* that
  impulse makes at least half the second difference there (the damage alone is
  known sample by sample: a scene heard through a microphone puts it through the
  same coloration and room as the rest, :func:`through_microphone`); otherwise it
  is the music (or the bed) and negative;
- for positives: the impulse's peak in dB re the stretch's level, where its
  span starts and ends re the candidate, and its channel (left, right, both).

numpy/scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from vinylmon.audio.candidates import POST, PRE, find_candidates, patches, second_difference
from vinylmon.audio.io import load
from vinylmon.audio.types import to_stereo
from vinylmon.errors import VinylmonError
from vinylmon.simulate import (
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    MicSpec,
    NoiseBank,
    NoiseSpec,
    ScratchSpec,
    WowSpec,
    simulate,
)
from vinylmon.simulate import mic as mic_path
from vinylmon.simulate import noise as nz
from vinylmon.simulate import shapes as sh

SR = 44100
SEGMENT_S = 1.5
#: Share of music chunks played at another speed (0.86-1.17x, resampled: pitch and
#: sharpness of every transient move), and of scenes whose music is re-equalised (its
#: highs tilted -8..+6 dB from 2-6 kHz) or band-limited (11-19 kHz: older masters,
#: lossy sources): other music than the training songs' own sound.
MUSIC_SPEED_SHARE = 0.4
MUSIC_EQ_SHARE = 0.4
MUSIC_BAND_SHARE = 0.25
#: Share of scenes that are clean music (drums, beds and all): the false alarms to avoid.
CLEAN_SHARE = 0.3
#: Share of scenes heard in mono (both channels the same, damage and all): a mono
#: transfer, or a mono file played on both channels.
MONO_SHARE = 0.07
#: Share of scenes played through speakers into a microphone in a room (clean ones
#: too: the room's reverb and noise are not damage), when real recordings are there.
MIC_SHARE = 0.3
#: Share of scenes with percussion mixed in (hard negatives), and of those hits made
#: by :func:`synthetic_hit` rather than taken from a drum kit.
DRUM_SHARE = 0.5
SYNTHETIC_HIT_SHARE = 0.4
#: Of the hits taken from files, the share taken from the other instruments' one-shots
#: (``shots``: scripts/get_train_shots.py) when there are some, the rest from the kits.
SHOT_SHARE = 0.5
#: Of those hits, the share placed dead centre (the same samples in both channels, as
#: most mixes put drums): there the shipped 2.x verifiers were wrong most often (on the
#: test split, p >= 0.9 in both channels was right 0.56 of the time, in one 0.96).
#: Bundles trained before it placed hits hard left, hard right or anywhere (a third each).
CENTRE_HIT_SHARE = 0.3
#: Share of damaged scenes from a worn-out record: a loud bed (-30..-12 dB re L, louder
#: than the general draw's -25), dense crackle (20-150 per second) and often a
#: microphone, where the corpus's F-grade excerpts lose most of their clicks (on the
#: val split the verifier gave their real clicks a median probability of 0.2-0.6).
#: Bundles trained before it (2.x) saw none.
HEAVY_SHARE = 0.15


def _mic(rng: np.random.Generator) -> MicSpec:
    return MicSpec(rt60_s=float(rng.uniform(0.15, 0.6)), wet_db=float(rng.uniform(-22, -8)),
                   room_noise_db=float(rng.uniform(-65, -35)))
#: Candidates this close to a true impulse's span may be on it (0.5 ms).
TOL = 22
#: Span offsets are regressed re the candidate, clipped to these (samples).
START_RANGE, END_RANGE = 256, 512
OFFSET_SCALE = 64.0
CHANNELS = ("left", "right", "both")


@dataclass(frozen=True)
class Examples:
    """A batch of labelled candidates (all arrays share their first axis)."""

    wave: np.ndarray      # (n, 6 or 9, PRE + POST) float32
    context: np.ndarray   # (n, context) float32
    label: np.ndarray     # (n,) float32: 1 impulse, 0 music
    peak_db: np.ndarray   # (n,) float32: peak re the stretch's level (positives)
    start: np.ndarray     # (n,) float32: span start re candidate / OFFSET_SCALE
    end: np.ndarray       # (n,) float32: span end re candidate / OFFSET_SCALE
    channel: np.ndarray   # (n,) int64: index into CHANNELS
    score: np.ndarray     # (n,) float32: the candidate stage's score

    def __len__(self) -> int:
        return int(self.label.size)

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        return Examples(*(np.concatenate([getattr(p, f) for p in parts])
                          for f in Examples.__dataclass_fields__))


# ----------------------------------------------------------------------------- shapes
def _lowpass(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Sometimes a one-pole low-pass (a stylus and de-emphasis), tau 10-120 us."""
    if rng.random() < 0.3:
        return x
    tau = rng.uniform(10e-6, 120e-6)
    a = np.exp(-1.0 / (tau * SR))
    y = signal.lfilter([1 - a], [1, -a], np.concatenate([x, np.zeros(int(8 * tau * SR) + 4)]))
    return y


def vary_speed(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """``x`` (channels, samples) played 0.86-1.17x as fast (resampled)."""
    down = 48
    up = int(rng.integers(41, 57))  # 48/41 .. 48/56: 1.17x .. 0.86x as fast
    if up == down:
        return x
    return signal.resample_poly(x, up, down, axis=1)


def vary_sound(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """``x`` (channels, samples) re-equalised (:data:`MUSIC_EQ_SHARE`) and band-limited
    (:data:`MUSIC_BAND_SHARE`), its level kept."""
    level = np.sqrt(np.mean(x ** 2)) + 1e-12
    if rng.random() < MUSIC_EQ_SHARE:
        sos = signal.butter(1, float(rng.uniform(2000.0, 6000.0)), btype="highpass",
                            fs=SR, output="sos")
        gain = 10 ** (rng.uniform(-8.0, 6.0) / 20) - 1.0
        x = x + gain * signal.sosfilt(sos, x, axis=1)
    if rng.random() < MUSIC_BAND_SHARE:
        sos = signal.butter(8, float(rng.uniform(11000.0, 19000.0)), btype="lowpass",
                            fs=SR, output="sos")
        x = signal.sosfilt(sos, x, axis=1)
    return x * (level / (np.sqrt(np.mean(x ** 2)) + 1e-12))


def novel_shape(rng: np.random.Generator) -> np.ndarray:
    """An impulse of a shape family the corpus simulator does not make; peak 1, zero ends."""
    kind = int(rng.integers(0, 6))
    if kind == 0:  # derivative of a gaussian (first or second)
        w = rng.uniform(0.01, 0.6) * 1e-3 * SR
        t = np.arange(-int(4 * w) - 1, int(4 * w) + 2) / max(w, 0.3)
        g = np.exp(-0.5 * t ** 2)
        x = -t * g if rng.random() < 0.5 else (1 - t ** 2) * g
    elif kind == 1:  # a step that decays back (the groove wall displaced)
        n = int(rng.uniform(0.3, 5.0) * 1e-3 * SR)
        x = np.exp(-np.arange(n) / (n * rng.uniform(0.1, 0.4)))
    elif kind == 2:  # damped sine
        n = max(8, int(rng.uniform(0.3, 4.0) * 1e-3 * SR))
        f = np.exp(rng.uniform(np.log(300), np.log(16000)))
        t = np.arange(n) / SR
        x = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(
            -t / (n / SR * rng.uniform(0.15, 0.4)))
    elif kind == 3:  # a burst of micro spikes
        n = max(10, int(rng.uniform(0.2, 2.0) * 1e-3 * SR))
        x = np.zeros(n)
        for _ in range(int(rng.integers(2, 5))):
            x[int(rng.integers(0, n))] += rng.uniform(0.3, 1.0) * rng.choice([-1, 1])
    elif kind == 4:  # band-limited noise burst
        n = max(12, int(rng.uniform(0.3, 3.0) * 1e-3 * SR))
        x = rng.standard_normal(n) * np.hanning(n)
        x = np.diff(x, prepend=0.0) if rng.random() < 0.5 else x
    else:  # one or two samples
        x = np.array([1.0] if rng.random() < 0.5 else [1.0, rng.uniform(-1, 1)])
    x = _lowpass(rng, np.asarray(x, dtype=np.float64))
    x = x / (np.abs(x).max() + 1e-12) * rng.choice([-1.0, 1.0])
    keep = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[keep[0]:keep[-1] + 1]
    if x.size > 3:  # ends at rest (appended: overwriting the last sample could cut the peak)
        x = np.append(x, 0.0)
    return x


# ----------------------------------------------------------------------------- scenes
def synthetic_hit(rng: np.random.Generator) -> np.ndarray:
    """A percussive sound of no kit, peak 1: the music's own sharp transients that a
    click detector must leave alone (rimshots, hats, claps, snares, electronic kicks and
    blips), each with a body that lasts (>= 5 ms of decay: a click is over sooner)."""
    kind = int(rng.integers(0, 5))
    n = int(rng.uniform(0.06, 0.4) * SR)
    t = np.arange(n) / SR
    noise = rng.standard_normal(n)
    if kind == 0:  # rimshot / wood block / cowbell: a tone with a sharp attack
        tau = rng.uniform(0.006, 0.04)
        f = rng.uniform(300, 4000)
        x = np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * np.exp(-t / tau)
        x[: int(rng.integers(1, 24))] += rng.uniform(0.2, 1.0) * rng.choice([-1, 1])
    elif kind == 1:  # hat / shaker: bright noise
        tau = rng.uniform(0.005, 0.08)
        x = np.diff(noise, prepend=0.0) * np.exp(-t / tau)
    elif kind == 2:  # clap: a few bursts, then a tail
        x = np.zeros(n)
        at = 0
        for _ in range(int(rng.integers(2, 5))):
            m = min(n - at, int(rng.uniform(0.004, 0.012) * SR))
            x[at:at + m] += noise[at:at + m] * np.exp(-np.arange(m) / SR / 0.004)
            at += int(rng.uniform(0.004, 0.012) * SR)
            if at >= n:
                break
        x += 0.5 * noise * np.exp(-t / rng.uniform(0.02, 0.1))
    elif kind == 3:  # snare: a tone and noise
        tau = rng.uniform(0.03, 0.15)
        x = (np.sin(2 * np.pi * rng.uniform(150, 300) * t) * np.exp(-t / (0.6 * tau))
             + rng.uniform(0.5, 2.0) * noise * np.exp(-t / tau))
    else:  # electronic kick / blip: a falling tone with a click of an attack
        f0, f1 = rng.uniform(800, 6000), rng.uniform(40, 400)
        tau = rng.uniform(0.01, 0.2)
        k = rng.uniform(20, 200)
        phase = 2 * np.pi * (f1 * t + (f0 - f1) * (1 - np.exp(-k * t)) / k)
        x = np.sin(phase) * np.exp(-t / tau)
    return x / (np.abs(x).max() + 1e-12)


def vary_hit(rng: np.random.Generator, hit: np.ndarray) -> np.ndarray:
    """A drum hit as another kit, room or mix might give it: played faster or slower
    (0.7-1.4x), brighter or duller, its attack sharpened, its tail cut short."""
    x = hit
    r = rng.uniform(0.7, 1.4)
    if abs(r - 1) > 0.02:
        idx = np.arange(0, x.size - 1, r)
        x = np.interp(idx, np.arange(x.size), x)
    u = rng.random()
    if u < 0.3:  # brighter: some of its derivative
        x = x + rng.uniform(0.3, 2.0) * np.diff(x, prepend=0.0) * 4
    elif u < 0.5:  # duller: a one-pole low-pass at 1-6 kHz
        a = np.exp(-2 * np.pi * rng.uniform(1000, 6000) / SR)
        x = signal.lfilter([1 - a], [1, -a], x)
    if rng.random() < 0.3:  # a tail cut short (a gated or choked hit)
        m = int(rng.uniform(0.01, 0.06) * SR)
        if m < x.size:
            x = x[:m] * np.minimum(1.0, np.linspace(4.0, 0.0, m))
    return x / (np.abs(x).max() + 1e-12)


@dataclass(frozen=True)
class Scene:
    audio: np.ndarray       # (2, n) float32
    damage: np.ndarray      # (2, n) float32: the impulses alone, as the audio holds them
    exact: bool             # damage is exact sample by sample (a take's spans are not)
    starts: np.ndarray
    ends: np.ndarray
    channel: np.ndarray     # -1 both
    peak_db: np.ndarray     # re L
    level_dbfs: float       # L


class SceneMaker:
    """Random damaged stretches of training music. See the module docstring.

    Parameters
    ----------
    songs : list of str
        Training songs (audio files).
    drums : list of str
        Drum one-shots (hard negatives mixed into the music).
    bank : NoiseBank or None
        Real noise recordings (training ones only).
    seed : int, keyword-only
    shots : list of str, keyword-only
        Other instruments' one-shots (percussion, plucked and struck notes), mixed in
        as the drums are, for :data:`SHOT_SHARE` of the hits taken from files.
    """

    def __init__(self, songs: list[str], drums: list[str], bank: NoiseBank | None, *,
                 seed: int, segment_s: float = SEGMENT_S, chunk_s: float = 15.0,
                 reuse: int = 6, shots: list[str] = ()):
        if not songs:
            raise ValueError("no training songs")
        self.songs, self.drums, self.bank = list(songs), list(drums), bank
        self.shots = list(shots)
        self.rng = np.random.default_rng(seed)
        self.n = int(segment_s * SR)
        self.chunk_s, self.reuse = chunk_s, reuse
        self._chunk: np.ndarray | None = None
        self._uses = 0
        self._drum_cache: dict[str, np.ndarray] = {}

    def _music(self) -> np.ndarray:
        rng = self.rng
        while self._chunk is None or self._uses >= self.reuse:
            path = self.songs[int(rng.integers(0, len(self.songs)))]
            try:
                from vinylmon.audio.io import audio_info
                dur = audio_info(path).duration_s
                if dur < self.n / SR + 1:
                    continue
                off = float(rng.uniform(0, max(0.0, dur - self.chunk_s)))
                x = load(path, start_s=off, duration_s=min(self.chunk_s, dur)).samples
            except (VinylmonError, OSError, RuntimeError):
                continue
            x = to_stereo(x)
            if rng.random() < MUSIC_SPEED_SHARE:
                x = vary_speed(rng, x.astype(np.float64))
            if x.shape[1] < self.n:
                continue
            self._chunk = x
            self._uses = 0
        self._uses += 1
        s = int(rng.integers(0, self._chunk.shape[1] - self.n + 1))
        return self._chunk[:, s:s + self.n].astype(np.float64)

    def _drum(self, path: str) -> np.ndarray:
        if path not in self._drum_cache:
            d = load(path, max_channels=1).samples[0].astype(np.float64)
            self._drum_cache[path] = d / (np.abs(d).max() + 1e-12)
        return self._drum_cache[path]

    def _dress(self, x: np.ndarray) -> np.ndarray:
        """Its sound (:func:`vary_sound`), stereo width, channel swap, and drum hits
        (hard negatives)."""
        rng = self.rng
        x = vary_sound(rng, x)
        r = rng.random()
        if r < 0.1:
            x = np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0)
        elif r < 0.4:
            m, s = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
            s *= rng.uniform(0.0, 2.0)
            x = np.stack([m + s, m - s])
        if rng.random() < 0.5:
            x = x[::-1].copy()
        if rng.random() < DRUM_SHARE:
            level = np.sqrt(np.mean(x ** 2)) + 1e-9
            for _ in range(int(rng.integers(1, 12))):
                files = self.drums
                if self.shots and (not self.drums or rng.random() < SHOT_SHARE):
                    files = self.shots
                if files and rng.random() >= SYNTHETIC_HIT_SHARE:
                    hit = self._drum(files[int(rng.integers(0, len(files)))])
                else:
                    hit = synthetic_hit(rng)
                hit = vary_hit(rng, hit)
                at = int(rng.integers(0, self.n))
                k = min(hit.size, self.n - at)
                amp = level * 10 ** (rng.uniform(-12, 12) / 20)
                # dead centre, or hard left, hard right or anywhere
                pan = 0.5 if rng.random() < CENTRE_HIT_SHARE else \
                    rng.choice([0.0, 1.0, rng.uniform(0, 1)])
                x[0, at:at + k] += amp * (1 - pan) * hit[:k]
                x[1, at:at + k] += amp * pan * hit[:k]
        return x

    def _spec(self) -> DamageSpec:
        rng = self.rng
        real = self.bank is not None and self.bank.available
        if rng.random() < CLEAN_SHARE:  # clean music (a bed at most): negatives only
            hiss = float(rng.uniform(-85, -40))
            return DamageSpec(seed=int(rng.integers(0, 2**31 - 1)),
                              noise=NoiseSpec(hiss_db=hiss if rng.random() < 0.7 else None,
                                              hiss_tilt_db_per_oct=float(rng.uniform(-4.5, 0))),
                              mic=_mic(rng) if real and rng.random() < MIC_SHARE else None,
                              output_level_dbfs=float(rng.uniform(-35, -10)))
        heavy = rng.random() < HEAVY_SHARE
        clicks = ClickSpec(rate_per_min=float(np.exp(rng.uniform(np.log(30), np.log(1500)))),
                           peak_db=(-28.0, 24.0), pop_fraction=float(rng.uniform(0, 0.3)),
                           stereo_fraction=float(rng.uniform(0.2, 0.8)))
        crackle = CrackleSpec()
        if heavy or rng.random() < 0.5:
            rate = (20, 150) if heavy else (0.5, 60)
            crackle = CrackleSpec(rate_per_s=float(np.exp(rng.uniform(*np.log(rate)))),
                                  peak_db=(float(rng.uniform(-48, -30)),
                                           float(rng.uniform(-16, -8))),
                                  stereo_fraction=float(rng.uniform(0.4, 0.95)))
        scratches = ()
        if rng.random() < 0.2:
            scratches = (ScratchSpec(float(rng.uniform(0, 1.0)), 2, float(rng.uniform(-15, 15)),
                                     stereo=bool(rng.random() < 0.3)),)
        if heavy:
            hiss = float(rng.uniform(-30, -12))
        else:
            hiss = float(rng.uniform(-80, -25)) if rng.random() < 0.85 else None
        noise = NoiseSpec(
            hiss_db=hiss, hiss_shape="real" if real and rng.random() < 0.5 else "tilt",
            hiss_tilt_db_per_oct=float(rng.uniform(-4.5, 0.0)),
            rumble_db=float(rng.uniform(-60, -30)) if rng.random() < 0.2 else None,
            rumble_hz=float(rng.uniform(8, 30)),
            hum_db=float(rng.uniform(-65, -35)) if rng.random() < 0.2 else None,
            hum_hz=float(rng.choice([50.0, 60.0])),
            real_bed_db=float(rng.uniform(-65, -30)) if real and rng.random() < 0.25 else None)
        wow = WowSpec()
        if rng.random() < 0.3:
            wow = WowSpec(wow_depth=float(rng.uniform(0.0002, 0.003)),
                          flutter_depth=float(rng.uniform(0, 0.0008)),
                          flutter_hz=float(rng.uniform(4, 20)))
        mic = _mic(rng) if real and rng.random() < (2 * MIC_SHARE if heavy else MIC_SHARE) \
            else None
        return DamageSpec(seed=int(rng.integers(0, 2**31 - 1)), clicks=clicks, crackle=crackle,
                          scratches=scratches, noise=noise, wow=wow, mic=mic,
                          output_level_dbfs=float(rng.uniform(-35, -10)))

    def scene(self) -> Scene:
        rng = self.rng
        while True:
            x = self._dress(self._music())
            spec = self._spec()
            try:
                # a microphone path goes on below: the damage alone through it too
                d = simulate(x, replace(spec, mic=None), sample_rate=SR, bank=self.bank)
            except ValueError:  # silent music
                continue
            break
        t = d.truth
        starts = [i.start for i in t.impulses]
        ends = [i.end for i in t.impulses]
        chans = [-1 if i.channel is None else i.channel for i in t.impulses]
        peaks = [i.peak_db for i in t.impulses]
        audio = d.audio.astype(np.float64)
        damage = d.impulses.astype(np.float64)
        level = 10 ** (t.program_level_dbfs / 20)
        # impulses of shapes the simulator does not make (not in clean scenes)
        novel = 0 if t.spec.clicks.rate_per_min == 0 else int(rng.poisson(rng.uniform(0, 12)))
        for _ in range(novel):
            shape = novel_shape(rng)
            pair, ch = sh.to_stereo(rng, shape, both=rng.random() < 0.5)
            at = int(rng.integers(0, self.n - pair.shape[1]))
            peak_db = float(rng.uniform(-28, 24))
            add = pair * level * 10 ** (peak_db / 20)
            audio[:, at:at + pair.shape[1]] += add
            damage[:, at:at + pair.shape[1]] += add
            nzc = np.flatnonzero(np.any(pair != 0, axis=0))
            starts.append(at + int(nzc[0]))
            ends.append(at + int(nzc[-1]) + 1)
            chans.append(-1 if ch is None else ch)
            peaks.append(peak_db)
        if spec.mic is not None:
            audio, damage, level = through_microphone(rng, audio, damage, d.clean, level=level,
                                                      mic=spec.mic, bank=self.bank)
            # peaks as they now are in the audio (a real bed's ticks are the bed's: kept)
            peaks = [_peak_db(damage, a, b, c, level, p)
                     for a, b, c, p in zip(starts, ends, chans, peaks, strict=True)]
        if rng.random() < MONO_SHARE:  # everything, the damage too, the same in both channels
            audio = np.repeat(audio.mean(axis=0, keepdims=True), 2, axis=0)
            damage = np.repeat(damage.mean(axis=0, keepdims=True), 2, axis=0)
            chans = [-1] * len(chans)
            # peaks as they now are in the audio (a one-channel click is halved)
            peaks = [_peak_db(damage, a, b, -1, level, p)
                     for a, b, p in zip(starts, ends, peaks, strict=True)]
        peak = np.abs(audio).max()
        if peak > 0.99:
            audio *= 0.99 / peak
            damage *= 0.99 / peak
            level *= 0.99 / peak
        return Scene(audio.astype(np.float32), damage.astype(np.float32), True,
                     np.array(starts, np.int64), np.array(ends, np.int64),
                     np.array(chans, np.int8), np.array(peaks, np.float32),
                     float(20 * np.log10(level)))

    def examples(self, *, threshold: float, whiten: bool = False) -> Examples:
        return label(self.scene(), threshold=threshold, whiten=whiten)


def through_microphone(rng: np.random.Generator, audio: np.ndarray, damage: np.ndarray,
                       clean: np.ndarray, *, level: float, mic: MicSpec,
                       bank: NoiseBank | None) -> tuple[np.ndarray, np.ndarray, float]:
    """``audio`` played through speakers into a microphone in a room, as the simulator
    does it (:mod:`vinylmon.simulate.mic`: a random coloration, the room's reverb, then
    the room's noise ``mic.room_noise_db`` re L): returns the audio, ``damage`` (the
    impulses alone) through the same coloration and room, so that labels stay exact
    sample by sample, and the program level (linear) of ``clean`` (the music alone)
    through them. The path is linear: the audio less the damage is the rest's."""
    sos = mic_path.coloration(rng, SR)
    ir = mic_path.room_ir(rng, SR, rt60_s=mic.rt60_s, wet_db=mic.wet_db)
    out = mic_path.apply(audio, sos=sos, ir=ir)
    dmg = mic_path.apply(damage, sos=sos, ir=ir)
    before = float(np.sqrt(np.mean(np.square(clean, dtype=np.float64))))
    after = float(np.sqrt(np.mean(np.square(mic_path.apply(clean, sos=sos, ir=ir)))))
    level = level * after / before if before > 0 else level
    rooms = bank.recordings("machine") if bank is not None and bank.available else []
    if rooms:
        room = nz.set_rms(nz.loop(rng, rooms[int(rng.integers(0, len(rooms)))], out.shape[1]),
                          0.0)
        out = out + room * level * 10 ** (mic.room_noise_db / 20)
    return out, dmg, level


def _peak_db(damage: np.ndarray, start: int, end: int, channel: int, level: float,
             before: float) -> float:
    """An impulse's peak re ``level`` (dB) as ``damage`` holds it over its span, in its
    channel (-1 both); ``before`` where the span holds none of it."""
    rows = damage if channel < 0 else damage[channel:channel + 1]
    peak = float(np.abs(rows[:, start:end]).max()) if end > start else 0.0
    return float(20 * np.log10(peak / level)) if peak > 0 and level > 0 else before


def label(scene: Scene, *, threshold: float, whiten: bool = False) -> Examples:
    """The candidates of ``scene`` with their labels (see the module docstring);
    ``whiten``: the patches carry the music's prediction error too."""
    c = find_candidates(scene.audio, threshold=threshold)
    wave, ctx = patches(c, whiten=whiten)
    n_c = len(c)
    y = np.zeros(n_c, np.float32)
    peak = np.zeros(n_c, np.float32)
    start = np.zeros(n_c, np.float32)
    end = np.zeros(n_c, np.float32)
    chan = np.full(n_c, 2, np.int64)
    if n_c and scene.starts.size:
        dmg_d2 = second_difference(np.stack([scene.damage[0], scene.damage[1],
                                             0.5 * (scene.damage[0] - scene.damage[1])]))
        offset_db = scene.level_dbfs - 20 * np.log10(max(c.level, 1e-12))
        order = np.argsort(scene.starts)
        st, en = scene.starts[order], scene.ends[order]
        ch, pk = scene.channel[order], scene.peak_db[order]
        maxlen = int((en - st).max())
        for j, i in enumerate(c.index):
            lo = np.searchsorted(st, i - TOL - maxlen)
            hi = np.searchsorted(st, i + TOL, side="right")
            on = [m for m in range(lo, hi) if st[m] - TOL <= i < en[m] + TOL]
            if not on:
                continue
            if scene.exact:
                s = c.signal[j]
                mix = abs(float(c.d2[s, i]))
                own = abs(float(dmg_d2[s, i]))
                if own < 0.5 * mix:
                    continue
            loud = max(on, key=lambda m: pk[m])
            y[j] = 1.0
            peak[j] = pk[loud] + offset_db
            start[j] = np.clip(min(st[m] for m in on) - i, -START_RANGE, 0) / OFFSET_SCALE
            end[j] = np.clip(max(en[m] for m in on) - i, 0, END_RANGE) / OFFSET_SCALE
            chan[j] = 2 if ch[loud] < 0 else int(ch[loud])
    return Examples(wave, ctx, y, peak, start, end, chan, c.score)


def window_examples(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                    channel: np.ndarray, peak_db: np.ndarray, *, threshold: float,
                    whiten: bool = False) -> Examples:
    """The labelled candidates of a window whose impulses are known by their spans
    (a fine-tuning take with injected damage): a candidate on a true span is one;
    ``peak_db`` re the window's RMS level, ``channel`` -1 for both."""
    x = np.asarray(audio, np.float32)
    if x.ndim != 2 or x.shape[0] != 2:
        raise VinylmonError(f"expected a (2, samples) window, got shape {x.shape}")
    level = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    scene = Scene(x, np.zeros_like(x), False, np.asarray(starts, np.int64),
                  np.asarray(ends, np.int64), np.asarray(channel, np.int8),
                  np.asarray(peak_db, np.float32), float(20 * np.log10(max(level, 1e-12))))
    return label(scene, threshold=threshold, whiten=whiten)


__all__ = ["CHANNELS", "END_RANGE", "Examples", "OFFSET_SCALE", "POST", "PRE", "START_RANGE",
           "Scene", "SceneMaker", "label", "novel_shape", "synthetic_hit", "through_microphone",
           "vary_hit", "window_examples"]

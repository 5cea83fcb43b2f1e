"""The defect detector: a small 1-D CNN over log-mel and high-pass sub-frame energies.

Architecture (``build_detector``) is separate from weights (``vinylmon/weights/detector``).
Input is a stereo window at 44.1 kHz; everything is measured relative to the
window's own level, so the detector does not care how loud the record is played.

Per frame (hop 256 samples = 5.8 ms) it gives the probability that an impulse
(click, pop, crackle tick, scratch tick) starts or sits in the frame, the
probability that the impulse is click-loud (peak >= L - 10 dB, GRADING.md's c),
and the impulse's peak in dB re L. Per window it gives the class probabilities
of :data:`WINDOW_CLASSES`, the surface-noise level and the impulse counts.

:func:`refine_events` turns the frame probabilities into events placed on their
damaged samples, using the high-pass residual of the audio itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from vinylmon.audio.frontend import MelConfig, MelFrontend
from vinylmon.grading.events import WINDOW_CLASSES
from vinylmon.grading.rubric import CLICK_FLOOR_DB, PERIOD_TOLERANCE, RPMS

#: Frame outputs: impulse logit, click-loud logit, peak level (dB re L / 20).
FRAME_OUTPUTS = ("impulse", "click", "level_db")
#: Window regression outputs (after the class logits).
WINDOW_REGRESSION = ("noise_db", "log1p_clicks", "log1p_impulses")
LEVEL_SCALE_DB = 20.0
#: A weaker residual peak (below TAIL_RATIO of an event's) within TAIL_S after the
#: event's end is that event's ringing (a damped groove resonance), not a new event.
TAIL_S = 0.02
TAIL_RATIO = 0.3
NOISE_OFFSET_DB = -60.0


@dataclass(frozen=True)
class DetectorConfig:
    """Architecture parameters (stored in meta.json ``params``)."""

    mel: MelConfig = field(default_factory=MelConfig)
    subframes: int = 8
    #: Band edges (Hz) of the short-time (sub-frame) band energies.
    bands_hz: tuple[float, ...] = (600.0, 2000.0, 4000.0, 7000.0, 11000.0, 16000.0, 22051.0)
    width: int = 96
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1)
    kernel: int = 3

    @property
    def short_features(self) -> int:
        """Input features per signal from the sub-frames: band and high-pass energies
        of each sub-frame, and the frame's high-pass peak."""
        return self.subframes * len(self.bands_hz) + 1

    @property
    def channel_features(self) -> int:
        """Input features of the left (or right) channel: its log-mel, then its
        sub-frame features. The side signal's sub-frame features come last."""
        return self.mel.n_mels + self.short_features

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        d["bands_hz"] = list(self.bands_hz)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DetectorConfig:
        d = dict(d)
        d["mel"] = MelConfig(**d.get("mel", {}))
        d["dilations"] = tuple(d.get("dilations", cls.dilations))
        d["bands_hz"] = tuple(d.get("bands_hz", cls.bands_hz))
        return cls(**d)


def highpass(audio: torch.Tensor, *, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Second difference, same length (the 'residual' clicks stand out in).

    A music signal is mostly low-passed; its second difference is small, while
    an impulse's is as large as the impulse. Shape ``(..., samples)``; ``pad``
    adds that many zeros before and after (one pad instead of two); a negative one
    crops that many samples instead.
    """
    n = audio.shape[-1]
    length = max(n + pad[0] + pad[1], 0)
    out = audio.new_zeros((*audio.shape[:-1], length))
    # output sample j holds the second difference at input sample j - pad[0]: the
    # samples 1 .. n - 2 that have one, within the output
    first = max(1, -pad[0])
    last = min(n - 2, length - 1 - pad[0])
    if last >= first:
        k = last - first + 1
        mid = out.narrow(-1, first + pad[0], k)
        # in place, in the order x[n+1] + (-2 x[n]) + x[n-1] always had (the same values)
        mid.copy_(audio[..., first:first + k]).mul_(-2)
        mid.add_(audio[..., first + 1:first + 1 + k]).add_(audio[..., first - 1:first - 1 + k])
    return out


class _Block(nn.Module):
    def __init__(self, width: int, kernel: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding=dilation * (kernel // 2),
                              dilation=dilation)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.norm(self.conv(x)))


class DefectDetector(nn.Module):
    """CNN defect detector. See the module docstring.

    ``forward(audio)`` takes ``(batch, 2, samples)`` float32 at 44.1 kHz and returns
    ``(window, frame)``: window ``(batch, len(WINDOW_CLASSES) + 3)`` (class logits, then
    :data:`WINDOW_REGRESSION`) and frame ``(batch, 3, frames)`` with
    ``frames = samples // hop + 1`` (:data:`FRAME_OUTPUTS`).
    """

    def __init__(self, config: DetectorConfig | None = None):
        super().__init__()
        self.config = c = config or DetectorConfig()
        self.frontend = MelFrontend(c.mel)
        n_in = 2 * c.channel_features + c.short_features  # left, right; the side L - R
        sub_hop = c.mel.hop_length // c.subframes
        self._short_fft = 2 * sub_hop
        freqs = np.arange(self._short_fft // 2 + 1) * c.mel.sample_rate / self._short_fft
        bands = np.stack([(freqs >= lo) & (freqs < hi)
                          for lo, hi in zip(c.bands_hz[:-1], c.bands_hz[1:], strict=True)], 1)
        self.register_buffer("_bands", torch.tensor(bands, dtype=torch.float32),
                             persistent=False)  # (bins, bands)
        self.register_buffer("_short_window", torch.hann_window(self._short_fft),
                             persistent=False)
        self.stem = nn.Sequential(nn.Conv1d(n_in, c.width, c.kernel, padding=c.kernel // 2),
                                  nn.BatchNorm1d(c.width), nn.ReLU())
        self.blocks = nn.Sequential(*[_Block(c.width, c.kernel, d) for d in c.dilations])
        self.frame_head = nn.Conv1d(c.width, len(FRAME_OUTPUTS), 1)
        # the window head sees the click sequence's autocorrelation at each
        # revolution period (a repeating scratch ticks once per revolution)
        hop_s = c.mel.hop_length / c.mel.sample_rate
        self._lags = [(int(60 / r * (1 - PERIOD_TOLERANCE) / hop_s),
                       int(np.ceil(60 / r * (1 + PERIOD_TOLERANCE) / hop_s)) + 1) for r in RPMS]
        outputs = len(WINDOW_CLASSES) + len(WINDOW_REGRESSION)
        self.window_head = nn.Sequential(nn.Linear(2 * c.width + len(RPMS), c.width), nn.ReLU(),
                                         nn.Linear(c.width, outputs))

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """``(batch, 2, samples)`` to ``(batch, features, frames)``: dB re window level / 20.

        Per frame: the log-mel of each channel; and, for the left, right and side
        (L - R, where centred music cancels and a one-channel click does not)
        signals, band energies and high-pass energies in each of ``subframes``
        sub-frames (0.7 ms), and the frame's high-pass peak.
        """
        b = audio.shape[0]
        # everything is measured on the window scaled to unit RMS: dB re its level
        power = audio.pow(2).mean(dim=(1, 2), keepdim=True)  # (b, 1, 1)
        audio = audio * torch.rsqrt(power + 1e-12)
        mel = self.frontend(audio)  # (b, 2, mels, T)
        frames = mel.shape[-1]
        sig = torch.cat([audio, 0.5 * (audio[:, :1] - audio[:, 1:])], dim=1)  # (b, 3, n)
        short = self._short_features(sig, frames)  # (b, 3, short, T)
        mel = mel / LEVEL_SCALE_DB
        lr = torch.cat([mel, short[:, :2]], dim=2).reshape(b, -1, frames)
        return torch.cat([lr, short[:, 2]], dim=1)

    def _short_features(self, sig: torch.Tensor, frames: int) -> torch.Tensor:
        """Sub-frame band and high-pass energies, ``(b, signals, short, frames)``, dB/20."""
        c = self.config
        hop = c.mel.hop_length
        sub_hop = hop // c.subframes
        b, k, n = sig.shape
        floor = 1e-9  # -90 dB re the window's level
        # sub-frame j of frame f covers samples [f*hop - hop/2 + j*sub_hop, + sub_hop),
        # like the centred STFT's frame f; the short FFT is centred on it
        lead = hop // 2 + (self._short_fft - sub_hop) // 2
        total = frames * c.subframes * sub_hop + self._short_fft - sub_hop
        padded = torch.nn.functional.pad(sig, (lead, total - n - lead))
        seg = padded.unfold(-1, self._short_fft, sub_hop)[..., :frames * c.subframes, :]
        spec = torch.fft.rfft(seg * self._short_window, dim=-1)
        parts = torch.view_as_real(spec).square_()  # in place: see MelFrontend.forward
        pw = parts[..., 0] + parts[..., 1]  # (b, k, sub, bins)
        band = torch.matmul(pw, self._bands) * (4.0 / float(self._short_window.sum()) ** 2)
        band_db = 10 * torch.log10(band + floor)
        band_db = band_db.reshape(b, k, frames, -1)  # (b, k, T, subframes * bands)
        hp = highpass(sig, pad=(hop // 2, frames * hop - n - hop // 2))
        sub = hp.reshape(b, k, frames, c.subframes, sub_hop).square()
        sub_db = 10 * torch.log10(sub.mean(-1) + floor)  # (b, k, T, subframes)
        peak_db = 10 * torch.log10(sub.amax(dim=(-1, -2)) + floor)  # (b, k, T)
        x = torch.cat([band_db, sub_db, peak_db.unsqueeze(-1)], dim=-1)
        return (x / LEVEL_SCALE_DB).transpose(-1, -2)

    def head(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network after :meth:`features` (training may cache the features)."""
        return self.upper(self.lower(features, 0), 0)

    def lower(self, features: torch.Tensor, blocks: int) -> torch.Tensor:
        """The stem and the first ``blocks`` residual blocks: ``(batch, width, frames)``.

        ``upper(lower(f, k), k)`` is :meth:`head` ``(f)`` for any ``k``; fine-tuning
        computes a frozen lower part once and trains only the upper one.
        """
        h = self.stem(features)
        for block in self.blocks[:blocks]:
            h = block(h)
        return h

    def upper(self, h: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual blocks from ``start`` on, then the frame and window heads."""
        for block in self.blocks[start:]:
            h = block(h)
        frame = self.frame_head(h)
        pooled = torch.cat([h.mean(-1), h.amax(-1), self._periodicity(frame[:, 1])], dim=1)
        return self.window_head(pooled), frame

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features(audio))

    def _periodicity(self, click_logit: torch.Tensor) -> torch.Tensor:
        """Normalised autocorrelation of click probability at each rpm's period, ``(b, rpms)``."""
        p = torch.sigmoid(click_logit)
        t = p.shape[-1]
        spec = torch.fft.rfft(p, n=2 * t)
        ac = torch.fft.irfft(spec.real**2 + spec.imag**2, n=2 * t)[..., :t]
        ac = ac / (ac[..., :1] + 1e-3)
        feats = [ac[..., lo:min(hi, t)].amax(-1) if lo < t else torch.zeros_like(ac[..., 0])
                 for lo, hi in self._lags]
        return torch.stack(feats, dim=-1)


def build_detector(params: dict | None = None) -> DefectDetector:
    """The architecture from meta.json ``params`` (defaults when None)."""
    return DefectDetector(DetectorConfig.from_dict(params) if params else DetectorConfig())


@dataclass(frozen=True)
class DetectorOutput:
    """One window's detector output (numpy, CPU).

    Attributes
    ----------
    class_probs : np.ndarray, shape (len(WINDOW_CLASSES),)
    noise_db : float
        Estimated surface noise, dB re L.
    clicks, impulses : float
        Estimated counts in the window (click-loud; all impulses >= L - 50 dB).
    impulse_prob, click_prob, level_db : np.ndarray, shape (frames,)
    hop : int
        Samples per frame.
    crackle_per_s : float or None
        k of the window from the window measures (:mod:`vinylmon.models.measures`) or
        the count heads; None: k is counted from the events
        (:meth:`vinylmon.models.inference.Detector.window_crackle` decides which).
    """

    class_probs: np.ndarray
    noise_db: float
    clicks: float
    impulses: float
    impulse_prob: np.ndarray
    click_prob: np.ndarray
    level_db: np.ndarray
    hop: int
    crackle_per_s: float | None = None


def decode(window: torch.Tensor, frame: torch.Tensor, *, hop: int) -> list[DetectorOutput]:
    """Turn a batch of raw outputs into :class:`DetectorOutput` objects."""
    w = window.detach().float().cpu()
    f = frame.detach().float().cpu()
    probs = torch.softmax(w[:, :len(WINDOW_CLASSES)], dim=1).numpy()
    reg = w[:, len(WINDOW_CLASSES):].numpy()
    fp = torch.sigmoid(f[:, :2]).numpy()
    lv = (f[:, 2] * LEVEL_SCALE_DB).numpy()
    return [DetectorOutput(probs[i], float(reg[i, 0] * LEVEL_SCALE_DB + NOISE_OFFSET_DB),
                           float(np.expm1(max(reg[i, 1], 0.0))),
                           float(np.expm1(max(reg[i, 2], 0.0))),
                           fp[i, 0], fp[i, 1], lv[i], hop) for i in range(len(probs))]


@dataclass(frozen=True, slots=True)
class SampleEvent:
    """An impulse placed on samples ``[start, end)`` of its window.

    ``channel`` is 0, 1 or None (both); ``peak_db`` re the window level L;
    ``prob`` is the detector's impulse probability at the event.
    """

    start: int
    end: int
    channel: int | None
    peak_db: float
    click_prob: float
    prob: float


def refine_events(audio: np.ndarray, out: DetectorOutput, *, threshold: float = 0.5,
                  impulse_threshold: float | None = None, min_ratio: float = 6.0,
                  stereo_db: float = 6.0, max_per_frame: int = 4) -> list[SampleEvent]:
    """Place detections on their damaged samples.

    Frames whose click-loud probability exceeds ``threshold``, or whose impulse
    probability exceeds ``impulse_threshold``, form regions; in each,
    the high-pass residual's peaks that stand ``min_ratio`` times above the
    residual's local median magnitude (and at least 1 ms apart) become events.
    An event spans the samples where the residual stays above a fifth of its peak;
    weaker peaks in the :data:`TAIL_S` after it are its ringing.
    Its level is the level head's, kept on the side of the click boundary
    (:data:`CLICK_FLOOR_DB` re the window) that the click-loud head chose.

    Parameters
    ----------
    audio : np.ndarray, shape (channels, samples)
        The window the detector saw (one or two channels; a mono event has
        ``channel`` None: it is in every channel).
    out : DetectorOutput
    threshold, impulse_threshold, min_ratio, stereo_db, max_per_frame : keyword-only
        ``impulse_threshold`` is ``threshold`` when None; 1.0 keeps only the
        click-loud detections (crackle is then counted by the window head).
        ``stereo_db``: an event is in one channel when that channel's residual
        peak is this much above the other's, else in both.

    Returns
    -------
    list of SampleEvent, sorted by start
    """
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[1]
    hop = out.hop
    imp = threshold if impulse_threshold is None else impulse_threshold
    pos = (out.click_prob > threshold) | (out.impulse_prob > imp)
    if not pos.any():
        return []
    hp = np.zeros_like(x)
    hp[:, 1:-1] = np.abs(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], pos.astype(np.int8), [0]])))
    gap = 44  # 1 ms at 44.1 kHz
    events: list[SampleEvent] = []
    accepted: list[tuple[int, float]] = []  # (end sample, residual peak) of each event
    for f0, f1 in zip(edges[::2], edges[1::2], strict=True):
        # frame f of a centred STFT covers samples around f*hop
        a = max(0, f0 * hop - hop)
        b = min(n, f1 * hop + hop)
        ctx0, ctx1 = max(0, a - 8 * hop), min(n, b + 8 * hop)
        bg = np.median(hp[:, ctx0:ctx1], axis=1) + 1e-12  # (2,)
        rel = hp[:, a:b] / bg[:, None]
        comb = rel.max(axis=0)
        taken = np.zeros(b - a, dtype=bool)
        budget = max_per_frame * (f1 - f0)
        while budget > 0:
            masked = np.where(taken, 0.0, comb)
            i = int(np.argmax(masked))
            peak = masked[i]
            if peak < min_ratio:
                break
            size = float(hp[:, a + i].max())  # the residual's own peak, not re background
            tail = any(0 <= a + i - end < TAIL_S * 44100 and size < TAIL_RATIO * p
                       for end, p in accepted)
            if tail:  # the ringing of a stronger event just before: part of it
                taken[max(0, i - gap):i + gap] = True
                continue
            budget -= 1
            lo = i
            while lo > 0 and i - lo < 2 * gap and comb[lo - 1] > peak / 5:
                lo -= 1
            hi = i + 1
            while hi < b - a and hi - i < 8 * gap and comb[hi] > peak / 5:
                hi += 1
            taken[max(0, lo - gap):min(b - a, hi + gap)] = True
            accepted.append((a + hi, size))
            if len(rel) == 1:  # mono: the event is in every channel there is
                channel = None
            else:
                l0 = rel[0, max(0, i - 22):i + 23].max()
                l1 = rel[1, max(0, i - 22):i + 23].max()
                ratio_db = 20 * np.log10((l0 + 1e-12) / (l1 + 1e-12))
                channel = 0 if ratio_db > stereo_db else 1 if ratio_db < -stereo_db else None
            frame = min(len(out.level_db) - 1, (a + i + hop // 2) // hop)
            click_prob = float(out.click_prob[frame])
            level = float(out.level_db[frame])
            level = max(level, CLICK_FLOOR_DB) if click_prob >= 0.5 else \
                min(level, CLICK_FLOOR_DB - 0.5)
            events.append(SampleEvent(a + lo, a + hi, channel, level, click_prob,
                                      max(click_prob, float(out.impulse_prob[frame]))))
    events.sort(key=lambda e: e.start)
    return events

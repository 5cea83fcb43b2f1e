"""Log-mel spectrogram front-end, shared by the display and the models.

This is the only module of :mod:`vinylmon.audio` that imports torch; it is not
imported by ``vinylmon.audio`` itself, so reading files and capturing audio
never pull in torch. The GUI gets spectrogram columns from the engine as numpy
arrays and never imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchaudio

from vinylmon.audio.types import ANALYSIS_RATE
from vinylmon.errors import AudioDataError


@dataclass(frozen=True, slots=True)
class MelConfig:
    """Parameters of the log-mel front-end (stored in every model's meta.json).

    Attributes
    ----------
    sample_rate : int
    n_fft : int
    hop_length : int
        Frame step in samples (256 at 44.1 kHz = 5.8 ms).
    n_mels : int
    f_min, f_max : float
        Mel band edges in Hz.
    top_db : float
        Dynamic range kept below each spectrogram's maximum.
    """

    sample_rate: int = ANALYSIS_RATE
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 64
    f_min: float = 20.0
    f_max: float = 20000.0
    top_db: float = 90.0

    def to_dict(self) -> dict:
        return asdict(self)

    def frames(self, samples: int) -> int:
        """Number of spectrogram frames for ``samples`` input samples (centred STFT)."""
        return samples // self.hop_length + 1


class MelFrontend(torch.nn.Module):
    """Audio to log-mel spectrogram in dB re full scale.

    Input ``(batch, channels, samples)`` or ``(channels, samples)`` float32 at
    ``config.sample_rate``; output ``(..., n_mels, frames)`` in dB, where
    ``frames = samples // hop_length + 1``. A full-scale sine peaks near 0 dB.
    """

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        c = self.config
        fb = torchaudio.functional.melscale_fbanks(
            c.n_fft // 2 + 1, f_min=c.f_min, f_max=min(c.f_max, c.sample_rate / 2),
            n_mels=c.n_mels, sample_rate=c.sample_rate, norm=None, mel_scale="slaney")
        self.register_buffer("_fb", fb.T.contiguous(), persistent=False)  # (mels, bins)
        self.register_buffer("_window", torch.hann_window(c.n_fft), persistent=False)
        # Scale so that a full-scale sine reads about 0 dB in its band.
        window_sum = float(torch.hann_window(c.n_fft).sum())
        self.register_buffer("_scale", torch.tensor(4.0 / window_sum**2), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        c = self.config
        # A centred STFT, written out: on CPU, torch.stft(center=True) and the
        # complex abs() (or a sum over the real/imaginary axis) are several times
        # slower than an explicit reflect pad and squaring the two parts (same numbers).
        # The parts are squared in place, over the spectrum's dense buffer: squaring
        # each strided part on its own took as long as the STFT itself (same numbers).
        half = c.n_fft // 2
        shape = audio.shape
        flat = audio.reshape(-1, 1, shape[-1])
        mode = "reflect" if shape[-1] > half else "constant"
        flat = torch.nn.functional.pad(flat, (half, half), mode=mode)[:, 0]
        spec = torch.stft(flat, c.n_fft, c.hop_length, window=self._window, center=False,
                          return_complex=True)
        parts = torch.view_as_real(spec).square_()
        power = parts[..., 0] + parts[..., 1]  # (batch*channels, bins, frames)
        power = torch.matmul(self._fb, power) * self._scale
        power = power.reshape(*shape[:-1], c.n_mels, power.shape[-1])
        db = 10.0 * torch.log10(torch.clamp(power, min=1e-12))
        peak = db.amax(dim=(-2, -1), keepdim=True)
        return torch.maximum(db, peak - self.config.top_db)


_DEFAULT: MelFrontend | None = None


def mel_spectrogram(samples: np.ndarray, *, sample_rate: int = ANALYSIS_RATE,
                    config: MelConfig | None = None) -> np.ndarray:
    """Log-mel spectrogram of channels-first audio (numpy in, numpy out).

    Parameters
    ----------
    samples : np.ndarray, shape (channels, frames) or (frames,)
    sample_rate : int, keyword-only
        Must equal ``config.sample_rate`` (resample first).
    config : MelConfig, keyword-only

    Returns
    -------
    np.ndarray, shape (channels, n_mels, spec_frames), float32, dB re full scale
    """
    global _DEFAULT
    config = config or MelConfig()
    if sample_rate != config.sample_rate:
        raise AudioDataError(
            f"front-end expects {config.sample_rate} Hz audio, got {sample_rate} Hz")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise AudioDataError(f"expected (channels, frames) audio, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise AudioDataError("front-end input holds NaN or infinite samples")
    if _DEFAULT is None or _DEFAULT.config != config:
        _DEFAULT = MelFrontend(config)
    with torch.inference_mode():
        return _DEFAULT(torch.from_numpy(np.ascontiguousarray(x))).numpy()

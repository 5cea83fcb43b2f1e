"""The learned grader: torchaudio's wav2vec2 architecture with a grade head.

``build_grader("small")`` is the configuration trained from scratch here (a few
hundred thousand parameters, CPU-trainable); ``build_grader("base")`` is
wav2vec2-base (95 M parameters), whose encoder can start from a local pretrained
checkpoint with :func:`load_pretrained_encoder`. Nothing is ever downloaded.

Those two hear the window's mid channel at 16 kHz, normalised to unit RMS (the
rubric measures everything relative to the program level, so absolute level
carries no information), and output logits over the six grades of GRADING.md.

``build_grader("stereo")`` hears what grading needs: mid and side at 44.1 kHz
(the side carries the surface noise the music leaves out; crackle and hiss
live above 8 kHz), both over the mid's RMS. Its feature extractor
(:class:`SpectralFrontEnd`, in place of wav2vec2's convolutions, which would
need far more training than 2 CPU cores give to learn levels from raw samples)
gives 69 frames a second of what the rubric is made of: band levels in dB of
mid and side up to 22 kHz, and the level and peak of their second difference
(impulses); torchaudio's wav2vec2 encoder (the small configuration) reads them.
Beside the grade it measures the window (:data:`MEASURE_OUTPUTS`: n re the
window's level, log(1 + k), log(1 + c)), trained on the simulator's exact
per-window quantities.
:func:`aggregate` turns per-window probabilities into one side's grade.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn
from torchaudio.models import Wav2Vec2Model, wav2vec2_model

from vinylmon.errors import WeightsError
from vinylmon.grading.rubric import GRADES

GRADER_RATE = 16000

_CONV_SMALL = [(32, 10, 5), (64, 3, 2), (64, 3, 2), (64, 3, 2), (64, 3, 2), (64, 2, 2),
               (64, 2, 2)]
CONFIGS: dict[str, dict] = {
    "small": dict(
        extractor_mode="group_norm", extractor_conv_layer_config=_CONV_SMALL,
        extractor_conv_bias=False, encoder_embed_dim=96, encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=32, encoder_pos_conv_groups=4, encoder_num_layers=3,
        encoder_num_heads=4, encoder_attention_dropout=0.1, encoder_ff_interm_features=192,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.1, encoder_layer_norm_first=True,
        encoder_layer_drop=0.0, aux_num_out=None),
    # torchaudio.models.wav2vec2_base's parameters
    "base": dict(
        extractor_mode="group_norm", extractor_conv_layer_config=None,
        extractor_conv_bias=False, encoder_embed_dim=768, encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=128, encoder_pos_conv_groups=16, encoder_num_layers=12,
        encoder_num_heads=12, encoder_attention_dropout=0.1, encoder_ff_interm_features=3072,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.1, encoder_layer_norm_first=False,
        encoder_layer_drop=0.05, aux_num_out=None),
}


#: The measures a stereo grader gives beside the grade: n re the window's RMS (dB,
#: as (n - MEASURE_OFFSET_DB) / MEASURE_SCALE_DB), log1p(crackle per second),
#: log1p(clicks per minute).
MEASURE_OUTPUTS = ("noise_db", "log1p_crackle_per_s", "log1p_clicks_per_min")
MEASURE_OFFSET_DB = -45.0
MEASURE_SCALE_DB = 20.0


#: The stereo front end: STFT size and hop (69 frames a second at 44.1 kHz), bands.
FRONT_N_FFT = 2048
FRONT_HOP = 640
FRONT_BANDS = 48
FRONT_FMIN_HZ = 30.0


class SpectralFrontEnd(nn.Module):
    """wav2vec2's feature extractor for the stereo grader: ``forward(x, length)``,
    ``x`` ``(batch, 2, samples)`` (mid, side over the mid's RMS) to
    ``(batch, frames, features)`` and None.

    Per frame of :data:`FRONT_HOP` samples: the level (dB / 20) of
    :data:`FRONT_BANDS` log-spaced bands from 30 Hz to 22 kHz of mid and of side,
    and the RMS and peak levels of each one's second difference over the hop.
    """

    def __init__(self, sample_rate: int = 44100):
        super().__init__()
        freqs = np.fft.rfftfreq(FRONT_N_FFT, 1.0 / sample_rate)
        edges = np.geomspace(FRONT_FMIN_HZ, sample_rate / 2, FRONT_BANDS + 1)
        fb = np.zeros((FRONT_BANDS, freqs.size), np.float32)
        for i in range(FRONT_BANDS):
            sel = (freqs >= edges[i]) & (freqs < edges[i + 1])
            if not sel.any():  # narrower than a bin: the nearest bin
                sel = np.abs(freqs - np.sqrt(edges[i] * edges[i + 1])) == \
                    np.min(np.abs(freqs - np.sqrt(edges[i] * edges[i + 1])))
            fb[i, sel] = 1.0
        self.register_buffer("bands", torch.from_numpy(fb), persistent=False)
        self.register_buffer("window", torch.hann_window(FRONT_N_FFT), persistent=False)
        self.features = 2 * FRONT_BANDS + 4

    @staticmethod
    def _db(p: torch.Tensor) -> torch.Tensor:
        return 10 * torch.log10(p + 1e-12) / 20.0

    def forward(self, x: torch.Tensor, length=None):
        b, c, n = x.shape
        flat = x.reshape(b * c, n)
        spec = torch.stft(flat, FRONT_N_FFT, FRONT_HOP, window=self.window, center=True,
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # (b*c, bins, frames)
        frames = power.shape[-1]
        band = self._db(torch.einsum("kf,nft->nkt", self.bands, power) / FRONT_N_FFT)
        d2 = flat[:, 2:] - 2 * flat[:, 1:-1] + flat[:, :-2]
        d2 = nn.functional.pad(d2, (1, 1 + frames * FRONT_HOP - n))[:, :frames * FRONT_HOP]
        blocks = d2.reshape(b * c, frames, FRONT_HOP)
        imp = torch.stack([self._db(blocks.pow(2).mean(-1)),
                           self._db(blocks.pow(2).amax(-1))], dim=1)  # (b*c, 2, frames)
        feats = torch.cat([band, imp], dim=1).reshape(b, c * (FRONT_BANDS + 2), frames)
        return feats.transpose(1, 2), None


class Grader(nn.Module):
    """wav2vec2 encoder, mean-pooled, then a linear layer over :data:`GRADES`.

    ``forward(x)``: the output of :meth:`prepare` to logits ``(batch, len(GRADES))``;
    :meth:`prepare` makes that input from 44.1 kHz stereo windows. Mono graders
    hear 16-kHz mid through wav2vec2's convolutions; stereo ones (``stereo``)
    44.1-kHz mid and side through :class:`SpectralFrontEnd`, and give
    :meth:`forward_all` (the grade and :data:`MEASURE_OUTPUTS`).
    """

    def __init__(self, config: dict, *, input_rate: int = 44100, stereo: bool = False):
        super().__init__()
        self.config = dict(config)
        self.stereo = stereo
        if stereo:
            front = SpectralFrontEnd(input_rate)
            # torchaudio's encoder for these features, under our feature extractor;
            # the features are levels, so the projection's layer norm (which would take
            # each frame's level away) is left out
            inner = wav2vec2_model(**{**self.config, "extractor_conv_layer_config":
                                      [(front.features, 1, 1)]})
            inner.encoder.feature_projection.layer_norm = nn.Identity()
            self.wav2vec2 = Wav2Vec2Model(front, inner.encoder)
        else:
            self.wav2vec2 = wav2vec2_model(**self.config)
        dim = self.config["encoder_embed_dim"]
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(dim, len(GRADES)))
        self.measure_head = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(),
                                          nn.Linear(dim, len(MEASURE_OUTPUTS))) \
            if stereo else None
        self.input_rate = input_rate
        self.resample = None if stereo else torchaudio.transforms.Resample(input_rate,
                                                                          GRADER_RATE)

    def prepare(self, audio: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` at ``input_rate`` to the model's input:
        normalised 16-kHz mono, or mid and side over the mid's RMS (``(batch, 2, n)``)."""
        mid = audio.mean(dim=1)
        if not self.stereo:
            x = self.resample(mid)
            x = x - x.mean(dim=-1, keepdim=True)
            return x / (x.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-5)
        side = (audio[:, 0] - audio[:, -1]) / 2
        x = torch.stack([mid, side], dim=1)
        x = x - x.mean(dim=-1, keepdim=True)
        return x / (x[:, :1].pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-5)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output ``(batch, frames, dim)`` for prepared input."""
        return self.wav2vec2(x)[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared input to the pooled embedding ``(batch, dim)`` the grade head reads."""
        return self.frames(x).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Grade logits and measures (:data:`MEASURE_OUTPUTS`, scaled) in one pass."""
        if self.measure_head is None:
            raise ValueError("this grader has no measures head")
        h = self.frames(x)
        pooled = h.mean(dim=1)
        return self.head(pooled), self.measure_head(torch.cat([pooled, h.amax(dim=1)], 1))


def decode_measures(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The measures head's scaled outputs ``(n, 3)`` to n re each window's level (dB)
    and k (crackle per second)."""
    out = np.asarray(out, dtype=np.float64)
    return (out[:, 0] * MEASURE_SCALE_DB + MEASURE_OFFSET_DB,
            np.expm1(np.maximum(out[:, 1], 0.0)))


def build_grader(size: str = "small", *, config: dict | None = None) -> Grader:
    """The grader architecture: ``size`` names a configuration of :data:`CONFIGS`;
    "stereo" is the small encoder over :class:`SpectralFrontEnd`, with the measures."""
    if size not in CONFIGS and size != "stereo":
        raise ValueError(f"unknown grader size {size!r}; one of {sorted(CONFIGS) + ['stereo']}")
    if config is None:
        config = CONFIGS["small" if size == "stereo" else size]
    cfg = dict(config)
    if cfg.get("extractor_conv_layer_config") is not None:
        cfg["extractor_conv_layer_config"] = [tuple(c) for c in cfg["extractor_conv_layer_config"]]
    return Grader(cfg, stereo=size == "stereo")


def load_pretrained_encoder(grader: Grader, path: str | os.PathLike) -> None:
    """Start ``grader``'s wav2vec2 from a local pretrained checkpoint.

    The file holds a torchaudio ``Wav2Vec2Model`` state dict (as saved by
    ``torch.save(model.state_dict())`` from ``torchaudio.models.wav2vec2_base``
    or a converted fairseq/Hugging Face model); it is loaded with
    ``weights_only=True``. Keys of a pretraining head (``aux``, quantiser) are
    ignored; every encoder tensor must be present with the right shape.

    Raises
    ------
    WeightsError
        Missing, unreadable or mismatched checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such pretrained wav2vec2 checkpoint")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{p}: not a plain tensor checkpoint ({type(exc).__name__})") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise WeightsError(f"{p}: expected a state dict")
    own = grader.wav2vec2.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise WeightsError(f"{p}: not a wav2vec2 checkpoint for this configuration "
                           f"({len(missing)} tensors missing, e.g. {missing[0]})")
    wrong = [k for k in own if tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        raise WeightsError(f"{p}: shape mismatch for {wrong[0]}: {tuple(state[wrong[0]].shape)} "
                           f"vs {tuple(own[wrong[0]].shape)}")
    bad = [k for k in own if state[k].is_floating_point() and not torch.isfinite(state[k]).all()]
    if bad:
        raise WeightsError(f"{p}: non-finite values in {bad[0]}")
    grader.wav2vec2.load_state_dict({k: state[k] for k in own})


def aggregate(window_probs: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
    """One side's grade probabilities from its windows'.

    The mean of per-window log-probabilities (a product of experts, renormalised):
    every window is evidence about the same record.

    Parameters
    ----------
    window_probs : np.ndarray, shape (windows, len(GRADES))
    weights : np.ndarray, shape (windows,), optional
        E.g. 0 for silent windows.

    Returns
    -------
    np.ndarray, shape (len(GRADES),)
    """
    p = np.asarray(window_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(GRADES) or p.shape[0] == 0:
        raise ValueError(f"expected (windows, {len(GRADES)}) probabilities, got {p.shape}")
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        return np.full(len(GRADES), 1 / len(GRADES))
    logp = np.log(np.clip(p, 1e-6, 1.0))
    s = (w[:, None] * logp).sum(0) / w.sum()
    s = np.exp(s - s.max())
    return s / s.sum()

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
live above 8 kHz), both over the mid's RMS, through a first convolution of
stride 10 and the small configuration's encoder. Beside the grade it measures
the window (:data:`MEASURE_OUTPUTS`: n re the window's level, log(1 + k),
log(1 + c)), trained on the simulator's exact per-window quantities.
:func:`aggregate` turns per-window probabilities into one side's grade.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn
from torchaudio.models import wav2vec2_model

from vinylmon.errors import WeightsError
from vinylmon.rubric import GRADES

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
    # mid and side at 44.1 kHz: 10x fewer samples after the first layer, 69 frames/s
    "stereo": dict(
        extractor_mode="group_norm",
        extractor_conv_layer_config=[(32, 20, 10)] + _CONV_SMALL[1:],
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


class Grader(nn.Module):
    """wav2vec2 encoder, mean-pooled, then a linear layer over :data:`GRADES`.

    ``forward(x)``: the output of :meth:`prepare` to logits ``(batch, len(GRADES))``;
    :meth:`prepare` makes that input from 44.1 kHz stereo windows. Mono graders
    (``input_channels=1``) hear 16-kHz mid; stereo ones 44.1-kHz mid and side and,
    with ``measures``, also give :meth:`measure`.
    """

    def __init__(self, config: dict, *, input_rate: int = 44100, input_channels: int = 1,
                 measures: bool = False):
        super().__init__()
        if input_channels not in (1, 2):
            raise ValueError(f"input_channels must be 1 or 2, got {input_channels}")
        self.config = dict(config)
        self.input_channels = input_channels
        self.wav2vec2 = wav2vec2_model(**self.config)
        if input_channels == 2:
            first = self.wav2vec2.feature_extractor.conv_layers[0]
            c = first.conv
            first.conv = nn.Conv1d(2, c.out_channels, c.kernel_size[0], stride=c.stride[0],
                                   bias=c.bias is not None)
        dim = self.config["encoder_embed_dim"]
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(dim, len(GRADES)))
        self.measure_head = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(),
                                          nn.Linear(dim, len(MEASURE_OUTPUTS))) \
            if measures else None
        self.input_rate = input_rate
        self.rate = GRADER_RATE if input_channels == 1 else input_rate
        self.resample = torchaudio.transforms.Resample(input_rate, GRADER_RATE) \
            if input_channels == 1 else None

    def prepare(self, audio: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` at ``input_rate`` to the model's input:
        normalised 16-kHz mono, or mid and side over the mid's RMS (``(batch, 2, n)``)."""
        mid = audio.mean(dim=1)
        if self.input_channels == 1:
            x = self.resample(mid)
            x = x - x.mean(dim=-1, keepdim=True)
            return x / (x.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-5)
        side = (audio[:, 0] - audio[:, -1]) / 2
        x = torch.stack([mid, side], dim=1)
        x = x - x.mean(dim=-1, keepdim=True)
        return x / (x[:, :1].pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-5)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output ``(batch, frames, dim)`` for prepared input."""
        if self.input_channels == 1:
            return self.wav2vec2(x)[0]
        for layer in self.wav2vec2.feature_extractor.conv_layers:
            x, _ = layer(x, None)
        return self.wav2vec2.encoder(x.transpose(1, 2), None)

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


def build_grader(size: str = "small", *, config: dict | None = None,
                 input_channels: int | None = None, measures: bool | None = None) -> Grader:
    """The grader architecture: ``size`` names a configuration of :data:`CONFIGS`
    ("stereo": two input channels at 44.1 kHz and the measures head, unless told)."""
    if config is None:
        if size not in CONFIGS:
            raise ValueError(f"unknown grader size {size!r}; one of {sorted(CONFIGS)}")
        config = CONFIGS[size]
    cfg = dict(config)
    if cfg.get("extractor_conv_layer_config") is not None:
        cfg["extractor_conv_layer_config"] = [tuple(c) for c in cfg["extractor_conv_layer_config"]]
    stereo = size == "stereo"
    return Grader(cfg, input_channels=input_channels or (2 if stereo else 1),
                  measures=stereo if measures is None else measures)


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

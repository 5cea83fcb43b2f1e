"""Window measures: surface noise n and crackle density k, learned from exact truth.

Neither can be counted one detection at a time: the noise bed lies under the
music, and dense crackle 11-45 dB under L is mostly masked tick by tick. A small
MLP reads what the window shows of them (the quiet frames of each band in the
mid and side signals, :func:`vinylmon.audio.noisefloor.noise_features`; the
candidate impulses per second by score and signal,
:func:`vinylmon.audio.candidates.impulse_features`) and gives n (dB re the
window's level) and log(1 + k) (k crackle per second), trained on windows whose
bed and crackle the simulator knows exactly (``scripts/train_measures.py``).
Architecture (``build_measures``) is separate from weights (``vinylmon/weights/measures``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from vinylmon.audio.noisefloor import n_inputs

#: Output 0 is n re the window level, as (n - OFFSET_DB) / LEVEL_SCALE_DB; output 1 is
#: log1p(k).
LEVEL_SCALE_DB = 20.0
OFFSET_DB = -45.0
OUTPUTS = ("noise_db", "log1p_crackle_per_s")


@dataclass(frozen=True)
class MeasuresConfig:
    features: int = n_inputs()
    hidden: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


class WindowMeasures(nn.Module):
    """``forward(features)``: ``(n, features)`` -> ``(n, 2)`` (scaled; see :func:`decode`)."""

    def __init__(self, config: MeasuresConfig | None = None):
        super().__init__()
        self.config = c = config or MeasuresConfig()
        self.net = nn.Sequential(nn.Linear(c.features, c.hidden), nn.ReLU(),
                                 nn.Linear(c.hidden, c.hidden), nn.ReLU(),
                                 nn.Linear(c.hidden, len(OUTPUTS)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


def build_measures(params: dict | None = None) -> WindowMeasures:
    return WindowMeasures(MeasuresConfig(**params) if params else MeasuresConfig())


def encode(noise_db, crackle_per_s) -> np.ndarray:
    """Targets -> the regressor's outputs, ``(n, 2)``."""
    n = (np.asarray(noise_db, dtype=np.float32) - OFFSET_DB) / LEVEL_SCALE_DB
    k = np.log1p(np.maximum(np.asarray(crackle_per_s, dtype=np.float32), 0.0))
    return np.stack([n, k], axis=-1).astype(np.float32)


def decode(y: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The regressor's outputs -> (n re the window level in dB, k per second)."""
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    return y[..., 0] * LEVEL_SCALE_DB + OFFSET_DB, np.expm1(np.maximum(y[..., 1], 0.0))

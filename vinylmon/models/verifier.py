"""The click verifier: which impulse candidates are damage, not music.

The second stage of the click detector. The first
(:func:`vinylmon.audio.candidates.find_candidates`) proposes every place where
the second difference of L, R or L - R stands far over its local scale: all
clicks that can be heard, and a few dozen music transients per second. This
small network looks at each candidate (a few ms of raw samples and second
difference of the three signals, and the ~100 ms of texture around it,
:func:`vinylmon.audio.candidates.patches`) and says:

- the probability that it is an impulse the music did not make;
- the impulse's peak in dB re the window's level (for the click/crackle split
  at L - 10 dB);
- where its span starts and ends re the candidate (the samples a restorer
  must repair);
- its channel: left, right or both.

Architecture (``build_verifier``) is separate from weights (``vinylmon/weights/verifier``).
A cascade: a prefilter on the context features alone rejects most music
candidates before the convolutional part runs. About 20 k parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vinylmon.audio.candidates import (
    POST,
    PRE,
    TEXTURE_BLOCKS,
    Candidates,
    find_candidates,
    patches,
)
from vinylmon.grading.rubric import CLICK_FLOOR_DB

#: Outputs: impulse logit, peak dB re window level / 20, start and end re candidate
#: (samples / OFFSET_SCALE), channel logits (left, right, both); then the
#: prefilter's impulse logit (from the context features alone).
OUTPUTS = ("logit", "peak", "start", "end", "left", "right", "both", "prefilter")
LEVEL_SCALE_DB = 20.0
OFFSET_SCALE = 64.0
CHANNELS = ("left", "right", "both")
#: The faintest crackle tick (peak dB re the window's level) a bundle's verifier counts
#: toward k by default (meta.json ``postprocess.crackle_floor_db``). Chosen by an
#: ad-hoc check on the validation split (the rubric on the truth's other quantities, k
#: from the ticks; no script kept): the grade was the same for floors from -50 to -30 dB.
CRACKLE_FLOOR_DB = -40.0
#: From this many crackle ticks a second in a window the detector's count heads (which
#: also count the ticks the music masks) may raise its k (meta.json
#: ``postprocess.crackle_gate_per_s``): one tick in a 5-s window. On the validation
#: split (``scripts/evaluate_grading.py --split val --control control_val
#: --crackle-gate G``) the grade was exact for 0.42 of the excerpts at 0.2, 0.40 at 0.6
#: and 1.0, 0.37 with the ticks alone; clean control music graded NM 25, 26, 26 and 26
#: of 40 (the count heads alone: 0.38 and 10 of 40).
CRACKLE_GATE_PER_S = 0.2
#: How far (logit) a bundle may move the probability of impulses it places in both
#: channels of stereo audio (meta.json ``postprocess.both_logit_offset``).
MAX_BOTH_OFFSET = 20.0
#: An accepted candidate this close (samples) after the end of the event before it
#: (or inside it) is part of that event; others are events of their own even
#: when the spans placed around them overlap (dense crackle).
MERGE_GAP = 11


@dataclass(frozen=True)
class VerifierConfig:
    """Architecture parameters (stored in meta.json ``params``)."""

    width: int = 32
    stem: int = 16
    hidden: int = 48
    length: int = PRE + POST
    pre: int = PRE
    context: int = 3 * 2 * (2 * TEXTURE_BLOCKS + 1) + 5
    candidate_threshold: float = 6.0
    #: The patches carry the music's prediction error (three more wave channels and
    #: context values, :func:`vinylmon.audio.candidates.whitened`). Bundles from
    #: before it (2.0) lack the key: False.
    whiten: bool = False
    #: Residual dilated convolutions (kernel 3, dilation 1, 2, 4, ...) after the three
    #: strided ones: a wider view of the patch. Bundles from before it (2.x) lack the
    #: key: 0.
    layers: int = 0

    @property
    def wave_channels(self) -> int:
        return 9 if self.whiten else 6

    @property
    def context_size(self) -> int:
        return self.context + (3 if self.whiten else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VerifierConfig:
        return cls(**d)


class ClickVerifier(nn.Module):
    """``forward(wave, context)``: ``(n, 6 or 9, length)``, ``(n, context)`` -> ``(n, 8)``.

    A cascade: :meth:`prefilter` judges a candidate from its context features
    alone (a few hundred multiply-adds); only the candidates it does not reject
    need the convolutional part (:meth:`forward`).
    """

    def __init__(self, config: VerifierConfig | None = None):
        super().__init__()
        self.config = c = config or VerifierConfig()
        w = c.width
        self.conv = nn.Sequential(
            nn.Conv1d(c.wave_channels, c.stem, 7, stride=2, padding=3), nn.ReLU(),
            nn.Conv1d(c.stem, w, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(w, w, 3, stride=2, padding=1), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Conv1d(w, w, 3, padding=2 ** i, dilation=2 ** i) for i in range(c.layers))
        self._centre = c.pre // 8  # the candidate's position after three strides of 2
        self.ctx = nn.Sequential(nn.Linear(c.context_size, c.hidden), nn.ReLU())
        self.pre = nn.Linear(c.hidden, 1)
        self.head = nn.Sequential(nn.Linear(3 * w + c.hidden, c.hidden), nn.ReLU(),
                                  nn.Linear(c.hidden, len(OUTPUTS) - 1))

    def prefilter(self, context: torch.Tensor) -> torch.Tensor:
        """The prefilter's impulse logit, ``(n,)``."""
        return self.pre(self.ctx(context))[:, 0]

    def forward(self, wave: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.conv(wave)
        for block in self.blocks:
            h = h + F.relu(block(h))
        pooled = torch.cat([h.mean(-1), h.amax(-1), h[..., self._centre]], dim=1)
        c = self.ctx(context)
        return torch.cat([self.head(torch.cat([pooled, c], dim=1)), self.pre(c)], dim=1)


class VerifierEnsemble(nn.Module):
    """Click verifiers whose outputs are averaged (logits, peaks, spans, channels).

    Members may differ in their inputs: a member without the prediction-error inputs
    reads the first 6 wave channels and the first context values of the patches
    cut for the widest member (:func:`vinylmon.audio.candidates.patches` appends the
    whitened ones). The prefilter passes what any member's prefilter passes (the
    largest logit, in :meth:`prefilter` and in the last output alike). ``config`` is
    the widest member's: what the patches must hold.
    """

    def __init__(self, members: list[ClickVerifier]):
        super().__init__()
        if not members:
            raise ValueError("a verifier ensemble needs at least one member")
        if len({m.config.candidate_threshold for m in members}) != 1 or \
                len({(m.config.length, m.config.pre, m.config.context) for m in members}) != 1:
            raise ValueError("the ensemble's verifiers must share the candidate threshold "
                             "and the patch geometry")
        self.members = nn.ModuleList(members)
        self.config = max((m.config for m in members), key=lambda c: c.wave_channels)

    @property
    def params(self) -> dict:
        """meta.json ``params`` that :func:`build_verifier` rebuilds this from."""
        return {"members": [m.config.to_dict() for m in self.members]}

    def prefilter(self, context: torch.Tensor) -> torch.Tensor:
        return torch.stack([m.prefilter(context[:, :m.config.context_size])
                            for m in self.members]).amax(0)

    def forward(self, wave: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return _pool(_judge(self.members, wave, context))

    def cascade(self, c, *, prefilter: float, device,
                raw: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates ``c`` judged as a cascade: the members on raw patches judge
        every candidate the prefilter passes (theirs: the largest logit); only those
        whose pooled logit lies in :data:`CASCADE_LOGITS` (neither clearly music nor
        clearly a click) get the whitened patches, which cost more than the rest,
        and the other members. ``raw``: ``c``'s raw patches when already cut
        (:func:`first_patches`). Returns the judged candidates' samples and outputs
        (the raw members' alone where the cascade stopped early)."""
        cheap = [m for m in self.members if not m.config.whiten]
        dear = [m for m in self.members if m.config.whiten]
        wave, ctx = patches(c) if raw is None else raw
        with torch.inference_mode():
            ctx_t = torch.from_numpy(ctx).to(device)
            alive = np.arange(len(c))
            if prefilter > 0:
                pre = torch.stack([m.prefilter(ctx_t) for m in cheap]).amax(0)
                alive = np.flatnonzero(torch.sigmoid(pre).cpu().numpy() >= prefilter)
            cheap_outs = _judge(cheap, torch.from_numpy(wave[alive]).to(device), ctx_t[alive])
            out = _pool(cheap_outs)
            lo, hi = CASCADE_LOGITS
            unsure = np.flatnonzero(((out[:, 0] >= lo) & (out[:, 0] <= hi)).cpu().numpy())
            if dear and unsure.size:
                w2, ctx2 = patches(c.subset(alive[unsure]), whiten=True)
                dear_outs = _judge(dear, torch.from_numpy(w2).to(device),
                                   torch.from_numpy(ctx2).to(device))
                out[unsure] = _pool(torch.cat([cheap_outs[:, unsure], dear_outs]))
        return c.index[alive], out.float().cpu().numpy()


def _cascades(model: ClickVerifier | VerifierEnsemble) -> bool:
    """Whether :func:`find_impulses` judges with ``model`` as a cascade (by default)."""
    return isinstance(model, VerifierEnsemble) and \
        any(not m.config.whiten for m in model.members)


def first_patches(model: ClickVerifier | VerifierEnsemble,
                  c: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """The patches :func:`find_impulses` (cascade on) cuts first for ``model`` from the
    candidates ``c``: every candidate's, raw for a cascade, else as the model reads
    them; to cut ahead (a file's reader thread) and give it as ``first``."""
    return patches(c) if _cascades(model) else patches(c, whiten=model.config.whiten)


#: The pooled logits of the raw-input members between which a candidate is unsure and
#: the whitened member is asked too (probability 0.2 .. 0.9999): on the validation
#: split the cascade kept the ensemble's click F1 (see weights/README.md).
CASCADE_LOGITS = (-1.4, 9.2)


def _judge(members, wave: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """Each member's outputs ``(members, n, outputs)`` on patches cut for the widest:
    a member reads the wave channels and context values it was trained on (the first)."""
    return torch.stack([m(wave[:, :m.config.wave_channels], context[:, :m.config.context_size])
                        for m in members])


def _pool(outs: torch.Tensor) -> torch.Tensor:
    """Members' outputs ``(members, n, outputs)`` pooled: the mean, and the largest
    prefilter logit."""
    return torch.cat([outs[..., :-1].mean(0), outs[..., -1:].amax(0)], dim=1)


def tensors(examples, device) -> dict[str, torch.Tensor]:
    """Labelled candidates (:class:`vinylmon.training.verifier_data.Examples`) as tensors
    by field name."""
    return {f: torch.from_numpy(np.ascontiguousarray(getattr(examples, f))).to(device)
            for f in examples.__dataclass_fields__}


def verifier_loss(out: torch.Tensor, t: dict) -> tuple[torch.Tensor, dict]:
    """The training loss of ``out = model(t["wave"], t["context"])`` against the labels
    (:func:`tensors`); and its parts by name. Peak, span and channel count on the
    positives only; the prefilter learns the same label from the context alone."""
    l_imp = F.binary_cross_entropy_with_logits(out[:, 0], t["label"])
    pos = t["label"] > 0
    if bool(pos.any()):
        o = out[pos]
        l_peak = F.smooth_l1_loss(o[:, 1], t["peak_db"][pos] / LEVEL_SCALE_DB)
        l_span = F.smooth_l1_loss(o[:, 2], t["start"][pos]) + F.smooth_l1_loss(o[:, 3],
                                                                               t["end"][pos])
        l_chan = F.cross_entropy(o[:, 4:7], t["channel"][pos])
    else:
        l_peak = l_span = l_chan = out.sum() * 0.0
    l_pre = F.binary_cross_entropy_with_logits(out[:, 7], t["label"])
    total = 2 * l_imp + l_peak + l_span + 0.5 * l_chan + 0.5 * l_pre
    return total, {"imp": l_imp, "peak": l_peak, "span": l_span, "chan": l_chan, "pre": l_pre}


def build_verifier(params: dict | None = None) -> ClickVerifier | VerifierEnsemble:
    """The architecture from meta.json ``params`` (defaults when None); ``{"members":
    [params, ...]}`` is a :class:`VerifierEnsemble` of those."""
    if params and "members" in params:
        members = params["members"]
        if set(params) != {"members"} or not isinstance(members, list) or \
                not all(isinstance(p, dict) for p in members):
            raise ValueError("an ensemble's params are {'members': [params, ...]}")
        return VerifierEnsemble([build_verifier(p) for p in members])
    return ClickVerifier(VerifierConfig.from_dict(params) if params else VerifierConfig())


@dataclass(frozen=True, slots=True)
class Detection:
    """An impulse the verifier accepted, on samples ``[start, end)`` of its audio.

    ``channel`` is 0, 1 or None (both); ``peak_db`` re the audio's RMS level;
    ``prob`` the verifier's probability.
    """

    start: int
    end: int
    channel: int | None
    peak_db: float
    prob: float


def candidates_for(model: ClickVerifier | VerifierEnsemble, audio: np.ndarray, *,
                   candidate_threshold: float | None = None) -> Candidates:
    """``audio``'s candidates at the threshold ``model`` was trained with (or the one
    given)."""
    thr = model.config.candidate_threshold if candidate_threshold is None else candidate_threshold
    return find_candidates(np.asarray(audio, dtype=np.float32), threshold=thr)


def find_impulses(model: ClickVerifier | VerifierEnsemble, audio: np.ndarray, *,
                  accept: float = 0.5,
                  prefilter: float = 0.0, min_peak_db: float = -np.inf,
                  candidate_threshold: float | None = None, cascade: bool = True,
                  candidates: Candidates | None = None, both_offset: float = 0.0,
                  both_offset_clicked: float | None = None,
                  clicked_accept: float | None = None,
                  first: tuple[np.ndarray, np.ndarray] | None = None,
                  device: torch.device | str = "cpu") -> list[Detection]:
    """Candidates, verified, placed and merged: the impulses in ``audio``.

    Parameters
    ----------
    model : ClickVerifier or VerifierEnsemble
        In eval mode.
    audio : np.ndarray, shape (1 or 2, samples)
    accept : float, keyword-only
        Verifier probability an impulse needs (0..1).
    prefilter : float, keyword-only
        The prefilter's probability below which a candidate is rejected without
        the convolutional part (0: every candidate gets it).
    min_peak_db : float, keyword-only
        Impulses whose peak (dB re the audio's RMS) is below this are not reported:
        that faint, the music's own texture is as likely (crackle that faint is
        measured as a density, :mod:`vinylmon.models.measures`).
    candidate_threshold : float or None, keyword-only
        The candidate stage's threshold; default the one the model was trained with.
    cascade : bool, keyword-only
        An ensemble with raw-input members judges as a cascade
        (:meth:`VerifierEnsemble.cascade`); False: every member on every candidate.
    candidates : Candidates or None, keyword-only
        ``audio``'s candidates when already found (:func:`candidates_for`).
    first : tuple of np.ndarray or None, keyword-only
        :func:`first_patches` of ``candidates``, when already cut (with ``candidates``
        given and ``cascade`` on).
    both_offset : float, keyword-only
        Added to the logit of each impulse of stereo audio that the verifier places
        in both channels (after merging) before it is judged against ``accept``:
        the music's own transients are centred, in both channels, so there the
        verifier is wrong more often than where it hears one channel (negative:
        stricter; :func:`calibrated`). Its probability is the one reported.
    both_offset_clicked : float or None, keyword-only
        The offset instead where ``audio`` holds a click-loud impulse (peak >=
        :data:`~vinylmon.grading.rubric.CLICK_FLOOR_DB` re its level) that the
        verifier accepts in one channel: a damaged record, where an impulse in both
        channels is a click more often than on clean music. None: ``both_offset``
        everywhere.
    clicked_accept : float or None, keyword-only
        The probability the one-channel click-loud impulse needs to mark its audio as
        a damaged record (None: ``accept``; a caller that asks for fainter impulses
        too, such as scratch ticks, gives the bundle's acceptance here).

    Returns
    -------
    list of Detection, sorted by start; an accepted candidate that lies on the
    event before it (:data:`MERGE_GAP`) joins it (the union of their spans, the
    highest peak and probability; both channels when they disagree).
    """
    if not 0.0 <= accept <= 1.0 or not 0.0 <= prefilter <= 1.0:
        raise ValueError(f"accept and prefilter must be in 0..1, got {accept}, {prefilter}")
    if clicked_accept is not None and not 0.0 <= clicked_accept <= 1.0:
        raise ValueError(f"clicked_accept must be in 0..1, got {clicked_accept}")
    for name, v in (("both_offset", both_offset), ("both_offset_clicked", both_offset_clicked)):
        if v is not None and not -MAX_BOTH_OFFSET <= v <= MAX_BOTH_OFFSET:
            raise ValueError(f"{name} must be in -{MAX_BOTH_OFFSET:g}..{MAX_BOTH_OFFSET:g}, "
                             f"got {v}")
    if first is not None and (candidates is None or not cascade):
        raise ValueError("first patches need the candidates they were cut from and cascade on")
    c = candidates_for(model, audio, candidate_threshold=candidate_threshold) \
        if candidates is None else candidates
    if len(c) == 0:
        return []
    if cascade and _cascades(model):
        c_index, out = model.cascade(c, prefilter=prefilter, device=device, raw=first)
        if len(c_index) == 0:
            return []
    else:
        wave, ctx = patches(c, whiten=model.config.whiten) if first is None else first
        with torch.inference_mode():
            ctx_t = torch.from_numpy(ctx).to(device)
            if prefilter > 0:
                pre = torch.sigmoid(model.prefilter(ctx_t)).cpu().numpy()
                alive = np.flatnonzero(pre >= prefilter)
                if alive.size == 0:
                    return []
                c_index = c.index[alive]
                out = model(torch.from_numpy(wave[alive]).to(device), ctx_t[alive])
            else:
                c_index = c.index
                out = model(torch.from_numpy(wave).to(device), ctx_t)
        out = out.float().cpu().numpy()
    prob = 1.0 / (1.0 + np.exp(-out[:, 0].astype(np.float64)))  # float64: offsets move it
    x = np.asarray(audio)
    n = x.shape[-1]
    mono = x.ndim == 1 or x.shape[0] == 1
    offsets = (0.0, 0.0) if mono else (
        float(both_offset), float(both_offset if both_offset_clicked is None
                                  else both_offset_clicked))
    # judged after merging (parts that disagree make an impulse of both channels):
    # the candidates kept pass at the most lenient of the thresholds
    keep = np.flatnonzero(prob >= calibrated(accept, -max(0.0, *offsets)))
    if keep.size == 0:
        return []
    idx = c_index[keep]
    starts = np.clip(idx + np.round(np.minimum(out[keep, 2], 0) * OFFSET_SCALE), 0, n - 1)
    ends = np.clip(idx + 1 + np.round(np.maximum(out[keep, 3], 0) * OFFSET_SCALE), 1, n)
    ends = np.maximum(ends, starts + 1)
    peaks = out[keep, 1] * LEVEL_SCALE_DB
    chans = out[keep, 4:7].argmax(axis=1)
    order = np.argsort(starts, kind="stable")
    merged: list[list] = []
    for j in order:
        s, e = int(starts[j]), int(ends[j])
        ch = None if mono or chans[j] == 2 else int(chans[j])
        if merged and idx[j] < merged[-1][1] + MERGE_GAP:  # on the event before: its part
            m = merged[-1]
            m[1] = max(m[1], e)
            if m[2] != ch:
                m[2] = None
            m[3] = max(m[3], float(peaks[j]))
            m[4] = max(m[4], float(prob[keep[j]]))
        else:
            merged.append([s, e, ch, float(peaks[j]), float(prob[keep[j]])])
    if any(offsets):
        sure = accept if clicked_accept is None else clicked_accept
        clicked = any(shows_clicks(m[2], m[4], m[3], accept=sure) for m in merged)
        offset = offsets[1] if clicked else offsets[0]
        for m in merged:
            if m[2] is None:
                m[4] = calibrated(m[4], offset)
    return [Detection(*m) for m in merged if m[3] >= min_peak_db and m[4] >= accept]


def shows_clicks(channel: int | None, prob: float, peak_db: float, *, accept: float) -> bool:
    """Whether a detection shows that the record clicks: in one channel (centred
    music transients are in both), accepted at ``accept`` and click-loud (peak >=
    :data:`~vinylmon.grading.rubric.CLICK_FLOOR_DB` re L). A window that holds one
    gets the damaged-window settings (``both_offset_clicked``, ``accept_clicked``)."""
    return channel is not None and prob >= accept and peak_db >= CLICK_FLOOR_DB


def calibrated(prob: float, offset: float) -> float:
    """``prob`` with ``offset`` added to its logit (0 and 1 stay as they are)."""
    if offset == 0.0 or prob <= 0.0 or prob >= 1.0:
        return float(prob)
    return float(1.0 / (1.0 + np.exp(-(np.log(prob / (1.0 - prob)) + offset))))

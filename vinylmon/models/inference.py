"""Running the shipped models: load a bundle, batch windows, decode the outputs.

:class:`Detector` and :class:`LearnedGrader` wrap a weights bundle (hash-checked,
``weights_only``) and run batches of 5-s stereo windows under
``torch.inference_mode`` on the selected device. :func:`analyse_windows` turns
gated windows and the detector's outputs into the engine's records; :func:`analyse_excerpt`
runs the detector over a whole excerpt and measures it as a session does, for the
evaluation and the fine-tuning's scoring.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from vinylmon.audio.candidates import Candidates
from vinylmon.audio.gate import SilenceGate
from vinylmon.audio.noisefloor import groove_ticks_dbfs, steady_floor_dbfs, window_features
from vinylmon.audio.repair import measure_impulse
from vinylmon.audio.repetition import repeated_in_music
from vinylmon.audio.types import ANALYSIS_RATE, AudioBlock, Window, frozen_samples, to_stereo
from vinylmon.audio.windowing import windows_from_blocks
from vinylmon.errors import AudioDataError, WeightsError
from vinylmon.grading.events import WINDOW_CLASSES, AnalysedWindow, DefectEvent, Impulse
from vinylmon.grading.measured import SideMeasurement, measure_side
from vinylmon.grading.rubric import CLICK_FLOOR_DB, GRADES
from vinylmon.grading.skips import find_repeats
from vinylmon.models.bundle import META_FILE, WEIGHTS_DIR, load_bundle
from vinylmon.models.detector import (
    DetectorOutput,
    SampleEvent,
    build_detector,
    decode,
    refine_events,
)
from vinylmon.models.device import select_device
from vinylmon.models.grader import GRADER_RATE, MEASURE_OUTPUTS, Grader, build_grader
from vinylmon.models.grader import decode_measures as decode_grader_measures
from vinylmon.models.measures import OUTPUTS as MEASURES_OUTPUTS
from vinylmon.models.measures import build_measures
from vinylmon.models.measures import decode as decode_measures
from vinylmon.models.verifier import (
    MAX_BOTH_OFFSET,
    build_verifier,
    calibrated,
    candidates_for,
    find_impulses,
    first_patches,
    shows_clicks,
)
from vinylmon.models.verifier import OUTPUTS as VERIFIER_OUTPUTS

#: In a window, the music's repeats are looked for click-loud detection by detection
#: (each a search over the window, a few ms) until this many were not repeated while
#: none was (a worn record's clicks), or among all of them once one was (a beat).
REPEAT_GIVE_UP = 6


@dataclass(frozen=True)
class DetectorPostprocess:
    """A detector bundle's ``postprocess``: the frame heads' event thresholds (what
    gives events without a click verifier) and the spreads of the measurements'
    errors on validation music, which the grade's probabilities allow for (0:
    unknown)."""

    threshold: float = 0.5
    impulse_threshold: float | None = None
    min_ratio: float = 6.0
    noise_sd_db: float = 0.0
    crackle_sd_log: float = 0.0
    click_sd_log: float = 0.0

    def as_meta(self) -> dict:
        """As meta.json holds it."""
        return dataclasses.asdict(self)


def _floor(samples: np.ndarray, sample_rate: int) -> tuple[float, tuple[float, ...]]:
    """:func:`steady_floor_dbfs` of a window's audio and the ticks over it
    (:func:`groove_ticks_dbfs`); NaN and none where it cannot be read (a window too
    short, or of more than two channels)."""
    try:
        floor = steady_floor_dbfs(samples, sample_rate=sample_rate)
        return floor, groove_ticks_dbfs(samples, floor, sample_rate=sample_rate)
    except AudioDataError:
        return float("nan"), ()


@dataclass(frozen=True)
class WindowPrep:
    """What a window's analysis needs that the detector's output does not decide, made
    ahead of it (:meth:`Detector.prepare`; a file's reader thread makes it beside the
    detector): the verifier's candidates (None without a verifier), the patches it
    judges first (:func:`~vinylmon.models.verifier.first_patches`; None without
    candidates), and the window's steady floor and the ticks over it (:func:`_floor`)."""

    candidates: Candidates | None
    first_patches: tuple[np.ndarray, np.ndarray] | None
    floor_dbfs: float
    floor_ticks_dbfs: tuple[float, ...]


def _check_windows(windows: Sequence[np.ndarray]) -> np.ndarray:
    if len(windows) == 0:
        raise AudioDataError("no windows to analyse")
    n = windows[0].shape[-1]
    out = np.empty((len(windows), 2, n), np.float32)
    for i, w in enumerate(windows):
        a = np.asarray(w, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2 or a.shape[0] not in (1, 2) or a.shape[1] != n:
            raise AudioDataError(f"window {i}: expected (1 or 2, {n}) samples, got {a.shape}")
        if not np.isfinite(a).all():
            raise AudioDataError(f"window {i} holds NaN or infinite samples")
        out[i] = to_stereo(a)
    return out


def _bad_meta(folder: Path, what: str) -> WeightsError:
    return WeightsError(f"{folder / META_FILE}: {what}: the file is damaged or was changed")


def _short(value: object) -> str:
    """A value from meta.json for a message (a tampered one may be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _build(folder: Path, what: str, build):
    """The architecture ``meta.json`` describes; a WeightsError when it describes none."""
    try:
        return build()
    except WeightsError:
        raise
    except Exception as exc:  # unknown keys, wrong types, absurd sizes: all one answer
        raise _bad_meta(folder, f"'params' do not describe {what} "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                        ) from exc


def _number(folder: Path, meta: dict, key: str, lo: float, hi: float, *,
            default: float | None = None, optional: bool = False,
            within: str = "") -> float | None:
    """``meta[key]`` as a finite number in ``[lo, hi]`` (``within``: the object it is in)."""
    v = meta.get(key, default)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise _bad_meta(folder, f"'{within}{key}' is {_short(v)}, not a number in {lo:g}..{hi:g}")
    return v


def _detector_settings(folder: Path, meta: dict) -> tuple[int, float, DetectorPostprocess]:
    """Sample rate, window length and event post-processing from a detector's meta."""
    rate = _number(folder, meta, "sample_rate", 1, 10**6)
    if rate != ANALYSIS_RATE:
        raise _bad_meta(folder, f"'sample_rate' is {_short(rate)}; vinylmon analyses at "
                                f"{ANALYSIS_RATE} Hz")
    window_s = float(_number(folder, meta, "window_s", 0.5, 60.0, default=5.0))
    labels = meta["labels"]
    classes = labels.get("classes") if isinstance(labels, dict) else None
    if not isinstance(classes, list) or tuple(classes) != WINDOW_CLASSES:
        raise _bad_meta(folder, f"'labels.classes' is {_short(classes)}, "
                                f"not {list(WINDOW_CLASSES)}")
    pp = meta.get("postprocess", {})
    if not isinstance(pp, dict):
        raise _bad_meta(folder, f"'postprocess' is {_short(pp)}, not an object")
    d = DetectorPostprocess()
    imp = _number(folder, pp, "impulse_threshold", 1e-6, 1.0, optional=True,
                  within="postprocess.")
    noise = _number(folder, pp, "noise_sd_db", 0.0, 99.0, optional=True, within="postprocess.")
    crackle = _number(folder, pp, "crackle_sd_log", 0.0, 19.9, optional=True,
                      within="postprocess.")
    clicks = _number(folder, pp, "click_sd_log", 0.0, 19.9, optional=True,
                     within="postprocess.")
    return int(rate), window_s, DetectorPostprocess(
        threshold=float(_number(folder, pp, "threshold", 1e-6, 1.0, default=d.threshold,
                                within="postprocess.")),
        impulse_threshold=None if imp is None else float(imp),
        min_ratio=float(_number(folder, pp, "min_ratio", 1e-6, 1e6, default=d.min_ratio,
                                within="postprocess.")),
        noise_sd_db=0.0 if noise is None else float(noise),
        crackle_sd_log=0.0 if crackle is None else float(crackle),
        click_sd_log=0.0 if clicks is None else float(clicks))


def _load(model: torch.nn.Module, state: dict, folder: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{folder}: weights do not fit the architecture in meta.json "
                           f"({str(exc).splitlines()[0][:160]})") from exc


def _load_small_bundle(folder: Path, device, *, outputs: tuple[str, ...], what: str, build
                       ) -> tuple[torch.nn.Module, dict]:
    """A bundle whose meta names its ``labels.outputs`` (the verifier, the window
    measures): hash-checked, its outputs, rate and params validated, built and loaded."""
    state, meta = load_bundle(folder)
    labels = meta["labels"]
    outs = labels.get("outputs") if isinstance(labels, dict) else None
    if not isinstance(outs, list) or tuple(outs) != outputs:
        raise _bad_meta(folder, f"'labels.outputs' is {_short(outs)}, not {list(outputs)}")
    if _number(folder, meta, "sample_rate", 1, 10**6) != ANALYSIS_RATE:
        raise _bad_meta(folder, f"'sample_rate' is {_short(meta['sample_rate'])}; vinylmon "
                                f"analyses at {ANALYSIS_RATE} Hz")
    params = meta["params"]
    if not isinstance(params, dict):
        raise _bad_meta(folder, f"'params' is {_short(params)}, not an object")
    model = _build(folder, what, lambda: build(params))
    _load(model, state, folder)
    return model.to(device).eval(), meta


@dataclass(frozen=True)
class VerifierSettings:
    """A verifier bundle's post-processing (meta.json ``postprocess``): the acceptance
    probability, the prefilter's threshold, the faintest peak reported (dB re the
    window's level) and the false click-loud events per minute it made on clean
    validation music at those settings (the grade counts c net of them);
    ``scratch_accept``: the (lower) probability at which an impulse may still be a
    tick of a repeating scratch (it is reported only when it is one);
    ``crackle_floor_db``: when set, the verifier also reports the crackle ticks it
    hears down to this peak (dB re the window's level), and k is counted from them
    rather than estimated by the detector's count heads (None: the heads);
    ``crackle_gate_per_s``: in a window where the verifier hears at least this many
    crackle ticks a second, k is the larger of that count and the count heads'
    density (which also holds the ticks the music masks); None: the count alone;
    ``both_offset``: added to the logit of an impulse heard in both channels of
    stereo audio before it is judged (:func:`~vinylmon.models.verifier.find_impulses`);
    ``both_offset_clicked``: the offset instead in a window that holds a one-channel
    click (None: ``both_offset`` everywhere); ``accept_clicked``: the (lower) acceptance
    in such a window, where the record clicks (None: ``accept`` everywhere; applied as
    the logit offset :func:`clicked_offset` there, :meth:`Detector._impulses`);
    ``faint_peak_offsets_db``: (peak, offset) knots, dB, peaks increasing, offsets <= 0:
    added (interpolated, held flat past the ends) to the verifier's learned peak of an
    impulse fainter than L - 10 dB, whose peak is not measured on the audio
    (:meth:`Detector._measured`); the learned peaks of the faint impulses it accepts
    read loud (the ones that read loud are the ones that pass). None: as learned."""

    accept: float = 0.5
    prefilter: float = 0.0
    min_peak_db: float = -200.0
    false_clicks_per_min: float = 0.0
    scratch_accept: float = 0.5
    crackle_floor_db: float | None = None
    crackle_gate_per_s: float | None = None
    both_offset: float = 0.0
    both_offset_clicked: float | None = None
    accept_clicked: float | None = None
    faint_peak_offsets_db: tuple[tuple[float, float], ...] | None = None


#: The most a faint peak's calibration may lower it (dB).
MAX_FAINT_PEAK_OFFSET_DB = 20.0


def faint_peak_offset(peak_db: float, knots: Sequence[tuple[float, float]] | None) -> float:
    """The calibration offset (dB, <= 0) for a learned peak of ``peak_db``:
    :attr:`VerifierSettings.faint_peak_offsets_db` interpolated (0 for None)."""
    if not knots:
        return 0.0
    return float(np.interp(peak_db, [k[0] for k in knots], [k[1] for k in knots]))


def clicked_offset(accept: float, accept_clicked: float | None) -> float:
    """The logit offset that makes an impulse judged against ``accept`` pass where its
    probability reaches ``accept_clicked`` instead (0 for None or no lower)."""
    if accept_clicked is None or not accept_clicked < accept:
        return 0.0
    a, b = (min(max(p, 1e-6), 1 - 1e-6) for p in (accept, accept_clicked))
    return min(MAX_BOTH_OFFSET, math.log(a / (1 - a)) - math.log(b / (1 - b)))


def load_verifier(folder: Path, device) -> tuple[torch.nn.Module, float, float, float]:
    """The click verifier bundle (hash-checked), its acceptance probability, its
    prefilter's threshold and the faintest peak it reports (dB re window level);
    :func:`verifier_settings` has all of its post-processing."""
    model, meta = _load_small_bundle(folder, device, outputs=VERIFIER_OUTPUTS,
                                     what="a click verifier", build=build_verifier)
    st = verifier_settings(folder, meta)
    return model, st.accept, st.prefilter, st.min_peak_db


def verifier_settings(folder: Path, meta: dict) -> VerifierSettings:
    """The post-processing in a verifier bundle's ``meta``, checked."""
    pp = meta.get("postprocess", {})
    if not isinstance(pp, dict):
        raise _bad_meta(folder, f"'postprocess' is {_short(pp)}, not an object")
    accept = float(_number(folder, pp, "accept", 0.0, 1.0, default=0.5, within="postprocess."))
    prefilter = float(_number(folder, pp, "prefilter", 0.0, 1.0, default=0.0,
                              within="postprocess."))
    min_peak = float(_number(folder, pp, "min_peak_db", -200.0, 60.0, default=-200.0,
                             within="postprocess."))
    false_rate = float(_number(folder, pp, "false_clicks_per_min", 0.0, 1000.0, default=0.0,
                               within="postprocess."))
    scratch = float(_number(folder, pp, "scratch_accept", 0.0, 1.0, default=accept,
                            within="postprocess."))
    crackle = _number(folder, pp, "crackle_floor_db", -200.0, CLICK_FLOOR_DB, optional=True,
                      within="postprocess.")
    gate = _number(folder, pp, "crackle_gate_per_s", 0.0, 1000.0, optional=True,
                   within="postprocess.")
    both = float(_number(folder, pp, "both_logit_offset", -MAX_BOTH_OFFSET, MAX_BOTH_OFFSET,
                         default=0.0, within="postprocess."))
    clicked = _number(folder, pp, "both_logit_offset_clicked", -MAX_BOTH_OFFSET,
                      MAX_BOTH_OFFSET, optional=True, within="postprocess.")
    # like scratch_accept, never over the acceptance (a microphone profile's fine-tune
    # chooses its own acceptance and keeps the base bundle's other settings)
    accept_clicked = _number(folder, pp, "accept_clicked", 0.0, 1.0, optional=True,
                             within="postprocess.")
    return VerifierSettings(accept, prefilter, min_peak, false_rate, min(scratch, accept),
                            None if crackle is None else float(crackle),
                            None if gate is None else float(gate), both,
                            None if clicked is None else float(clicked),
                            None if accept_clicked is None else min(float(accept_clicked),
                                                                    accept),
                            _faint_offsets(folder, pp))


def _faint_offsets(folder: Path, pp: dict) -> tuple[tuple[float, float], ...] | None:
    """``postprocess.faint_peak_offsets_db`` checked: pairs of numbers, peaks
    increasing and below L - 10 dB, offsets in -:data:`MAX_FAINT_PEAK_OFFSET_DB`..0."""
    key = "postprocess.faint_peak_offsets_db"
    v = pp.get("faint_peak_offsets_db")
    if v is None:
        return None
    if not isinstance(v, list) or not v or not all(
            isinstance(k, list) and len(k) == 2 for k in v):
        raise _bad_meta(folder, f"'{key}' is {_short(v)}, not a list of [peak, offset] pairs")
    knots = []
    for i, (peak, off) in enumerate(v):
        knots.append((float(_number(folder, {"peak": peak}, "peak", -200.0, CLICK_FLOOR_DB,
                                    within=f"{key}[{i}].")),
                      float(_number(folder, {"offset": off}, "offset",
                                    -MAX_FAINT_PEAK_OFFSET_DB, 0.0, within=f"{key}[{i}]."))))
    if any(b[0] <= a[0] for a, b in zip(knots, knots[1:], strict=False)):
        raise _bad_meta(folder, f"'{key}' peaks are not increasing: {_short(v)}")
    return tuple(knots)


class WindowMeasurer:
    """Surface noise and crackle density per window: ``measurer(windows)``, windows
    ``(n, channels, samples)`` float32 at 44.1 kHz, to ``(n re each window's level
    in dB, k per second)``, arrays of ``n``.

    ``model`` is a window-measures regressor (:mod:`vinylmon.models.measures`, on
    :func:`~vinylmon.audio.noisefloor.window_features`) or a stereo grader
    (:mod:`vinylmon.models.grader`, its measures head on the audio itself).
    """

    def __init__(self, model: torch.nn.Module, device, *, source: str,
                 uses: tuple[str, ...] = MEASURES_OUTPUTS):
        self.model, self.device, self.source = model, device, source
        #: Which of its outputs the detector takes (``noise_db``, ``log1p_crackle_per_s``);
        #: for the others it keeps its own heads.
        self.uses = frozenset(uses)

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            if isinstance(self.model, Grader):
                _, m = self.model.forward_all(self.model.prepare(
                    torch.from_numpy(windows).to(self.device)))
                return decode_grader_measures(m.float().cpu().numpy())
            feats = np.stack([window_features(w) for w in windows])
            return decode_measures(self.model(torch.from_numpy(feats).to(self.device)))


def load_measures(folder: Path, device) -> WindowMeasurer:
    """The window measures of a bundle (hash-checked): a window-measures bundle, or a
    stereo grader's (meta.json ``measures``)."""
    state, meta = load_bundle(folder)
    if meta.get("name") == "grader":
        m = meta.get("measures")
        params = meta.get("params")
        if not isinstance(m, dict) or tuple(m.get("outputs") or ()) != MEASURE_OUTPUTS or \
                not isinstance(params, dict) or params.get("size") != "stereo":
            raise _bad_meta(folder, "a grader bundle without a stereo grader's 'measures'")
        model = _build(folder, "a grader", lambda: build_grader("stereo",
                                                                config=params.get("config")))
        _load(model, state, folder)
        return WindowMeasurer(model.to(device).eval(), device,
                              source=f"the stereo grader ({folder.name} {meta['version']})")
    model, meta = _load_small_bundle(folder, device, outputs=MEASURES_OUTPUTS,
                                     what="window measures", build=build_measures)
    uses = meta.get("use", list(MEASURES_OUTPUTS))
    if not isinstance(uses, list) or not uses or not set(uses) <= set(MEASURES_OUTPUTS):
        raise _bad_meta(folder, f"'use' is {_short(uses)}, not a list of some of "
                                f"{list(MEASURES_OUTPUTS)}")
    return WindowMeasurer(model, device, uses=tuple(uses),
                          source=f"the window measures ({folder.name} {meta['version']})")


def _shipped_measures(given) -> Path | None:
    """The window measures' folder: ``given``; by default ``vinylmon/weights/measures``, else the
    shipped grader when it is a stereo one (it measures n and k on the way)."""
    folder = _optional_bundle(given, "measures")
    if folder is None and given in (None, True):
        grader = WEIGHTS_DIR / "grader" / META_FILE
        try:
            if grader.exists() and "measures" in json.loads(grader.read_text()):
                return grader.parent
        except (OSError, ValueError):
            return None
    return folder


def _optional_bundle(given, name: str) -> Path | None:
    """The folder of an optional bundle: ``given`` (a path), the shipped one when
    ``given`` is None or True and it exists, or none when False."""
    if given is False:
        return None
    if given in (None, True):
        folder = WEIGHTS_DIR / name
        return folder if (folder / META_FILE).exists() else None
    return Path(given)


class Detector:
    """The defect detector bundle, ready to run.

    Events come from the click verifier (candidates, verified: see
    :mod:`vinylmon.models.verifier`; less the click-loud ones the music repeats,
    :mod:`vinylmon.audio.repetition`) when its bundle is there, else from the
    detector's frame heads (:func:`~vinylmon.models.detector.refine_events`).
    Surface noise and crackle density come from the window measures
    (:mod:`vinylmon.models.measures`) when their bundle is there, else from
    the detector's window heads (noise; impulse counts less click counts for k:
    crackle the music masks is counted there, where events miss it).

    Parameters
    ----------
    folder : path-like, optional
        A bundle folder (default ``vinylmon/weights/detector``).
    device : str or None, keyword-only
        ``auto`` (default), ``cpu`` or ``cuda``.
    batch : int, keyword-only
    verifier : path-like, False or None, keyword-only
        The click verifier's bundle folder (default ``vinylmon/weights/verifier``, when it
        exists); False: none (events from the frame heads).
    measures : path-like, False or None, keyword-only
        The window measures' bundle folder: a window-measures bundle, or a stereo
        grader's (default ``vinylmon/weights/measures`` when it exists, else the shipped
        grader when it is a stereo one); False: none.
    """

    def __init__(self, folder: str | os.PathLike | None = None, *, device: str | None = None,
                 batch: int = 2, verifier: str | os.PathLike | bool | None = None,
                 measures: str | os.PathLike | bool | None = None):
        self.folder = Path(folder) if folder else WEIGHTS_DIR / "detector"
        self.device = select_device(device)
        state, self.meta = load_bundle(self.folder)
        self.sample_rate, self.window_s, self.postprocess = _detector_settings(self.folder,
                                                                               self.meta)
        params = self.meta["params"]
        if not isinstance(params, dict):
            raise _bad_meta(self.folder, f"'params' is {_short(params)}, not an object")
        self.model = _build(self.folder, "a detector", lambda: build_detector(params))
        _load(self.model, state, self.folder)
        self.model.to(self.device).eval()
        self.batch = batch
        self.verifier: torch.nn.Module | None = None
        self.accept, self.prefilter, self.min_peak_db = 0.5, 0.0, -200.0
        #: Impulses between this and ``accept`` count only as ticks of a repeating scratch.
        self.scratch_accept = 0.5
        #: False click-loud events per minute on clean music (the verifier's, measured
        #: on validation music); the grade counts c net of it.
        self.false_clicks_per_min = 0.0
        #: With the verifier: the faintest crackle tick it reports (dB re the window's
        #: level); k is then counted from those ticks. None: k from the count heads.
        self.crackle_floor_db: float | None = None
        #: Crackle ticks a second in a window from which the count heads' density
        #: (masked ticks too) may raise the window's k; None: the count alone.
        self.crackle_gate_per_s: float | None = None
        #: With the verifier: leave out click-loud impulses that the music repeats
        #: elsewhere in their window (:func:`vinylmon.audio.repetition.repeated_in_music`;
        #: :data:`REPEAT_GIVE_UP`).
        self.drop_repeated = True
        #: Added to the verifier's logit for impulses in both channels of stereo audio;
        #: the second where the window holds a one-channel click (None: the first).
        self.both_offset = 0.0
        self.both_offset_clicked: float | None = None
        #: The acceptance in a window that holds a one-channel click (None: ``accept``).
        self.accept_clicked: float | None = None
        #: Calibration of the learned peaks of faint impulses (:func:`faint_peak_offset`).
        self.faint_peak_offsets_db: tuple[tuple[float, float], ...] | None = None
        self.verifier_folder: Path | None = None
        vfolder = _optional_bundle(verifier, "verifier")
        if vfolder is not None:
            self.verifier, vmeta = _load_small_bundle(
                vfolder, self.device, outputs=VERIFIER_OUTPUTS, what="a click verifier",
                build=build_verifier)
            st = verifier_settings(vfolder, vmeta)
            self.accept, self.prefilter, self.min_peak_db = st.accept, st.prefilter, \
                st.min_peak_db
            self.scratch_accept = st.scratch_accept
            self.false_clicks_per_min = st.false_clicks_per_min
            self.crackle_floor_db = st.crackle_floor_db
            self.crackle_gate_per_s = st.crackle_gate_per_s
            self.both_offset, self.both_offset_clicked = st.both_offset, st.both_offset_clicked
            self.accept_clicked = st.accept_clicked
            self.faint_peak_offsets_db = st.faint_peak_offsets_db
            self.verifier_folder = vfolder
        self.measures: WindowMeasurer | None = None
        self.measures_folder = _shipped_measures(measures)
        if self.measures_folder is not None:
            self.measures = load_measures(self.measures_folder, self.device)

    @property
    def hop(self) -> int:
        return self.model.config.mel.hop_length

    @property
    def event_floor_db(self) -> float:
        """The faintest impulse (dB re the window's level) :meth:`events` reports by
        default: the verifier's click floor, or its crackle floor when it counts k."""
        if self.counts_crackle:
            return min(self.min_peak_db, self.crackle_floor_db)
        return self.min_peak_db

    @property
    def counts_crackle(self) -> bool:
        """Whether k is counted from the verifier's crackle ticks, window by window
        (:meth:`window_crackle`), rather than taken from the count heads alone."""
        return self.verifier is not None and self.crackle_floor_db is not None \
            and "log1p_crackle_per_s" not in self.measured

    @property
    def measured(self) -> frozenset[str]:
        """Which window outputs a measures bundle gives (``noise_db``,
        ``log1p_crackle_per_s``); empty without one: the detector's own heads give them."""
        return self.measures.uses if self.measures is not None else frozenset()

    @property
    def noise_method(self) -> str:
        """What estimates each window's n, in plain words."""
        return self.measures.source if "noise_db" in self.measured else \
            "the detector's noise head (on the side signal)"

    @property
    def crackle_method(self) -> str | None:
        """How k is measured, in plain words (the report's ``methods``), when the
        verifier counts it; None otherwise."""
        if not self.counts_crackle:
            return None
        text = (f"the crackle ticks the click verifier hears (impulses with peak from "
                f"L - {-self.crackle_floor_db:g} dB to L - 10 dB) per second of each window")
        if self.crackle_gate_per_s is not None:
            text += (f", raised to the models' crackle density (learned from exact "
                     f"simulated counts, so it includes the ticks the music masks) in "
                     f"windows where it hears {self.crackle_gate_per_s:g} or more a second")
        return text

    @property
    def event_accept(self) -> float:
        """The probability an impulse needs to be an event of its own (0 without a
        verifier: every impulse the frame heads give is one)."""
        return self.accept if self.verifier is not None else 0.0

    def events(self, audio: np.ndarray, out: DetectorOutput, *,
               accept: float | None = None, scratch_accept: float | None = None,
               min_peak_db: float | None = None, threshold: float | None = None,
               impulse_threshold: float | None = None,
               min_ratio: float | None = None,
               prepared: WindowPrep | None = None) -> list[SampleEvent]:
        """The impulses of one window (``audio`` as the detector saw it), placed on
        its samples, peaks re the window's level; ``prepared``: :meth:`prepare` of
        it, when made ahead (the verifier's candidates and first patches).

        With the verifier: its merged candidates down to the scratch acceptance
        (``prob`` says which are events of their own: those at ``accept`` or more;
        both override the bundle's); otherwise the frame heads with the bundle's
        post-processing (``threshold``, ``impulse_threshold``, ``min_ratio`` override it).
        """
        if self.verifier is not None:
            a = min(self.accept if accept is None else accept,
                    self.scratch_accept if scratch_accept is None else scratch_accept)
            floor = self.event_floor_db if min_peak_db is None else min_peak_db
            return [SampleEvent(d.start, d.end, d.channel, d.peak_db,
                                d.prob if d.peak_db >= CLICK_FLOOR_DB else 0.0, d.prob)
                    for d in self._impulses(audio, accept=a, min_peak_db=floor,
                                            prepared=prepared)]
        pp = self.postprocess
        return refine_events(
            audio, out, threshold=pp.threshold if threshold is None else threshold,
            impulse_threshold=pp.impulse_threshold if impulse_threshold is None
            else impulse_threshold, min_ratio=pp.min_ratio if min_ratio is None else min_ratio)

    def window_crackle(self, events: Sequence[SampleEvent], out: DetectorOutput, *,
                       seconds: float, accept: float | None = None) -> float | None:
        """A window's k (per second) from its events (:meth:`events`, those inside the
        window) and the detector's output: without a crackle-counting verifier, the
        output's own density; with one, the crackle ticks it accepts (peak from its
        crackle floor to L - 10 dB) per second, raised to the count heads' density
        where there are at least :attr:`crackle_gate_per_s` of them (the heads also
        count the ticks the music masks, and on clean music imagine some)."""
        if not self.counts_crackle:
            return out.crackle_per_s
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        a = self.accept if accept is None else accept
        ticks = sum(1 for e in events if e.prob >= a
                    and self.crackle_floor_db <= e.peak_db < CLICK_FLOOR_DB)
        heard = ticks / seconds
        gate = self.crackle_gate_per_s
        if gate is not None and heard >= gate and out.crackle_per_s is not None:
            return max(heard, float(out.crackle_per_s))
        return heard

    def prepare(self, samples: np.ndarray) -> WindowPrep:
        """What :func:`analyse_windows` will need of a window's ``samples`` (channels,
        frames) besides the detector's output (:class:`WindowPrep`), so that a reader
        thread can find it while the detector runs on earlier windows."""
        x = np.asarray(samples)
        cands = candidates_for(self.verifier, model_input(
            x, int(self.window_s * self.sample_rate))) if self.verifier is not None else None
        first = first_patches(self.verifier, cands) if cands is not None and len(cands) \
            else None
        return WindowPrep(cands, first, *_floor(x, self.sample_rate))

    def verified(self, audio: np.ndarray) -> list[SampleEvent]:
        """The clicks of any stretch of audio by the click verifier alone (no frame
        heads, no window): candidates accepted at :attr:`accept`, peaks re the
        stretch's level. What a stream declicker repairs. Empty without a verifier."""
        if self.verifier is None:
            return []
        return [SampleEvent(d.start, d.end, d.channel, d.peak_db, d.prob, d.prob)
                for d in self._impulses(audio, accept=self.accept, min_peak_db=self.min_peak_db)]

    def _impulses(self, audio: np.ndarray, *, accept: float, min_peak_db: float,
                  prepared: WindowPrep | None = None) -> list:
        """The verifier's detections in ``audio`` (:func:`find_impulses`), less the
        click-loud ones the bundle accepts (:attr:`accept`, whatever acceptance a
        caller tries) that the music repeats elsewhere in ``audio``
        (:attr:`drop_repeated`): a sampled drum hit, not a click. The search gives up
        on a window after :data:`REPEAT_GIVE_UP` detections none of which the music
        repeats (a worn record). Then, with :attr:`accept_clicked`, where a one-channel
        click-loud detection still stands at :attr:`accept` (a record that clicks,
        not a beat the music repeats), every detection has the logit offset added
        that makes it pass at ``accept_clicked`` rather than ``accept``
        (:func:`clicked_offset`). The click-loud ones' peaks and ends are then
        measured on the audio (:meth:`_measured`)."""
        have = prepared is not None and prepared.candidates is not None
        cands = prepared.candidates if have else candidates_for(self.verifier, audio)
        lift = clicked_offset(self.accept, self.accept_clicked)
        event_floor = calibrated(self.accept, -lift)  # what the lift can make an event
        found = find_impulses(self.verifier, audio, accept=calibrated(accept, -lift),
                              prefilter=self.prefilter, min_peak_db=min_peak_db,
                              candidates=cands, first=prepared.first_patches if have else None,
                              both_offset=self.both_offset,
                              both_offset_clicked=self.both_offset_clicked,
                              clicked_accept=self.accept, device=self.device)
        loud = [i for i, d in enumerate(found)
                if d.prob >= event_floor and d.peak_db >= CLICK_FLOOR_DB]
        if self.drop_repeated and loud:
            spans = np.array([[found[i].start, found[i].end] for i in loud])
            music = {loud[j] for j in np.flatnonzero(repeated_in_music(
                audio, spans, places=cands.index, sample_rate=self.sample_rate,
                channels=[found[i].channel for i in loud], give_up_after=REPEAT_GIVE_UP))}
            found = [d for i, d in enumerate(found) if i not in music]
        if lift:
            if any(shows_clicks(d.channel, d.prob, d.peak_db, accept=self.accept)
                   for d in found):
                # raised only where that makes an event of its own: a fainter one may
                # still be a scratch tick, at its own probability (its repeats unchecked)
                found = [replace(d, prob=q) if (q := calibrated(d.prob, lift)) >= self.accept
                         else d for d in found]
            found = [d for d in found if d.prob >= accept]
        return [self._measured(audio, d, level=cands.level) for d in found]

    def _measured(self, audio: np.ndarray, d, *, level: float):
        """``d`` with the peak and end of a click-loud detection (by the verifier's
        learned peak) measured on the audio instead (:func:`~vinylmon.audio.repair.
        measure_impulse`): its difference from its interpolation, which leaves the
        music out. The learned peak and span stay for fainter ones, where the
        interpolation's own error under the music would read them too loud, and where
        the span cannot be interpolated; their peaks get the bundle's calibration
        (:attr:`faint_peak_offsets_db`)."""
        if d.peak_db < CLICK_FLOOR_DB:
            off = faint_peak_offset(d.peak_db, self.faint_peak_offsets_db)
            return replace(d, peak_db=d.peak_db + off) if off else d
        m = measure_impulse(audio, d.start, d.end, d.channel, level=level,
                            sample_rate=self.sample_rate)
        return d if m is None else replace(d, peak_db=m.peak_db, end=m.end)

    def run(self, windows: Sequence[np.ndarray]) -> list[DetectorOutput]:
        """Outputs for windows of equal length, each ``(channels, samples)``."""
        x = _check_windows(windows)
        outs: list[DetectorOutput] = []
        with torch.inference_mode():
            for i in range(0, len(x), self.batch):
                w, f = self.model(torch.from_numpy(x[i:i + self.batch]).to(self.device))
                outs += decode(w, f, hop=self.hop)
            uses = self.measured
            if "log1p_crackle_per_s" not in uses:
                # the count heads: all impulses down to L - 50 dB, less the clicks (with a
                # crackle-counting verifier, window_crackle decides what k takes)
                outs = [replace(o, crackle_per_s=max(0.0, o.impulses - o.clicks) / self.window_s)
                        for o in outs]
            if uses:
                noise, crackle = self.measures(x)
                outs = [replace(o, noise_db=float(n) if "noise_db" in uses else o.noise_db,
                                crackle_per_s=float(k) if "log1p_crackle_per_s" in uses
                                else o.crackle_per_s)
                        for o, n, k in zip(outs, noise, crackle, strict=True)]
        return outs


class LearnedGrader:
    """The wav2vec2 grader bundle: per-window grade probabilities."""

    def __init__(self, folder: str | os.PathLike | None = None, *, device: str | None = None,
                 batch: int = 2):
        self.folder = Path(folder) if folder else WEIGHTS_DIR / "grader"
        self.device = select_device(device)
        state, self.meta = load_bundle(self.folder)
        meta = self.meta
        labels = meta["labels"]
        if not isinstance(labels, list) or tuple(labels) != GRADES:
            raise _bad_meta(self.folder, f"'labels' is {_short(labels)}, not {list(GRADES)}")
        params = meta["params"]
        if not isinstance(params, dict):
            raise _bad_meta(self.folder, f"'params' is {_short(params)}, not an object")
        rate = ANALYSIS_RATE if params.get("size") == "stereo" else GRADER_RATE
        if _number(self.folder, meta, "sample_rate", 1, 10**6) != rate:
            raise _bad_meta(self.folder, f"'sample_rate' is {_short(meta['sample_rate'])}; the "
                                         f"grader hears {rate} Hz")
        if not isinstance(meta["metrics"], dict):
            raise _bad_meta(self.folder, f"'metrics' is {_short(meta['metrics'])}, not an object")
        self.model = _build(self.folder, "a grader", lambda: build_grader(
            params.get("size", "small"), config=params.get("config")))
        _load(self.model, state, self.folder)
        self.model.to(self.device).eval()
        self.batch = batch

    @property
    def validation_exact(self) -> float | None:
        """The share of validation excerpts it graded exactly (the bundle's
        ``metrics.validation.grade.exact``); None when the bundle does not say."""
        v = self.meta
        for key in ("metrics", "validation", "grade", "exact"):
            v = v.get(key) if isinstance(v, dict) else None
        return None if isinstance(v, bool) or not isinstance(v, int | float) else float(v)

    def run(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Grade probabilities ``(windows, 6)``."""
        x = _check_windows(windows)
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), self.batch):
                xb = torch.from_numpy(x[i:i + self.batch]).to(self.device)
                out.append(torch.softmax(self.model(self.model.prepare(xb)), 1).cpu().numpy())
        return np.concatenate(out)


#: Samples over which a short window's continuation fades out (23 ms).
PAD_FADE = 1024


def model_input(samples: np.ndarray, frames: int) -> np.ndarray:
    """A window's samples as the models take them: a short one (a file's end) padded
    to ``frames``: its audio continued smoothly past its end (point-mirrored about the
    last sample, so value and slope go on), faded out over :data:`PAD_FADE` samples,
    then zeros. Zeros alone would end the music with a step, and a plain mirror with a
    kink: the candidate stage rightly hears either as a click, a loud false event at
    the end of every file whose length is not a whole number of windows."""
    n = samples.shape[1]
    if n >= frames:
        return np.asarray(samples[:, :frames])
    out = np.zeros((samples.shape[0], frames), dtype=samples.dtype)
    out[:, :n] = samples
    m = min(frames - n, n - 1, PAD_FADE)
    if m > 0:
        last = samples[:, n - 1:n].astype(np.float64)
        mirrored = 2.0 * last - samples[:, n - 2::-1][:, :m]
        fade = 0.5 + 0.5 * np.cos(np.pi * (np.arange(1, m + 1) / (m + 1)))
        out[:, n:n + m] = mirrored * fade
    return out


def analyse_windows(detector: Detector, windows: Sequence[Window],
                    outputs: Sequence[DetectorOutput], *,
                    grades: dict[int, tuple[float, ...]] | None = None,
                    inference_s: float = 0.0,
                    prepared: dict[int, WindowPrep] | None = None,
                    **postprocess) -> list[AnalysedWindow]:
    """Gated windows and the detector's outputs for their non-silent ones (in order)
    -> :class:`AnalysedWindow` records: impulses in stream time (peaks dBFS), inside
    the window's audio.

    ``grades``: the learned grader's probabilities by window index; ``inference_s``:
    each non-silent window's share of the models' time; ``prepared``: by window
    index, what :meth:`Detector.prepare` made of a window ahead (the same records
    follow, sooner); ``postprocess``: overrides of :meth:`Detector.events`
    (``accept``, ``min_peak_db``, ...).
    """
    sr = detector.sample_rate
    frames = int(detector.window_s * sr)
    live = [w for w in windows if not w.silent]
    if len(live) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs for {len(live)} non-silent windows")
    grades = grades or {}
    by_id = {}
    for w, out in zip(live, outputs, strict=True):
        imps = []
        prep = (prepared or {}).get(w.index)
        inside = [e for e in detector.events(model_input(w.samples, frames), out,
                                             prepared=prep, **postprocess)
                  if e.start < w.frames]
        k = detector.window_crackle(inside, out, seconds=w.frames / sr,
                                    accept=postprocess.get("accept"))
        for e in inside:
            imps.append(Impulse(w.start_s + e.start / sr, w.start_s + min(e.end, w.frames) / sr,
                                e.channel, e.peak_db + w.level_db, e.prob))
        by_id[id(w)] = AnalysedWindow(
            w.index, w.start_s, w.end_s, False, w.level_db,
            tuple(float(p) for p in out.class_probs), grades.get(w.index),
            out.noise_db, tuple(imps), inference_s, k,
            *((prep.floor_dbfs, prep.floor_ticks_dbfs) if prep is not None
              else _floor(w.samples, sr)), learned_clicks=max(0.0, float(out.clicks)))
    return [by_id.get(id(w)) or AnalysedWindow(w.index, w.start_s, w.end_s, True, w.level_db,
                                               None, None, float("nan"), (), 0.0)
            for w in windows]


@dataclass(frozen=True)
class ExcerptAnalysis:
    """The detector over one excerpt, measured as the app measures a side.

    Attributes
    ----------
    windows : list of AnalysedWindow
        Back-to-back windows from the excerpt's start, silent ones included.
    outputs : list of DetectorOutput or None
        One per window; None for a silent one (the app does not run the detector there).
    repeats : list of Repeat
        Audio that repeats the previous revolution (music may do so too).
    side : SideMeasurement
        :func:`~vinylmon.grading.measured.measure_side` of the windows: events,
        scratches, skips, L, n and the quantities.
    """

    windows: list[AnalysedWindow]
    outputs: list[DetectorOutput | None]
    repeats: list
    side: SideMeasurement

    @property
    def events(self) -> tuple[DefectEvent, ...]:
        """In excerpt time, peaks re the excerpt's L."""
        return self.side.events

    @property
    def silent(self) -> np.ndarray:
        return np.array([w.silent for w in self.windows], bool)

    @property
    def noise_db(self) -> float:
        return self.side.noise_db

    @property
    def analysed_s(self) -> float:
        return self.side.analysed_s

    @property
    def skips(self) -> tuple:
        return self.side.skips


def analyse_excerpt(audio: np.ndarray, detector: Detector, *,
                    outputs: Sequence[DetectorOutput | None] | None = None,
                    repeats: list | None = None, rpm: float | None = None,
                    **postprocess) -> ExcerptAnalysis:
    """Run the detector over ``audio`` (2, samples) and measure it as the app does.

    The excerpt is cut into back-to-back windows, gated, the detector runs on the
    non-silent ones, and :func:`~vinylmon.grading.measured.measure_side` measures
    them with the detector's false click rate, exactly as a session would.
    ``outputs`` (one per window, as an earlier call returned them) and ``repeats``
    skip the model and the repeat search (to try other post-processing);
    ``postprocess`` overrides :meth:`Detector.events` (``accept``, ``min_peak_db``;
    ``threshold``, ``impulse_threshold``, ``min_ratio`` without a verifier).
    """
    x = np.asarray(audio, dtype=np.float32)
    sr = detector.sample_rate
    frames = int(detector.window_s * sr)
    gate = SilenceGate()
    windows = [gate(w) for w in windows_from_blocks(
        [AudioBlock(frozen_samples(x), sr, 0.0)], window_s=detector.window_s)]
    live = [i for i, w in enumerate(windows) if not w.silent]
    if outputs is None:
        run = detector.run([model_input(windows[i].samples, frames) for i in live]) \
            if live else []
        outputs = [None] * len(windows)
        for i, o in zip(live, run, strict=True):
            outputs[i] = o
    outputs = list(outputs)
    if len(outputs) != len(windows):
        raise ValueError(f"{len(outputs)} outputs for {len(windows)} windows")
    analysed = analyse_windows(detector, windows, [outputs[i] for i in live], **postprocess)
    if repeats is None:
        repeats = find_repeats(x, sample_rate=sr) if live else []
    accept = postprocess.get("accept", detector.event_accept) \
        if detector.verifier is not None else 0.0
    side = measure_side(analysed, rpm=rpm, repeats=repeats, accept=accept,
                        false_clicks_per_min=detector.false_clicks_per_min)
    return ExcerptAnalysis(analysed, outputs, list(repeats), side)

#!/usr/bin/env python3
"""Train the click verifier on candidates mixed on the fly from the training music.

One process makes scenes (a fresh 1.5-s damaged stretch of a training song
each, :mod:`vinylmon.training.verifier_data`) and labels their candidates;
the main process trains the verifier on one torch thread. Nothing is cached:
every step sees new placements, drums, beds and gains. Songs, drum kits and
real noise recordings are split exactly as ``scripts/make_corpus.py`` splits
them (same seed), so the corpus's validation and test songs are never heard.

Resumable: every --ckpt-every steps the model, optimiser, schedule and step go
to <out>/last.pt (atomically); a second run with the same --out goes on from
there (on another machine too, given the checkpoint). <out>/log.csv holds the
curves; <out>/best.pt the best checkpoint by validation average precision on a
fixed set of candidates from the validation songs; <out>/meta.json the command,
steps, wall time and data.

    nohup python scripts/train_verifier.py --threads 1 > cache/train/verifier.out &
    python scripts/train_verifier.py --export      # best.pt -> vinylmon/weights/verifier
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vinylmon.models.bundle import load_bundle, save_bundle
from vinylmon.models.verifier import (
    CRACKLE_FLOOR_DB,
    CRACKLE_GATE_PER_S,
    LEVEL_SCALE_DB,
    OUTPUTS,
    VerifierConfig,
    VerifierEnsemble,
    build_verifier,
    tensors,
    verifier_loss,
)
from vinylmon.simulate import NoiseBank
from vinylmon.training import verifier_data
from vinylmon.training.loops import (
    CurveLog,
    accumulate,
    checkpoint,
    one_cycle,
    optimiser_step,
    resume,
    save_atomic,
    save_json_atomic,
    start_run,
    training_arguments,
)
from vinylmon.training.verifier_data import CHANNELS, Examples, SceneMaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_corpus  # noqa: E402  (the corpus's split of songs, kits and noise)

CORPUS_SEED = 2026
VERSION = "2.1.0"
#: Peak (dB re the stretch's level) from which a positive counts as click-loud in the
#: validation figures (L - 10 dB, give or take the stretch's level re L).
CLICK_PEAK_DB = -10.0
#: Share of click-loud impulses the prefilter must pass (its threshold is set so on
#: the validation candidates at export).
PREFILTER_RECALL = 0.998


def sources(cache: Path, split: str) -> tuple[list[str], list[str], NoiseBank]:
    """Songs, drum one-shots and noise bank of one split, as make_corpus splits them."""
    rng = np.random.default_rng(CORPUS_SEED)
    songs = make_corpus.music_inventory(cache / "music",
                                        make_corpus.CLIP_S + make_corpus.MARGIN_S + 2)
    if not songs:
        sys.exit(f"no music under {cache / 'music'}: run scripts/get_music.sh first")
    assign = make_corpus.split_songs(songs, rng)
    drums = make_corpus.drum_inventory(cache / "drums", rng)
    held = set().union(*(v for k, v in make_corpus.HELD_OUT_NOISE.items() if k != split))
    return ([p for p, s in assign.items() if s == split], [p for p, _ in drums[split]],
            NoiseBank(exclude=held))


class Stream(torch.utils.data.IterableDataset):
    """Endless labelled candidates, one scene at a time (in a worker process)."""

    def __init__(self, cache: Path, *, seed: int, threshold: float, whiten: bool,
                 shots: list[str] = ()):
        self.cache, self.seed, self.threshold, self.whiten = cache, seed, threshold, whiten
        self.shots = list(shots)

    def __iter__(self):
        songs, drums, bank = sources(self.cache, "train")
        maker = SceneMaker(songs, drums, bank, seed=self.seed, shots=self.shots)
        while True:
            yield maker.examples(threshold=self.threshold, whiten=self.whiten)


class Buffer:
    """A shuffle buffer of candidates; batches hold ``pos_fraction`` positives."""

    def __init__(self, size: int, pos_fraction: float, rng: np.random.Generator):
        self.size, self.frac, self.rng = size, pos_fraction, rng
        self.pos: Examples | None = None
        self.neg: Examples | None = None

    def add(self, e: Examples) -> None:
        p, n = e.label > 0, e.label == 0
        self.pos = self._keep(self.pos, _take(e, p), self.size // 4)
        self.neg = self._keep(self.neg, _take(e, n), self.size)

    @staticmethod
    def _keep(old: Examples | None, new: Examples, cap: int) -> Examples:
        both = new if old is None else Examples.concat([old, new])
        return _take(both, np.arange(max(0, len(both) - cap), len(both)))

    def ready(self, batch: int) -> bool:
        return self.pos is not None and len(self.pos) >= batch and len(self.neg) >= 4 * batch

    def batch(self, n: int, hardness=None) -> Examples:
        """``n`` candidates, ``pos_fraction`` of them positive. With ``hardness`` (a
        function of Examples -> scores), half the negatives are the highest-scoring
        of a pool four times as large: the music the model still takes for clicks."""
        k = int(round(n * self.frac))
        m = n - k
        neg = _take(self.neg, self.rng.integers(0, len(self.neg), m))
        if hardness is not None:
            pool = _take(self.neg, self.rng.integers(0, len(self.neg), 4 * m))
            hard = np.argsort(-hardness(pool))[: m // 2]
            neg = Examples.concat([_take(neg, np.arange(m - m // 2)), _take(pool, hard)])
        return Examples.concat([_take(self.pos, self.rng.integers(0, len(self.pos), k)), neg])


def _take(e: Examples, idx) -> Examples:
    return Examples(*(getattr(e, f)[idx] for f in Examples.__dataclass_fields__))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(-p)
    y = y[order]
    tp = np.cumsum(y)
    prec = tp / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / max(1, y.sum()))


def validation_set(cache: Path, *, scenes: int, threshold: float, whiten: bool) -> Examples:
    songs, drums, bank = sources(cache, "val")
    maker = SceneMaker(songs, drums, bank, seed=12345)
    return Examples.concat([maker.examples(threshold=threshold, whiten=whiten)
                            for _ in range(scenes)])


def load_init(model, state: dict) -> None:
    """Load ``state`` into ``model``; a checkpoint without the prediction-error inputs
    (6 wave channels) starts a whitened model with zero weights on the new inputs, so
    it begins exactly where the checkpoint was."""
    own = model.state_dict()
    for k, v in state.items():
        if k in own and own[k].shape != v.shape:
            grown = torch.zeros_like(own[k])
            grown[tuple(slice(0, n) for n in v.shape)] = v
            state = {**state, k: grown}
    model.load_state_dict(state)


def evaluate(model, val: Examples, device) -> dict:
    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(val), 4096):
            outs.append(model(torch.from_numpy(val.wave[i:i + 4096]).to(device),
                              torch.from_numpy(val.context[i:i + 4096]).to(device)).cpu())
    model.train()
    out = torch.cat(outs)
    p = torch.sigmoid(out[:, 0]).numpy()
    y = val.label
    pos = y > 0
    ap = average_precision(y, p)
    # click-loud impulses (about L - 10 dB and up) against the music
    loud = pos & (val.peak_db >= CLICK_PEAK_DB)
    sel = loud | ~pos
    ap_loud = average_precision(loud[sel].astype(np.float32), p[sel])
    # the prefilter: the share of music candidates it passes when it keeps
    # PREFILTER_RECALL of the click-loud impulses
    pre = torch.sigmoid(out[:, 7]).numpy()
    t_pre = prefilter_threshold(pre, loud)
    pre_pass = float(np.mean(pre[~pos] >= t_pre))
    # the verifier's precision when it keeps 95 % of the positives, and its errors
    thr = np.quantile(p[pos], 0.05) if pos.any() else 0.5
    kept = p >= thr
    prec95 = float((kept & pos).sum() / max(1, kept.sum()))
    peak_err = float(np.median(np.abs(out[pos, 1].numpy() * LEVEL_SCALE_DB - val.peak_db[pos])))
    chan_acc = float(np.mean(out[pos, 4:7].argmax(1).numpy() == val.channel[pos]))
    return {"ap": ap, "ap_loud": ap_loud, "prec_at_r95": prec95, "peak_mae_db": peak_err,
            "chan_acc": chan_acc, "pre_pass": pre_pass, "prefilter": t_pre}


def prefilter_threshold(pre: np.ndarray, loud: np.ndarray) -> float:
    """The prefilter probability that keeps PREFILTER_RECALL of the click-loud impulses."""
    if not loud.any():
        return 0.0
    return float(np.quantile(pre[loud], 1 - PREFILTER_RECALL))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training_arguments(ap, name="verifier", steps=20000, batch=256, lr=2e-3, eval_every=1000)
    ap.add_argument("--cache", type=Path, default=Path("cache"))
    ap.add_argument("--buffer", type=int, default=60000)
    ap.add_argument("--pos-fraction", type=float, default=0.25)
    ap.add_argument("--val-scenes", type=int, default=400)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--init", type=Path, default=None,
                    help="start a new run from this checkpoint's weights (best.pt/last.pt)")
    ap.add_argument("--hard-after", type=int, default=500,
                    help="from this step on, half the negatives are mined hard ones")
    ap.add_argument("--width", type=int, default=VerifierConfig.width)
    ap.add_argument("--hidden", type=int, default=VerifierConfig.hidden)
    ap.add_argument("--layers", type=int, default=VerifierConfig.layers,
                    help="residual dilated convolutions after the strided ones")
    ap.add_argument("--candidate-threshold", type=float, default=VerifierConfig.candidate_threshold)
    ap.add_argument("--no-whiten", dest="whiten", action="store_false",
                    help="patches without the music's prediction error (the 2.0 inputs)")
    ap.add_argument("--mic-share", type=float, default=None,
                    help="share of training scenes heard through a microphone (default "
                         "verifier_data.MIC_SHARE; the validation scenes keep the default)")
    ap.add_argument("--shots", type=Path, default=None, metavar="DIR",
                    help="other instruments' one-shots mixed into the training music beside "
                         "the kits' hits (scripts/get_train_shots.py; the validation scenes "
                         "keep the kits alone)")
    ap.add_argument("--ensemble-with", type=Path, default=None, metavar="BUNDLE",
                    help="with --export: ship best.pt averaged with the verifiers of BUNDLE "
                         "that read other inputs (a VerifierEnsemble)")
    args = ap.parse_args()
    device = start_run(args)
    cfg = VerifierConfig(width=args.width, hidden=args.hidden, layers=args.layers,
                         candidate_threshold=args.candidate_threshold, whiten=args.whiten)
    model = build_verifier(cfg.to_dict()).to(device)
    if args.export:
        return export(args, model, cfg)
    shots = one_shots(args.shots)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    if args.init and not (args.out / "last.pt").exists():
        init = torch.load(args.init, map_location=device, weights_only=True)
        load_init(model, init["model"] if "model" in init else init)
        print(f"initialised from {args.init} (step {init.get('step')})", flush=True)
    step, best, steps, sched = resume(args.out / "last.pt", model, opt, steps=args.steps,
                                      make_sched=one_cycle(opt, args.lr), device=device)
    meta_path = args.out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "runs": [], "wall_s": 0.0}
    meta["runs"].append({"command": " ".join(sys.argv), "from_step": step,
                         "init": str(args.init) if args.init else None,
                         "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    val_path = args.out / "val.npz"
    if val_path.exists():
        z = np.load(val_path)
        val = Examples(*(z[f] for f in Examples.__dataclass_fields__))
    else:
        t0 = time.perf_counter()
        val = validation_set(args.cache, scenes=args.val_scenes,
                             threshold=cfg.candidate_threshold, whiten=cfg.whiten)
        np.savez(val_path, **{f: getattr(val, f) for f in Examples.__dataclass_fields__})
        print(f"validation set: {len(val)} candidates ({int(val.label.sum())} impulses) from "
              f"{args.val_scenes} scenes in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.mic_share is not None:
        if not 0.0 <= args.mic_share <= 1.0:
            sys.exit("--mic-share must be in 0..1")
        verifier_data.MIC_SHARE = args.mic_share  # the data process forks with it
    stream = Stream(args.cache, seed=args.seed * 1_000_003 + step,
                    threshold=cfg.candidate_threshold, whiten=cfg.whiten,
                    shots=shots)
    loader = iter(torch.utils.data.DataLoader(stream, batch_size=None,
                                              num_workers=args.workers,
                                              prefetch_factor=8 if args.workers else None,
                                              persistent_workers=bool(args.workers)))
    buf = Buffer(args.buffer, args.pos_fraction, np.random.default_rng(args.seed + step))
    log = CurveLog(args.out / "log.csv", ["step", "wall_s", "loss", "imp", "peak", "span",
                                          "chan", "pre", "scenes_per_step", "val_ap",
                                          "val_ap_loud", "val_prec_r95", "val_peak_mae_db",
                                          "val_chan_acc", "val_pre_pass"])
    t_start, wall0 = time.perf_counter(), meta["wall_s"]
    scenes = 0
    while not buf.ready(args.batch):
        buf.add(next(loader))
        scenes += 1
    def scorer(e: Examples) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(e.wave).to(device),
                         torch.from_numpy(e.context).to(device))[:, 0].cpu().numpy()

    acc = {k: 0.0 for k in ("loss", "imp", "peak", "span", "chan", "pre")}
    n_acc = 0
    model.train()
    while step < steps:
        # take what the data process has made; train on the buffer meanwhile
        for _ in range(2):
            buf.add(next(loader))
            scenes += 1
        t = tensors(buf.batch(args.batch, hardness=scorer if step >= args.hard_after else None),
                    device)
        out = model(t["wave"], t["context"])
        total, parts = verifier_loss(out, t)
        optimiser_step(total, model, opt, sched)
        step += 1
        accumulate(acc, total, parts)
        n_acc += 1
        if step % args.ckpt_every == 0 or step == steps:
            checkpoint(args.out / "last.pt", model, opt, sched, step=step, steps=steps, best=best)
        if step % args.eval_every == 0 or step == steps:
            m = evaluate(model, val, device)
            wall = wall0 + time.perf_counter() - t_start
            log.write([step, round(wall)] + [round(acc[k] / n_acc, 4) for k in acc]
                      + [round(scenes / max(1, n_acc), 2), round(m["ap"], 4),
                         round(m["ap_loud"], 4), round(m["prec_at_r95"], 4),
                         round(m["peak_mae_db"], 2), round(m["chan_acc"], 3),
                         round(m["pre_pass"], 4)])
            acc = {k: 0.0 for k in acc}
            n_acc, scenes = 0, 0
            if -m["ap"] < best:
                best = -m["ap"]
                save_atomic({"model": model.state_dict(), "step": step, "metrics": m},
                            args.out / "best.pt")
            checkpoint(args.out / "last.pt", model, opt, sched, step=step, steps=steps,
                       best=best)
            meta.update({"wall_s": round(wall, 1), "step": step, "steps": steps,
                         "best_step": torch.load(args.out / "best.pt", weights_only=True)["step"],
                         "params": cfg.to_dict(), "data": data_note(args, shots)})
            save_json_atomic(meta, meta_path)
    log.close()
    return 0


def one_shots(folder: Path | None) -> list[str]:
    """The one-shots under ``folder`` (``--shots``), sorted; none without one. A folder that
    is missing or holds none: exit with how to fetch them."""
    if folder is None:
        return []
    shots = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    if not shots:
        sys.exit(f"no one-shots under {folder}: run python scripts/get_train_shots.py")
    return shots


def data_note(args, shots: list[str]) -> dict:
    """What a run trains on (its ``meta.json`` ``data``); ``shots``: its one-shots."""
    extra = {} if not shots else {"shots": {
        "folder": str(args.shots), "files": len(shots), "share": verifier_data.SHOT_SHARE,
        "what": "samples of the FluidR3_GM and TimGM6mb SoundFonts (scripts/get_train_shots.py)"}}
    return {**extra, "music": "train split of scripts/get_music.sh's packages (make_corpus.py seed "
                     f"{CORPUS_SEED}, split by song)",
            "drums": "train kits of hydrogen-drumkits", "noise": "../shared/data/noise "
            "without the val/test recordings", "scenes": "1.5-s stretches damaged on the fly "
            "(vinylmon/training/verifier_data.py)", "batch": args.batch,
            "pos_fraction": args.pos_fraction, "hard_negatives": "half the negatives of "
            f"each batch from step {args.hard_after}: the top-scoring of a 4x pool",
            "val": f"{args.val_scenes} scenes of val songs",
            "mic_share": verifier_data.MIC_SHARE,
            "mic_labels": "exact: the damage alone through the same microphone path "
                          "(verifier_data.through_microphone); runs before 2026-12-07 "
                          "labelled a microphone scene's candidates by span alone",
            "music_varied": {"speed": verifier_data.MUSIC_SPEED_SHARE,
                             "eq": verifier_data.MUSIC_EQ_SHARE,
                             "band": verifier_data.MUSIC_BAND_SHARE}}


def export(args, model, cfg: VerifierConfig) -> int:
    ck = torch.load(args.out / "best.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(ck["model"])
    run = json.loads((args.out / "meta.json").read_text())
    meta = {"name": "verifier", "version": VERSION,
            "architecture": "vinylmon.models.verifier.ClickVerifier",
            "params": cfg.to_dict(), "sample_rate": 44100,
            "labels": {"outputs": list(OUTPUTS), "channels": list(CHANNELS)},
            "postprocess": {"accept": 0.5, "prefilter": round(ck["metrics"]["prefilter"], 6),
                            "crackle_floor_db": CRACKLE_FLOOR_DB,
                            "crackle_gate_per_s": CRACKLE_GATE_PER_S},
            # what the run recorded (its --shots, --mic-share), not this command's flags
            "training_data": run.get("data") or data_note(args, []),
            "training": {**run, "exported_step": ck["step"]},
            "metrics": {"validation_candidates": ck["metrics"]}}
    if args.ensemble_with is not None:
        model, meta = ensemble(args, model, meta)
    save_bundle(args.weights, {k: v.contiguous() for k, v in model.state_dict().items()}, meta)
    print(f"wrote {args.weights} (step {ck['step']})")
    return 0


def ensemble(args, model, meta: dict) -> tuple[VerifierEnsemble, dict]:
    """``model`` averaged with the members of the bundle ``--ensemble-with`` that read
    other inputs than it (an earlier ensemble's, or the bundle itself), and the
    ensemble's meta: every member's version and training, the ensemble's own
    validation figures (on this run's validation candidates)."""
    state, other = load_bundle(args.ensemble_with)
    base = build_verifier(other["params"])
    base.load_state_dict(state)
    kept = [m for m in (base.members if isinstance(base, VerifierEnsemble) else [base])
            if m.config.whiten != model.config.whiten]
    old_members = other.get("members") or [{k: other.get(k) for k in (
        "version", "params", "training_data", "training")}]
    old_members = [d for d in old_members if d["params"].get("whiten", False)
                   != model.config.whiten]
    if not kept:
        raise SystemExit(f"{args.ensemble_with} has no verifier reading other inputs")
    ens = VerifierEnsemble([*kept, model]).eval()
    z = np.load(args.out / "val.npz")
    val = Examples(*(z[f] for f in Examples.__dataclass_fields__))
    if val.wave.shape[1] < ens.config.wave_channels:  # a raw-input run beside a whitened member
        print("validation candidates with the music's prediction error, for the ensemble",
              flush=True)
        val = validation_set(args.cache, scenes=args.val_scenes,
                             threshold=model.config.candidate_threshold, whiten=True)
    m = evaluate(ens, val, torch.device("cpu"))
    own = {k: meta[k] for k in ("version", "params", "training_data", "training")}
    return ens, {**meta, "architecture": "vinylmon.models.verifier.VerifierEnsemble",
                 "params": ens.params,
                 "postprocess": {**meta["postprocess"], "prefilter": round(m["prefilter"], 6)},
                 "members": [*old_members, own],
                 "training_data": "each member's: see members",
                 "training": {"ensemble_of": [d["version"] for d in [*old_members, own]],
                              "command": " ".join(sys.argv)},
                 "metrics": {"validation_candidates": m}}


if __name__ == "__main__":
    raise SystemExit(main())

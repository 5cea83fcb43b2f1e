"""``vinylmon finetune``: adapt the models to a microphone from a calibration take.

    vinylmon finetune --take take.flac --grade NM --name "laptop mic" --device-name "Built-in Audio"

The take is a recording (1-5 minutes; a longer one is cut to its first 5 minutes)
of a record whose grade you know, played and recorded the way you will monitor
(same microphone, same room). Progress goes to stderr; the before/after table
to stdout; the profile to the user data folder
(:mod:`vinylmon.store.profiles`), selected automatically whenever the input
named by ``--device-name`` is chosen. Errors a user can cause print one line
and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from vinylmon.cli import plain
from vinylmon.cli.grade import ProgressBar
from vinylmon.errors import VinylmonError


class StderrProgress(ProgressBar):
    """Fine-tuning progress, ``progress(frac, message)``."""

    def __call__(self, frac: float, message: str) -> None:
        frac = max(0.0, min(1.0, frac))
        self.draw(frac, bar="", tail=f"{message[:60]:60s}", line=f"{frac:4.0%} {message}")


def cmd_finetune(args: argparse.Namespace) -> int:
    from vinylmon.store.profiles import check_name, save_profile
    from vinylmon.training.finetune.inputs import FinetuneConfig, check_grade, read_take

    grade = check_grade(args.grade)
    name = check_name(args.name)
    if args.steps is not None and args.steps < 0:
        raise VinylmonError(f"--steps must be >= 0, got {args.steps}")
    take, note = read_take(args.take)
    if note:
        sys.stderr.write(f"vinylmon: {note}\n")

    from vinylmon.models.inference import Detector, LearnedGrader
    from vinylmon.training.finetune.run import finetune

    detector = Detector(device=args.compute)
    grader = None if args.no_grader else LearnedGrader(device=args.compute)
    overrides = {"device": args.compute}
    for key in ("steps", "replay_windows", "val_windows"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    config = FinetuneConfig(**overrides)
    print(f"fine-tuning on {args.take} ({take.shape[1] / 44100:.0f} s, grade {grade}) "
          f"on {detector.device}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    result = finetune(take, grade=grade, detector=detector, grader=grader, config=config,
                      progress=None if args.quiet else StderrProgress())
    print(result.table())
    print(f"replay: {result.replay_source} data; base validation: {result.val_source} data; "
          f"click threshold {result.postprocess.threshold}; "
          f"{time.perf_counter() - t0:.0f} s")
    info = save_profile(name, result, device_name=args.device_name)
    where = f"for input {args.device_name!r}" if args.device_name else \
        "(no --device-name: choose it by hand in the settings)"
    print(f"saved profile {info.name!r} {where} in {info.path}")
    return 0


def add_parser(sub) -> None:
    f = sub.add_parser("finetune", help="adapt the models to a microphone from a calibration "
                       "take", description=plain(__doc__))
    f.add_argument("--take", required=True, metavar="FILE",
                   help="recording of a record of known grade through the microphone "
                        "(1-5 minutes)")
    f.add_argument("--grade", default="NM", help="the record's grade (default NM)")
    f.add_argument("--name", required=True, help="the profile's name")
    f.add_argument("--device-name", default=None,
                   help="the input device the profile is for (as 'vinylmon devices' names it)")
    f.add_argument("--compute", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to fine-tune (default: CUDA when available)")
    f.add_argument("--steps", type=int, default=None, help="optimiser steps (default: "
                   "the tuned default)")
    f.add_argument("--replay-windows", type=int, default=None,
                   help="base training windows replayed (fewer: quicker, rougher)")
    f.add_argument("--val-windows", type=int, default=None,
                   help="base validation windows (fewer: quicker, rougher)")
    f.add_argument("--no-grader", action="store_true", help="leave the learned grader as it is")
    f.add_argument("--quiet", action="store_true", help="no progress on stderr")
    f.set_defaults(func=cmd_finetune)

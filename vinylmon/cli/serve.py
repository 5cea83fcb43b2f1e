"""``vinylmon serve``: grade recordings from a browser or over HTTP.

The page at / takes recordings dropped on it and keeps their reports; the API under
/api does the same for scripts. Binds 127.0.0.1 unless --host says otherwise; any
other host needs --token, which every request must then carry.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vinylmon.cli import plain
from vinylmon.errors import VinylmonError


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise VinylmonError(f"--workers must be 1 or more, got {args.workers}")
    if not args.max_upload_mb > 0 or not args.max_minutes > 0:
        raise VinylmonError("--max-upload-mb and --max-minutes must be more than 0")
    if not 0 <= args.port <= 65535:
        raise VinylmonError(f"--port must be 0 to 65535, got {args.port}")
    try:
        from vinylmon.serve.app import ServeConfig, check_bind, run_server
    except ImportError as exc:
        raise VinylmonError(f"vinylmon serve needs its web server ({exc.name} is missing): "
                            "pip install vinylmon[serve]") from None
    check_bind(args.host, args.token)  # before the models load
    from vinylmon.store.dirs import data_dir

    folder = Path(args.data) if args.data else data_dir() / "serve"

    def engine():
        from vinylmon.engine.engine import Engine
        return Engine(device=args.device, grader=False if args.no_grader else None)

    config = ServeConfig(folder, token=args.token or None, workers=args.workers,
                         max_upload_bytes=int(args.max_upload_mb * 1024**2),
                         max_duration_s=args.max_minutes * 60.0, engine_factory=engine)
    run_server(config, host=args.host, port=args.port)
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("serve", help="grade recordings from a browser: a page and an HTTP "
                       "API", description=plain(__doc__))
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; any "
                        "other needs --token)")
    s.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    s.add_argument("--data", metavar="DIR",
                   help="where jobs, uploads and reports are kept (default: the user's data "
                        "folder, serve/)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="files graded at once (default 1)")
    s.add_argument("--token", metavar="T",
                   help="require 'Authorization: Bearer T' (or ?token=T) on every request")
    s.add_argument("--max-upload-mb", type=float, default=2048.0,
                   help="largest upload accepted, in MB (default 2048)")
    s.add_argument("--max-minutes", type=float, default=180.0,
                   help="longest recording accepted, in minutes (default 180)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the models run (default: CUDA when available)")
    s.add_argument("--no-grader", action="store_true", help="skip the learned grader")
    s.set_defaults(func=cmd_serve)

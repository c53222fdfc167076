"""`rnn-tune monitor RUN_DIR`: a live page of a sweep (leaderboard, running trials, curves).

It reads only the run directory's plain files, so it works on a running, finished or interrupted
sweep and on a run directory copied off a cluster. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

from tune.config import ConfigError

DEFAULT_PORT = 8266  # beside Ray's dashboard (8265)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "monitor", help="serve a live page of a sweep on 127.0.0.1", description=__doc__
    )
    p.add_argument("run_dir", help="the run directory `rnn-tune sweep` printed")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from base.run_dir import CONFIG_FILE

    run_dir = Path(args.run_dir).expanduser().resolve()
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(
            f"{run_dir} is not an rnn-tune run directory (no {CONFIG_FILE}); pass the directory "
            "`rnn-tune sweep` printed"
        )
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    from results.live_server import make_server

    try:
        server = make_server(run_dir, args.port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ConfigError(
            f"port {args.port} on 127.0.0.1 is in use; pick another with --port (0 picks a free "
            "one)"
        ) from None
    print(f"monitor: http://127.0.0.1:{server.server_port}/  ({run_dir}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

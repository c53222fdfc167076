"""`rnn-tune report RUN_DIR [RUN_DIR ...]`: report.md, report.html and trials.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from tune.config import ConfigError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write comparison tables and plots for sweep runs", description=__doc__
    )
    p.add_argument(
        "run_dirs", nargs="+", help="run directories (several are compared side by side)"
    )
    p.add_argument("--out", help="output directory (default: the first run directory)")
    p.add_argument(
        "--max-latency-ms",
        type=float,
        help="choose each run's final model again: only options answering one request in at "
        "most this many ms (as measured at the end of the run); nothing is trained",
    )
    p.add_argument(
        "--max-size-mb",
        type=float,
        help="choose each run's final model again: only options of at most this many MB",
    )
    p.set_defaults(run=run)


def make_report(
    run_dirs: list[Path], out: Path, limits: tuple[float | None, float | None] = (None, None)
) -> dict[str, Path]:
    from results.load import ReportError, run_names
    from results.report import write_report
    from tune.sweep.optuna_study import param_importances

    importances = {n: param_importances(d) for d, n in zip(run_dirs, run_names(run_dirs))}
    try:
        return write_report(run_dirs, out, importances, limits)
    except ReportError as exc:
        raise ConfigError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    limits = (args.max_latency_ms, args.max_size_mb)
    if any(v is not None and not v > 0 for v in limits):
        raise ConfigError("--max-latency-ms and --max-size-mb must be > 0")
    run_dirs = [Path(d).expanduser().resolve() for d in args.run_dirs]
    paths = make_report(
        run_dirs, Path(args.out).expanduser().resolve() if args.out else run_dirs[0], limits
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0

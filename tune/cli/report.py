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
    p.set_defaults(run=run)


def make_report(run_dirs: list[Path], out: Path) -> dict[str, Path]:
    from results.load import ReportError, run_names
    from results.report import write_report
    from tune.sweep.optuna_study import param_importances

    importances = {n: param_importances(d) for d, n in zip(run_dirs, run_names(run_dirs))}
    try:
        return write_report(run_dirs, out, importances)
    except ReportError as exc:
        raise ConfigError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    run_dirs = [Path(d).expanduser().resolve() for d in args.run_dirs]
    paths = make_report(
        run_dirs, Path(args.out).expanduser().resolve() if args.out else run_dirs[0]
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0

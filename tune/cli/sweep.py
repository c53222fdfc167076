"""`rnn-tune sweep`: tune RNN/LSTM/GRU classifiers with Ray Tune, Optuna (TPE) and ASHA."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from tune.cli.options import add_data_options, add_train_options, config_from_args, overrides_from_args
from tune.config import Config, ConfigError, merge
from tune.presets import PRESETS

SWEEP_FLAGS = ("num_samples", "time_budget_s", "max_concurrent", "cpus_per_trial", "gpus_per_trial", "grace_period",
               "reduction_factor", "max_failures", "keep_checkpoints", "optuna_storage", "address", "dashboard", "dashboard_host", "dashboard_port",
               "name", "storage")


def parse_duration(text: str) -> float:
    """"90s", "10m", "1.5h" or plain seconds -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 90s, 10m or 1.5h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run a hyperparameter sweep", description=__doc__)
    p.add_argument("--preset", choices=sorted(PRESETS), help="starting config (default: default)")
    p.add_argument("--config", help="TOML file with [data], [train], [sweep] and [sweep.search]; flags override it")
    add_data_options(p)
    add_train_options(p)
    g = p.add_argument_group("sweep")
    g.add_argument("--num-samples", type=int, help="trials to run")
    g.add_argument("--time-budget", dest="time_budget_s", type=parse_duration, help="stop starting trials after e.g. 10m")
    g.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    g.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (default 1); also torch's thread count")
    g.add_argument("--gpus-per-trial", type=float, help="GPUs per trial, fractions such as 0.25 allowed (default 0)")
    g.add_argument("--grace-period", type=int, help="ASHA: epochs before a trial can be stopped")
    g.add_argument("--reduction-factor", type=int, help="ASHA: keep 1/N of trials at each rung")
    g.add_argument("--max-failures", type=int, help="retries of a crashed trial from its last checkpoint (default 2)")
    g.add_argument("--keep-checkpoints", type=int, help="best checkpoints kept per trial, besides its latest (default 1)")
    g.add_argument("--optuna-storage", help="Optuna RDB URL (default sqlite:///RUN_DIR/optuna.db)")
    g.add_argument("--name", help="run name (default sweep-YYYYmmdd-HHMMSS)")
    g.add_argument("--storage", help="directory (shared on a cluster) or cloud URI (s3://, gs://) for runs (default ./runs or $RNN_TUNE_STORAGE)")
    g.add_argument("--address", help="join an existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto)")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted sweep")
    g.add_argument("--dashboard-host", help="dashboard bind address (default 127.0.0.1)")
    g.add_argument("--dashboard-port", type=int, help="dashboard port (default 8265)")
    g.add_argument("--no-dashboard", dest="dashboard", action="store_const", const=False, help="do not start the dashboard")
    g.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    g.add_argument("--quiet", action="store_true", help="print only the run directory and the final summary")
    p.set_defaults(run=run)


def sweep_config(args: argparse.Namespace) -> Config:
    """preset <- TOML <- flags, with file paths made absolute so `--resume` works from any directory.

    A train flag given on the command line (`--model lstm`) fixes that setting: it leaves the search space.
    """
    base = merge(Config(), PRESETS[args.preset or "default"])
    overrides = {k: getattr(args, k) for k in SWEEP_FLAGS if getattr(args, k, None) is not None}
    cfg = config_from_args(args, base, {"sweep": overrides})
    fixed = overrides_from_args(args)["train"].keys() & cfg.sweep.search.keys()
    if fixed:
        cfg = merge(cfg, {"sweep": {"search": {k: v for k, v in cfg.sweep.search.items() if k not in fixed}}})
    paths = {k: str(Path(v).expanduser().resolve()) for k in ("data_dir", "cache_dir", "train_file", "test_file")
             if (v := getattr(cfg.data, k))}
    storage = cfg.sweep.storage or os.environ.get("RNN_TUNE_STORAGE") or "runs"
    if "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    name = cfg.sweep.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    return merge(cfg, {"data": paths, "sweep": {"storage": storage, "name": name}})


def run(args: argparse.Namespace) -> int:
    from tune.sweep import SweepInterrupted, load_run_config, prepare_run_dir, run_sweep

    if args.resume:
        run_dir = Path(args.resume).expanduser().resolve()
        cfg = load_run_config(run_dir)
    else:
        cfg = sweep_config(args)
        run_dir = prepare_run_dir(cfg)
    if args.address and args.resume:
        raise ConfigError("--address cannot change on --resume; the run's config.json fixes it")
    print(f"run directory: {run_dir}", flush=True)
    try:
        outcome = run_sweep(cfg, run_dir, resume=bool(args.resume), quiet=args.quiet)
    except SweepInterrupted as exc:
        print(f"rnn-tune sweep: {exc}", file=sys.stderr)
        return 130
    s = outcome.summary
    print(f"trials {s['trials']}: completed {s['completed']}, stopped early {s['stopped_early']}, errored {s['errored']}"
          f" in {s['wall_s']:.0f}s")
    for family, best in s["by_family"].items():
        print(f"  best {family:4s} val_acc {best['val_acc']:.2%}  test_acc {best['test_acc']:.2%}  {best['checkpoint']}")
    if not args.no_report:
        from tune.cli.report import make_report

        paths = make_report([run_dir], run_dir)
        print(f"report: {paths['html']}")
    print(f"summary: {run_dir / 'summary.json'}")
    return 0

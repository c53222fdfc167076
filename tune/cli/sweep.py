"""`rnn-tune sweep`: tune RNN/LSTM/GRU classifiers with Ray Tune, Optuna (TPE) and ASHA."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tune.cli.options import (
    add_section_options,
    config_from_args,
    overrides_from_args,
    preset_configs,
)
from tune.config import Config, ConfigError, merge
from tune.presets import PRESETS
from tune.ray_env import set_ray_environment


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run a hyperparameter sweep", description=__doc__)
    p.add_argument("--preset", choices=sorted(PRESETS), help="starting config (default default)")
    p.add_argument(
        "--config",
        help="TOML file with [data], [train], [sweep] and [sweep.search]; flags override it",
    )
    configs = preset_configs()
    for section in ("data", "train"):
        add_section_options(p, section, configs)
    g = add_section_options(p, "sweep", configs)
    g.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted sweep")
    g.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    g.add_argument(
        "--quiet", action="store_true", help="print only the run directory and the final summary"
    )
    p.set_defaults(run=run)


def sweep_config(args: argparse.Namespace) -> Config:
    """preset <- environment <- TOML <- flags, with paths made absolute so `--resume` works from
    any directory.

    A train flag given on the command line (`--model lstm`) fixes that setting: it leaves the
    search space.
    """
    base = merge(Config(), PRESETS[args.preset or "default"])
    cfg = config_from_args(args, base, sections=("data", "train", "sweep"))
    fixed = overrides_from_args(args)["train"].keys() & cfg.sweep.search.keys()
    if fixed:
        search = {k: v for k, v in cfg.sweep.search.items() if k not in fixed}
        cfg = merge(cfg, {"sweep": {"search": search}})
    paths = {
        k: str(Path(v).expanduser().resolve())
        for k in ("data_dir", "cache_dir", "train_file", "test_file")
        if (v := getattr(cfg.data, k))
    }
    train = {"vectors": str(Path(v).expanduser().resolve())} if (v := cfg.train.vectors) else {}
    storage = cfg.sweep.storage
    if "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    local_dir = str(Path(cfg.sweep.local_dir).expanduser().resolve())
    name = cfg.sweep.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    sweep = {"storage": storage, "local_dir": local_dir, "name": name}
    return merge(cfg, {"data": paths, "train": train, "sweep": sweep})


def run(args: argparse.Namespace) -> int:
    from tune.run_dir import claim_run_dir, load_run_config, run_dir_for, start_run_dir

    if args.address and args.resume:
        raise ConfigError("--address cannot change on --resume; the run's config.json fixes it")
    if args.resume:
        run_dir = Path(args.resume).expanduser().resolve()
        cfg = load_run_config(run_dir)
    else:
        cfg = sweep_config(args)
        run_dir = run_dir_for(cfg)
    set_ray_environment(cfg)
    from tune.cluster import preflight
    from tune.sweep import SweepInterrupted, prepare_sweep_data, run_sweep

    preflight(cfg)
    cfg, data = prepare_sweep_data(cfg, args.quiet)
    with claim_run_dir(run_dir):
        if not args.resume:
            start_run_dir(cfg, run_dir)
        print(f"run directory: {run_dir}", flush=True)
        try:
            outcome = run_sweep(cfg, run_dir, data, resume=bool(args.resume), quiet=args.quiet)
        except SweepInterrupted as exc:
            print(f"rnn-tune sweep: {exc}", file=sys.stderr)
            return 130
    s = outcome.summary
    print(
        f"trials {s['trials']}: completed {s['completed']}, stopped early {s['stopped_early']},"
        f" errored {s['errored']} in {s['wall_s']:.0f}s"
    )
    for family, best in s["by_family"].items():
        print(
            f"  best {family:4s} val_acc {best['val_acc']:.2%}  test_acc {best['test_acc']:.2%}"
            f"  {best['checkpoint']}"
        )
    if not args.no_report:
        from tune.cli.report import make_report

        paths = make_report([run_dir], run_dir)
        print(f"report: {paths['html']}")
    print(f"summary: {run_dir / 'summary.json'}")
    return 0

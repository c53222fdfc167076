"""`rnn-tune sweep`: tune RNN/LSTM/GRU classifiers with Ray Tune, Optuna (TPE) and ASHA."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from tune.cli.options import (
    absolute_paths,
    add_section_options,
    config_from_args,
    overrides_from_args,
    preset_configs,
)
from tune.config import Config, ConfigError, merge
from tune.presets import PRESETS
from tune.sweep.ray_env import set_ray_environment


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
    g.add_argument(
        "--resume-existing",
        action="store_true",
        help="with --name: continue STORAGE/NAME if a sweep already ran there (its config.json "
        "wins), else start it; for a job that a restart runs again",
    )
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
    if args.resume_existing and not cfg.sweep.name:
        raise ConfigError(
            "--resume-existing needs --name (or [sweep] name in --config): the run to continue "
            "is STORAGE/NAME"
        )
    name = cfg.sweep.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    return absolute_paths(merge(cfg, {"sweep": {"name": name}}))


def run(args: argparse.Namespace) -> int:
    from base.run_dir import SUMMARY_FILE

    cfg, run_dir, resume = _run_to_do(args)
    if resume and (run_dir / SUMMARY_FILE).is_file():
        print(f"{run_dir} has finished already (its summary.json is written); nothing to resume")
        return _finish(args, run_dir, json.loads((run_dir / SUMMARY_FILE).read_text()))
    return run_config(args, cfg, run_dir, resume)


def run_config(args: argparse.Namespace, cfg: Config, run_dir: Path, resume: bool) -> int:
    """Run (or resume) the sweep `cfg` in `run_dir`: `sweep` and `promote` alike."""
    from base.run_dir import claim_run_dir, sweep_started
    from tune.run_dir import start_run_dir

    if cfg.sweep.warm_start and not resume and not cfg.sweep.start_points:
        from tune.sweep.warm_start import describe, resolve

        cfg = resolve(cfg)
        if not args.quiet:
            print(describe(cfg), flush=True)
    set_ray_environment(cfg)
    from tune.sweep.cluster import preflight
    from tune.sweep.driver import SweepInterrupted, prepare_sweep_data, run_sweep

    preflight(cfg)
    cfg, data = prepare_sweep_data(cfg, args.quiet)
    created = not run_dir.exists()
    try:
        with claim_run_dir(run_dir):
            if not resume:
                start_run_dir(cfg, run_dir)
            print(f"run directory: {run_dir}", flush=True)
            try:
                outcome = run_sweep(cfg, run_dir, data, resume=resume, quiet=args.quiet)
            except SweepInterrupted as exc:
                print(f"rnn-tune sweep: {exc}", file=sys.stderr)
                return 130
    except BaseException:
        if created and not sweep_started(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
            print(f"rnn-tune sweep: removed {run_dir}: the sweep stopped before its first trial")
        raise
    return _finish(args, run_dir, outcome.summary)


def _finish(args: argparse.Namespace, run_dir: Path, s: dict) -> int:
    """Print the summary's counts, each family's best and the final model, then the report."""
    from base.run_dir import SUMMARY_FILE

    print(
        f"trials {s['trials']}: completed {s['completed']}, stopped early {s['stopped_early']},"
        f" errored {s['errored']} in {s['wall_s']:.0f}s"
    )
    for family, best in s["by_family"].items():
        print(
            f"  best {family:4s} val_acc {best['val_acc']:.2%}  test_acc {best['test_acc']:.2%}"
            f"  {best['checkpoint']}"
        )
    final = s.get("final")
    if final:
        print(
            f"  final: {final['kind']} ({len(final['members'])} models)  val_acc "
            f"{final['val_acc']:.2%}  test_acc {final['test_acc']:.2%}  "
            f"rnn-tune predict {run_dir} TEXT"
        )
    if not args.no_report:
        from tune.cli.report import make_report

        paths = make_report([run_dir], run_dir)
        print(f"report: {paths['html']}")
    print(f"summary: {run_dir / SUMMARY_FILE}")
    return 0


def _run_to_do(args: argparse.Namespace) -> tuple[Config, Path, bool]:
    """(config, run directory, resume?): `--resume RUN_DIR` continues that run with its own
    config.json; `--resume-existing` continues STORAGE/NAME when a sweep already ran there (so a
    Kubernetes job restarted after its head pod died picks up where it stopped) and starts it
    otherwise; else a new run, refused where one already ran."""
    from base.run_dir import sweep_started
    from tune.run_dir import load_run_config, run_dir_for

    if args.resume:
        if args.resume_existing:
            raise ConfigError("--resume and --resume-existing exclude each other; pass one")
        if args.address:
            raise ConfigError("--address cannot change on --resume; the run's config.json fixes it")
        run_dir = Path(args.resume).expanduser().resolve()
        return load_run_config(run_dir), run_dir, True
    cfg = sweep_config(args)
    run_dir = run_dir_for(cfg)
    if not args.resume_existing:
        return cfg, run_dir, False
    if not sweep_started(run_dir):
        return cfg, run_dir, False
    stored = load_run_config(run_dir)
    if args.address and args.address != stored.sweep.address:
        raise ConfigError("--address cannot change on resume; the run's config.json fixes it")
    print(f"resuming {run_dir}: a sweep already ran there; its config.json fixes the settings")
    return stored, run_dir, True

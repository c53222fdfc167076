"""`rnn-tune promote RUN_DIR`: train a sweep's best configurations again on new data settings
(`--all-rows` instead of the source's `--max-train-samples`, say), as a new sweep of exactly
those trials.

The source run's settings carry over; data flags, `--epochs` and the sweep flags given here
override them. The trials run in parallel like any sweep's (placement, storage, `--resume`,
monitoring, report); ASHA stops none of them unless `--grace-period` is given. The new run's
config.json names the source run and the trial of each configuration, and its report shows
each one's validation and test accuracy beside its score in the source run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tune.cli.options import (
    absolute_paths,
    add_section_options,
    overrides_from_args,
    section_specs,
)
from tune.config import Config, ConfigError, merge

# Hyperparameters were chosen for the source's vocabulary: promote keeps it as it was built.
VOCAB_SETTINGS = ("ngrams", "min_freq", "max_vocab_size")
TRAIN_FLAGS = ("epochs", "seed", "device", "threads", "precision")
NOT_FOR_PROMOTE = ("warm_start", "num_samples")  # it runs the source's --top configurations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "promote",
        help="train a sweep's best configurations again on new data settings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="RUN_DIR", help="the sweep (finished or interrupted)")
    configs = {"default": Config()}  # shown as declared; the source run's values apply
    data = add_section_options(p, "data", configs)
    data.add_argument(
        "--all-rows",
        action="store_true",
        help="train on every row of the train split (the source's --max-train-samples dropped)",
    )
    add_section_options(p, "train", configs, only=TRAIN_FLAGS)
    sweep = [s.name for s in section_specs("sweep") if s.name not in NOT_FOR_PROMOTE]
    g = add_section_options(p, "sweep", configs, only=tuple(sweep))
    g.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    g.add_argument(
        "--quiet", action="store_true", help="print only the run directory and the final summary"
    )
    p.set_defaults(run=run, resume=None, resume_existing=False)


def promote_config(args: argparse.Namespace) -> Config:
    """The source's config <- the data, train and sweep flags given here; `--top` trials, ASHA
    off unless asked, no time budget unless given, a new run name."""
    from tune.sweep.warm_start import source_config

    source = Path(args.source).expanduser().resolve()
    source_cfg = source_config(source)
    given = overrides_from_args(args, sections=("data", "train", "sweep"))
    train = given["train"]
    changed = [k for k in VOCAB_SETTINGS if k in given["data"]]
    if any(given["data"][k] != getattr(source_cfg.data, k) for k in changed):
        raise ConfigError(
            f"--{changed[0].replace('_', '-')} differs from the source run's; promote retrains "
            "configurations tuned for its vocabulary: keep the vocabulary settings or start a "
            "new sweep"
        )
    sweep = {
        "name": None,
        "time_budget_s": None,
        "warm_start": str(source),
        "start_points": {},
        **given["sweep"],
    }
    if args.all_rows:
        if "max_train_samples" in given["data"]:
            raise ConfigError("--all-rows and --max-train-samples exclude each other; pass one")
        given["data"]["max_train_samples"] = None
    cfg = absolute_paths(merge(source_cfg, {"data": given["data"], "train": train, "sweep": sweep}))
    s = cfg.sweep
    return merge(
        cfg,
        {
            "sweep": {
                "name": s.name or f"{source.name}-promoted-{time.strftime('%Y%m%d-%H%M%S')}",
                "num_samples": s.top,
                "grace_period": s.grace_period
                if "grace_period" in given["sweep"]
                else cfg.train.epochs,
            },
        },
    )


def run(args: argparse.Namespace) -> int:
    from tune.cli.sweep import run_config
    from tune.run_dir import run_dir_for

    cfg = promote_config(args)
    return run_config(args, cfg, run_dir_for(cfg), resume=False)

"""`rnn-tune train`: train one classifier, keep its best-validation epoch, score test once."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from tune.cli.options import add_section_options, config_from_args, train_defaults


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one classifier", description=__doc__)
    p.add_argument("--config", help="TOML file with [data] and [train] sections; flags override it")
    for section in ("data", "train"):
        add_section_options(p, section, train_defaults())
    p.add_argument("--output", help="output directory (default runs/train-YYYYmmdd-HHMMSS)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tune.train.run import train_run

    cfg = config_from_args(args, train_defaults()["train"])
    out = Path(args.output or f"runs/train-{datetime.now():%Y%m%d-%H%M%S}")
    metrics = train_run(cfg, out)
    if args.json:
        print(json.dumps({k: v for k, v in metrics.items() if k != "history"}))
    return 0

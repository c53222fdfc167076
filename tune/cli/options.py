"""Flags shared by subcommands. Every flag's dest is its config field name; unset flags are None."""

from __future__ import annotations

import argparse
from typing import Any

from tune.config import Config, load_toml, merge

DATA_FLAGS = ("dataset", "data_dir", "cache_dir", "train_file", "test_file", "text_column", "label_column",
              "val_fraction", "split_seed", "max_train_samples", "min_freq", "max_vocab_size", "ngrams",
              "synthetic_samples")
TRAIN_FLAGS = ("model", "embed_dim", "hidden_dim", "num_layers", "bidirectional", "dropout", "pooling", "lr",
               "weight_decay", "grad_clip", "sparse_embedding", "batch_size", "epochs", "seed", "device",
               "precision", "threads")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", choices=["ag_news", "synthetic", "files"], help="default ag_news; files when --train-file is given")
    g.add_argument("--data-dir", help="directory holding AG_NEWS train.csv and test.csv (skips the download)")
    g.add_argument("--cache-dir", help="download and encode cache (default $RNN_TUNE_CACHE_DIR or ~/.cache/rnn-tune)")
    g.add_argument("--train-file", help="your own CSV/TSV/Parquet training file")
    g.add_argument("--test-file", help="your own test file (default: a seeded stratified split of --train-file)")
    g.add_argument("--text-column", help="text column of --train-file (default text)")
    g.add_argument("--label-column", help="label column of --train-file (default label)")
    g.add_argument("--val-fraction", type=float, help="validation share carved from train (default 0.05)")
    g.add_argument("--split-seed", type=int, help="seed of the validation/test splits (default 0)")
    g.add_argument("--max-train-samples", type=int, help="train on at most this many rows (stratified)")
    g.add_argument("--min-freq", type=int, help="keep tokens seen at least this often in train (default 1)")
    g.add_argument("--max-vocab-size", type=int, help="keep at most this many tokens (specials not counted)")
    g.add_argument("--ngrams", type=int, help="add n-grams up to n as tokens (default 1)")
    g.add_argument("--synthetic-samples", type=int, help="training rows of --dataset synthetic (default 4000)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model and training")
    g.add_argument("--model", choices=["rnn", "lstm", "gru"], help="model family (default lstm)")
    g.add_argument("--embed-dim", type=int, help="embedding size (default 128)")
    g.add_argument("--hidden-dim", type=int, help="recurrent hidden size (default 128)")
    g.add_argument("--num-layers", type=int, help="recurrent layers (default 1)")
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, help="bidirectional layers (default on)")
    g.add_argument("--dropout", type=float, help="dropout (default 0.3)")
    g.add_argument("--pooling", choices=["last", "mean", "max", "seed"], help="pooling over real tokens (default max)")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 2e-3)")
    g.add_argument("--weight-decay", type=float, help="Adam weight decay (default 0)")
    g.add_argument("--grad-clip", type=float, help="gradient norm clip, 0 for none (default 5)")
    g.add_argument("--sparse-embedding", action=argparse.BooleanOptionalAction,
                   help="sparse embedding gradients with SparseAdam (default on)")
    g.add_argument("--batch-size", type=int, help="batch size (default 64)")
    g.add_argument("--epochs", type=int, help="epochs (default 3)")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    g.add_argument("--precision", choices=["fp32", "bf16"], help="bf16 autocast, for CUDA (default fp32)")
    g.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The flags the user actually gave, as {section: {field: value}}."""
    data = {k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k, None) is not None}
    if "train_file" in data and "dataset" not in data:
        data["dataset"] = "files"
    train = {k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k, None) is not None}
    if train.get("grad_clip") == 0:
        train["grad_clip"] = None
    return {"data": data, "train": train}


def config_from_args(args: argparse.Namespace, base: Config | None = None, extra: dict | None = None) -> Config:
    """defaults (or `base`, e.g. a preset) <- --config TOML <- flags."""
    cfg = base or Config()
    if getattr(args, "config", None):
        cfg = merge(cfg, load_toml(args.config))
    cfg = merge(cfg, overrides_from_args(args))
    return merge(cfg, extra) if extra else cfg

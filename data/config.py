"""Which data to use and how to prepare it: the `data` section of the run config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from base.settings import declared_problems, setting

DATASETS = ("ag_news", "synthetic", "files")


@dataclass(frozen=True)
class DataConfig:
    """Every field that changes the prepared arrays is part of the encode cache's key."""

    dataset: str = setting(
        "ag_news",
        "ag_news, the built-in synthetic set, or your own files (files when --train-file is given)",
        choices=DATASETS,
    )
    data_dir: str | None = setting(
        None, "folder holding AG_NEWS train.csv and test.csv (skips the download)"
    )
    cache_dir: str | None = setting(
        None,
        "download and encode cache (else $RNN_TUNE_CACHE_DIR, "
        "$XDG_CACHE_HOME/rnn-tune or ~/.cache/rnn-tune)",
    )
    train_file: str | None = setting(None, "your own CSV, TSV or Parquet training file")
    test_file: str | None = setting(
        None, "your own test file (else a seeded, stratified share of --train-file)"
    )
    text_column: str = setting("text", "text column of --train-file")
    label_column: str = setting("label", "label column of --train-file (integers or strings)")
    val_fraction: float | None = setting(
        None,
        "validation share carved from train (seeded, stratified); default 5%, raised on small "
        "sets to hold 2,000 rows (at most 15%) so that model selection is not a lottery",
        gt=0,
        lt=1,
    )
    test_fraction: float = setting(
        0.1, "test share carved from --train-file when there is no --test-file", gt=0, lt=1
    )
    split_seed: int = setting(0, "seed of the validation and test splits", ge=0)
    max_train_samples: int | None = setting(
        None, "train on a stratified subset of this many rows", ge=2
    )
    min_freq: int = setting(1, "keep tokens seen at least this often in train", ge=1)
    max_vocab_size: int | None = setting(
        None, "keep at most this many tokens (specials not counted)", ge=1
    )
    ngrams: int = setting(1, "add n-grams up to n as tokens", ge=1)
    synthetic_samples: int = setting(4000, "training rows of --dataset synthetic", ge=20)

    def problems(self) -> list[str]:
        """Each field against its declaration, then the rules across fields."""
        declared = declared_problems(self)
        if declared:
            return declared
        if self.dataset == "files" and not self.train_file:
            return ["dataset 'files' needs --train-file"]
        given = [f for f in ("train_file", "test_file") if getattr(self, f)]
        if self.dataset != "files" and given:
            flag = "--" + given[0].replace("_", "-")
            return [
                f"{flag} is given but --dataset is {self.dataset}, which would ignore it; "
                "drop --dataset (or pass --dataset files)"
            ]
        return []


def default_cache_dir() -> Path:
    """$RNN_TUNE_CACHE_DIR, else $XDG_CACHE_HOME/rnn-tune, else ~/.cache/rnn-tune."""
    if os.environ.get("RNN_TUNE_CACHE_DIR"):
        return Path(os.environ["RNN_TUNE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnn-tune"

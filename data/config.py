"""Which data to use and how to prepare it: the `data` section of the run config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATASETS = ("ag_news", "synthetic", "files")


@dataclass(frozen=True)
class DataConfig:
    """Every field that changes the prepared arrays is part of the encode cache's key."""

    dataset: str = "ag_news"
    data_dir: str | None = None
    cache_dir: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    val_fraction: float = 0.05
    test_fraction: float = 0.1
    split_seed: int = 0
    max_train_samples: int | None = None
    min_freq: int = 1
    max_vocab_size: int | None = None
    ngrams: int = 1
    synthetic_samples: int = 4000

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot work (empty when valid)."""
        out = []
        if self.dataset not in DATASETS:
            out.append(f"unknown dataset {self.dataset!r}: choose one of {', '.join(DATASETS)}")
        if self.dataset == "files" and not self.train_file:
            out.append("dataset 'files' needs --train-file")
        if not 0 < self.val_fraction < 1:
            out.append(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if not 0 < self.test_fraction < 1:
            out.append(f"test_fraction must be between 0 and 1, got {self.test_fraction}")
        if self.max_train_samples is not None and self.max_train_samples < 2:
            out.append(f"max_train_samples must be >= 2, got {self.max_train_samples}")
        if self.min_freq < 1 or self.ngrams < 1:
            out.append("min_freq and ngrams must be >= 1")
        if self.synthetic_samples < 20:
            out.append(f"synthetic_samples must be >= 20, got {self.synthetic_samples}")
        return out


def default_cache_dir() -> Path:
    """$RNN_TUNE_CACHE_DIR, else $XDG_CACHE_HOME/rnn-tune, else ~/.cache/rnn-tune."""
    if os.environ.get("RNN_TUNE_CACHE_DIR"):
        return Path(os.environ["RNN_TUNE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnn-tune"

"""Named starting configs for `rnn-tune sweep --preset`: each lists only what differs from the
declared defaults (`tune/config.py`). A TOML file and flags override them.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # A real sweep: every family, the main sizes, learning rate, dropout and pooling.
    "default": {"train": {"epochs": 6}},
    # About 4 minutes on 2 CPUs: a 12,000-row stratified subset of train, 3 epochs, early stopping,
    # the default glove.6B.50d vectors (a 69 MB download once; embed_dim then leaves the search).
    "quick": {
        "data": {"max_train_samples": 12_000},
        "sweep": {
            "num_samples": 12,
            "search": {
                "model": {"choice": ["rnn", "lstm", "gru"]},
                "lr": {"loguniform": [1e-3, 1e-2]},
                "embed_dim": {"choice": [32, 64, 128]},
                "hidden_dim": {"choice": [32, 64, 128]},
            },
        },
    },
    # The teaching notebook's exact settings, one trial per family: the baseline row.
    "seed": {
        "train": {
            "vectors": "none",
            "embed_dim": 64,
            "hidden_dim": 32,
            "batch_size": 16,
            "lr": 0.01,
            "pooling": "seed",
            "bidirectional": False,
            "dropout": 0.0,
            "grad_clip": None,
        },
        "sweep": {
            "num_samples": 3,
            "grace_period": 3,
            "search": {"model": {"choice": ["rnn", "lstm", "gru"]}},
        },
    },
}

"""The prologue every run shares, `rnn-tune train`'s one model and a sweep's driver alike: the
data prepared (or read from the cache), pre-trained vectors applied, and a refusal of a model this
machine cannot hold, before a run directory is written or Ray starts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

from data.prepare import PreparedData, prepare_data
from models.classifier import estimate_parameters
from tune.config import Config, ConfigError, TrainConfig
from tune.train.loop import describe_vectors, with_vectors


def check_model_fits(t: TrainConfig, vocab_size: int, num_classes: int) -> None:
    """Refuse a model whose training state (weights, gradients, two Adam moments: 16 bytes per
    parameter) exceeds this machine's memory. A sweep passes the largest setting its search can
    pick (`tune/sweep/search_space.largest_train`)."""
    params = estimate_parameters(
        t.model, vocab_size, num_classes, t.embed_dim, t.hidden_dim, t.num_layers, t.bidirectional
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if 16 * params > memory:
        raise ConfigError(
            f"a {t.model} with embed_dim {t.embed_dim}, hidden_dim {t.hidden_dim}, num_layers "
            f"{t.num_layers} and a {vocab_size:,}-token vocab has {params:,} parameters, "
            f"{16 * params / 2**30:.0f} GiB to train; this machine has {memory / 2**30:.0f} GiB: "
            "lower the sizes or --max-vocab-size"
        )


def prepare_run(
    cfg: Config,
    largest: Callable[[Config], TrainConfig] = lambda cfg: cfg.train,
    quiet: bool = False,
) -> tuple[Config, PreparedData]:
    """The prepared data, with any pre-trained vectors in `data.vectors` (vocab_size, embed_dim),
    and the config with embed_dim fixed to their size. `largest(cfg)` is the biggest model the run
    may build (one model: its own; a sweep: the largest its search can pick)."""
    started = time.perf_counter()
    data = prepare_data(cfg.data)
    cfg, vectors = with_vectors(cfg, data.vocab)
    if vectors is not None:
        data = replace(data, vectors=vectors.matrix)
    check_model_fits(largest(cfg), len(data.vocab), len(data.class_names))
    if not quiet:
        print(
            f"data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test rows, "
            f"vocab {len(data.vocab)}, classes {', '.join(data.class_names)} "
            f"({'cache' if data.cache_hit else 'prepared'} in "
            f"{time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        if vectors is not None:
            print(describe_vectors(vectors, len(data.vocab)), flush=True)
    return cfg, data

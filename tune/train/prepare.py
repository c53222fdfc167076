"""The prologue every run shares, `rnn-tune train`'s one model and a sweep's driver alike: the
data prepared (or read from the cache), pre-trained vectors applied, and a refusal of a model this
machine cannot hold, before a run directory is written or Ray starts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from data.config import default_cache_dir
from data.prepare import PreparedData, prepare_data
from data.vector_sources import VectorsUnavailable, load_vectors
from data.vectors import WordVectors
from models.classifier import estimate_parameters
from tune.config import Config, ConfigError, TrainConfig, merge


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


def vector_choices(cfg: Config) -> list[str]:
    """The vectors the run may use: the search's choices, else the one setting ("none" for
    none)."""
    spec = cfg.sweep.search.get("vectors")
    choices = spec["choice"] if spec else [cfg.train.vectors]
    return [str(v) if v and str(v).lower() != "none" else "none" for v in choices]


def with_vectors(
    cfg: Config, data: PreparedData, quiet: bool = False
) -> tuple[Config, dict[str, WordVectors]]:
    """Read each vectors the run may use, once, lined up with the vocab; a named source that
    cannot be had (offline, not cached) is dropped with one line. The config comes back with
    the choices that remain: one left is fixed (and, if it is vectors, embed_dim is their size
    and leaves the search); several stay searched. `vector_files` records what was read."""
    cache_dir = Path(cfg.data.cache_dir) if cfg.data.cache_dir else default_cache_dir()
    loaded: dict[str, WordVectors] = {}
    kept: list[str] = []
    for choice in vector_choices(cfg):
        if choice == "none":
            kept.append(choice)
            continue
        try:
            loaded[choice] = load_vectors(choice, data.vocab, data.key, cache_dir, cfg.train.seed)
        except VectorsUnavailable as exc:
            print(f"{exc}; running without them", flush=True)
            continue
        kept.append(choice)
        if not quiet:
            print(describe_vectors(loaded[choice], len(data.vocab)), flush=True)
    kept = kept or ["none"]
    search = dict(cfg.sweep.search)
    train: dict[str, Any] = {
        "vector_files": {
            name: {
                "file": v.path,
                "sha256": v.sha256,
                "words_found": v.found,
                "vocab_size": len(data.vocab),
                "dim": v.dim,
            }
            for name, v in loaded.items()
        }
    }
    if len(kept) > 1:
        search["vectors"] = {"choice": kept}
    else:
        search.pop("vectors", None)
        train["vectors"] = kept[0]
        if kept[0] == "none":
            search.pop("embed_lr_scale", None)
        else:
            train["embed_dim"] = loaded[kept[0]].dim
            search.pop("embed_dim", None)
    return merge(cfg, {"train": train, "sweep": {"search": search}}), loaded


def describe_vectors(vectors: WordVectors, vocab_size: int) -> str:
    return (
        f"vectors {vectors.name}: {vectors.found:,} of {vocab_size:,} vocab words "
        f"({vectors.found / vocab_size:.0%}) found in {vectors.path}; embed_dim {vectors.dim}"
    )


def prepare_run(
    cfg: Config,
    largest: Callable[[Config], TrainConfig] = lambda cfg: cfg.train,
    quiet: bool = False,
) -> tuple[Config, PreparedData]:
    """The prepared data, with the pre-trained vectors the run may use in `data.vectors`
    ({name: (vocab_size, embed_dim)}), and the config they leave (tune/train/prepare.with_vectors).
    `largest(cfg)` is the biggest model the run may build (one model: its own; a sweep: the
    largest its search can pick)."""
    started = time.perf_counter()
    data = prepare_data(cfg.data)
    if not quiet:
        print(
            f"data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test rows, "
            f"vocab {len(data.vocab)}, classes {', '.join(data.class_names)} "
            f"({'cache' if data.cache_hit else 'prepared'} in "
            f"{time.perf_counter() - started:.1f}s)",
            flush=True,
        )
    cfg, vectors = with_vectors(cfg, data, quiet)
    data = replace(data, vectors={name: v.matrix for name, v in vectors.items()})
    check_model_fits(largest(cfg), len(data.vocab), len(data.class_names))
    return cfg, data

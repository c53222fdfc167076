"""The config's search space ({key: {kind: args}}) as Ray Tune domains, which OptunaSearch converts.

Keys are train-setting names (`lr`, `embed_dim`, `model`, ...), the same names the results use.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ray import tune

from tune.config import Config, TrainConfig


def tune_space(search: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{"lr": {"loguniform": [1e-4, 1e-2]}, "model": {"choice": ["rnn", "lstm"]}} -> Tune domains.

    `randint` and `lograndint` bounds are inclusive.
    """
    space = {}
    for key, spec in search.items():
        ((kind, args),) = spec.items()
        if kind == "choice":
            space[key] = tune.choice(list(args))
        elif kind == "uniform":
            space[key] = tune.uniform(*args)
        elif kind == "loguniform":
            space[key] = tune.loguniform(*args)
        elif kind == "randint":
            space[key] = tune.randint(args[0], args[1] + 1)
        elif kind == "lograndint":
            space[key] = tune.lograndint(args[0], args[1] + 1)
    return space


def is_conditional(search: dict[str, dict[str, Any]]) -> bool:
    """Searched vectors make embed_dim (and embed_lr_scale) apply to some trials only."""
    return "vectors" in search


class ConditionalSpace:
    """The search space as an Optuna define-by-run function (Ray's OptunaSearch takes it as
    `space`), for a space that searches `vectors`: `vectors` is asked first; `embed_dim` only
    where it is none (else the vectors' size is returned as a constant, which TPE never
    models); `embed_lr_scale` only where it is not. A class, not a closure: Ray pickles the
    searcher for --resume."""

    def __init__(self, search: dict[str, dict[str, Any]], dims: dict[str, int]):
        self.search, self.dims = search, dims

    def __call__(self, trial) -> dict[str, Any]:
        vectors = suggest(trial, "vectors", self.search["vectors"])
        constants: dict[str, Any] = {}
        if vectors != "none":
            constants["embed_dim"] = self.dims[vectors]
        for key, spec in self.search.items():
            skip = "embed_dim" if vectors != "none" else "embed_lr_scale"
            if key not in ("vectors", skip):
                suggest(trial, key, spec)
        return constants


def suggest(trial, key: str, spec: dict[str, Any]) -> Any:
    """One `{kind: args}` asked of an Optuna trial, as tune_space's domains would sample it."""
    ((kind, args),) = spec.items()
    if kind == "choice":
        return trial.suggest_categorical(key, list(args))
    if kind in ("uniform", "loguniform"):
        return trial.suggest_float(key, args[0], args[1], log=kind == "loguniform")
    return trial.suggest_int(key, args[0], args[1], log=kind == "lograndint")


def largest_train(cfg: Config) -> TrainConfig:
    """The train settings with every searched size at the top of its range (LSTM if the family
    is searched): the biggest model the sweep can build."""
    top: dict[str, Any] = {}
    for key in ("embed_dim", "hidden_dim", "num_layers"):
        spec = cfg.sweep.search.get(key)
        if spec:
            ((kind, args),) = spec.items()
            top[key] = max(args)
    if "model" in cfg.sweep.search:
        by_size = ("rnn", "gru", "lstm")
        top["model"] = max(cfg.sweep.search["model"]["choice"], key=by_size.index)
    dims = [v["dim"] for v in cfg.train.vector_files.values()]
    if dims and "vectors" in cfg.sweep.search:
        top["embed_dim"] = max([top.get("embed_dim", cfg.train.embed_dim), *dims])
    if "bidirectional" in cfg.sweep.search:
        top["bidirectional"] = True in cfg.sweep.search["bidirectional"]["choice"]
    return replace(cfg.train, **top)


def family_first_points(
    search: dict[str, dict[str, Any]], num_samples: int, defaults: dict[str, Any]
) -> list[dict[str, Any]]:
    """One starting point per model family in the space, so every family is tried at least once.

    The other keys take the config's own value where the space allows it, else a middle value.
    """
    families = search.get("model", {}).get("choice", [])
    if len(families) < 2 or num_samples < len(families):
        return []
    base = {
        key: _start_value(spec, defaults.get(key)) for key, spec in search.items() if key != "model"
    }
    return [{"model": family, **base} for family in families]


def _start_value(spec: dict[str, Any], default: Any) -> Any:
    ((kind, args),) = spec.items()
    if kind == "choice":
        return default if default in args else args[len(args) // 2]
    low, high = args
    if default is not None and low <= default <= high:
        return default
    if kind in ("loguniform", "lograndint"):
        middle = math.sqrt(low * high)
    else:
        middle = (low + high) / 2
    return round(middle) if kind in ("randint", "lograndint") else middle

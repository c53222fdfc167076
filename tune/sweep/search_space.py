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

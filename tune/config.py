"""The one typed, frozen run config: defaults <- preset <- TOML file <- CLI flags -> trial -> config.json.

Names are shared everywhere: the CLI flag `--embed-dim`, the field `embed_dim`, the search-space
key `embed_dim` and the results column `embed_dim`.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from data.config import DataConfig
from models import MODEL_FAMILIES, POOLINGS

PRECISIONS = ("fp32", "bf16")


class ConfigError(ValueError):
    """A config value, file or flag is wrong; the message names it and the fix."""


@dataclass(frozen=True)
class TrainConfig:
    """One model and how to train it; every field can be a search-space key."""

    model: str = "lstm"
    embed_dim: int = 128
    hidden_dim: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3
    pooling: str = "max"
    lr: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    sparse_embedding: bool = True
    batch_size: int = 64
    epochs: int = 3
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    threads: int | None = None

    def problems(self) -> list[str]:
        out = []
        if self.model not in MODEL_FAMILIES:
            out.append(f"unknown model {self.model!r}: choose one of {', '.join(MODEL_FAMILIES)}")
        if self.pooling not in POOLINGS:
            out.append(f"unknown pooling {self.pooling!r}: choose one of {', '.join(POOLINGS)}")
        for name in ("embed_dim", "hidden_dim", "num_layers", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                out.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            out.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.dropout < 1:
            out.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.precision not in PRECISIONS:
            out.append(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            out.append(f"unknown device {self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        return out


DEFAULT_SEARCH: dict[str, Any] = {
    "model": {"choice": ["rnn", "lstm", "gru"]},
    "lr": {"loguniform": [3e-4, 1e-2]},
    "embed_dim": {"choice": [64, 128, 256]},
    "hidden_dim": {"choice": [64, 128, 256]},
}
SEARCH_KINDS = ("choice", "uniform", "loguniform", "randint", "lograndint")


@dataclass(frozen=True)
class SweepConfig:
    """How a sweep runs: trial count and budget, placement, early stopping, storage and cluster."""

    name: str | None = None
    storage: str | None = None
    num_samples: int = 24
    time_budget_s: float | None = None
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    grace_period: int = 1
    reduction_factor: int = 3
    max_failures: int = 2
    keep_checkpoints: int = 1
    optuna_storage: str | None = None
    address: str | None = None
    dashboard: bool = True
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8265
    search: dict = field(default_factory=lambda: dict(DEFAULT_SEARCH))

    def problems(self) -> list[str]:
        out = []
        if self.num_samples < 1:
            out.append(f"num_samples must be >= 1, got {self.num_samples}")
        if self.keep_checkpoints < 1 or self.max_failures < 0:
            out.append("keep_checkpoints must be >= 1 and max_failures >= 0")
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            out.append("cpus_per_trial must be > 0 and gpus_per_trial >= 0")
        if self.grace_period < 1 or self.reduction_factor < 2:
            out.append(f"grace_period must be >= 1 and reduction_factor >= 2, got {self.grace_period}, {self.reduction_factor}")
        train_fields = {f.name for f in fields(TrainConfig)}
        for key, spec in self.search.items():
            if key not in train_fields:
                out.append(f"search key {key!r} is not a train setting (one of {', '.join(sorted(train_fields))})")
            elif not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in SEARCH_KINDS):
                out.append(f"search key {key!r} needs one of {', '.join(SEARCH_KINDS)}, e.g. {{choice = [64, 128]}}")
        return out


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Build and validate; unknown sections or keys and wrong types raise ConfigError."""
        return merge(cls(), raw)

    def with_train(self, **values: Any) -> Config:
        return merge(self, {"train": values})


def merge(base: Config, overrides: dict[str, Any]) -> Config:
    """Return `base` with `overrides` ({section: {key: value}}) applied and checked."""
    sections = {f.name: getattr(base, f.name) for f in fields(Config)}
    for section, values in overrides.items():
        if section not in sections:
            raise ConfigError(f"unknown config section [{section}]: use {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config section [{section}] must be a table of key = value")
        sections[section] = _apply(section, sections[section], values)
    cfg = Config(**sections)
    bad = cfg.data.problems() + cfg.train.problems() + cfg.sweep.problems()
    if cfg.sweep.grace_period > cfg.train.epochs:
        bad.append(f"sweep.grace_period ({cfg.sweep.grace_period}) exceeds train.epochs ({cfg.train.epochs}), the most epochs a trial runs")
    if bad:
        raise ConfigError(bad[0])
    return cfg


def _apply(section: str, obj: Any, values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(type(obj))
    known = {f.name for f in fields(obj)}
    checked = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting {section}.{key}: known are {', '.join(sorted(known))}")
        checked[key] = _coerce(f"{section}.{key}", value, hints[key])
    return replace(obj, **checked)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return None
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if kind is dict and isinstance(value, dict):
            return value
    names = " or ".join("none" if k is type(None) else k.__name__ for k in allowed)
    raise ConfigError(f"{name} must be {names}, got {value!r}")


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def write_config_json(cfg: Config, path: Path) -> None:
    from data.files import atomic_write_text

    atomic_write_text(path, json.dumps(cfg.to_dict(), indent=2))


def read_config_json(path: Path) -> Config:
    try:
        return Config.from_dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read run config {path}: {exc}") from None


__all__ = ["Config", "ConfigError", "DataConfig", "SweepConfig", "TrainConfig", "merge", "load_toml",
           "read_config_json", "write_config_json"]

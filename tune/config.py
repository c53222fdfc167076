"""The one typed, frozen run config, from defaults, preset, TOML and flags to the trial.

Precedence: declared defaults <- preset <- environment <- TOML file <- CLI flags; the result is
written to config.json and carried by checkpoints.

Names are shared everywhere: the CLI flag `--embed-dim`, the field `embed_dim`, the search-space
key `embed_dim` and the results column `embed_dim`.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from base.errors import UsageError
from base.settings import check, coerce, setting, specs
from data.config import DataConfig
from models import MODEL_FAMILIES, POOLINGS

PRECISIONS = ("fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine", "onecycle")
LR_SCALINGS = ("none", "sqrt", "linear")
LR_REFERENCE_BATCH = 64
SEARCH_KINDS = ("choice", "uniform", "loguniform", "randint", "lograndint")
OBJECTIVES = ("accuracy", "accuracy,latency")
JOURNAL = "journal"  # --optuna-storage: the study in RUN_DIR/optuna.journal


class ConfigError(UsageError):
    """A config value, file or flag is wrong; the message names it and the fix."""


def parse_duration(text: str) -> float:
    """`90s`, `10m`, `1.5h` or plain seconds -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 10m or 1.5h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


@dataclass(frozen=True)
class TrainConfig:
    """One model and how to train it. Settings marked searchable may be search-space keys."""

    model: str = setting("lstm", "model family", choices=MODEL_FAMILIES, searchable=True)
    embed_dim: int = setting(128, "embedding size", ge=1, searchable=True)
    hidden_dim: int = setting(128, "recurrent hidden size", ge=1, searchable=True)
    num_layers: int = setting(1, "recurrent layers", ge=1, searchable=True)
    bidirectional: bool = setting(True, "bidirectional layers", searchable=True)
    embed_dropout: float = setting(
        0.0, "dropout on the embedded tokens", ge=0, lt=1, searchable=True
    )
    word_dropout: float = setting(
        0.0,
        "share of training tokens replaced by the unknown-word token",
        ge=0,
        lt=1,
        searchable=True,
    )
    dropout: float = setting(
        0.3, "dropout between layers and before the head", ge=0, lt=1, searchable=True
    )
    pooling: str = setting(
        "max",
        "pooling over real tokens (seed: the notebook's, padding included)",
        choices=POOLINGS,
        searchable=True,
    )
    lr: float = setting(
        2e-3, "Adam learning rate (the peak, under a schedule)", gt=0, searchable=True
    )
    lr_schedule: str = setting(
        "constant",
        "learning rate over training: constant, cosine decay to 0, or onecycle (up over the "
        "first 30% of steps, then cosine down)",
        choices=LR_SCHEDULES,
        searchable=True,
    )
    lr_scaling: str = setting(
        "none",
        f"lr is the rate at batch size {LR_REFERENCE_BATCH}; other batch sizes scale it by "
        f"(batch_size/{LR_REFERENCE_BATCH}) or its square root (sqrt), so a searched batch size "
        "keeps a fitting rate",
        choices=LR_SCALINGS,
        searchable=True,
    )
    warmup: float = setting(
        0.0,
        "share of all steps over which constant and cosine rise linearly to lr",
        ge=0,
        lt=1,
        searchable=True,
    )
    weight_decay: float = setting(0.0, "Adam weight decay", ge=0, searchable=True)
    grad_clip: float | None = setting(5.0, "gradient norm clip (0 for none)", ge=0, searchable=True)
    vectors: str | None = setting(
        "glove.6B.50d",
        "pre-trained word vectors that start the embedding: a name (glove.6B.50d, 100d, 200d or "
        "300d: downloaded once into the cache, checksum checked) or a GloVe, word2vec or fastText "
        "text file (.gz too); none trains it from scratch; embed_dim becomes their size",
        searchable=True,
    )
    embed_lr_scale: float = setting(
        1.0,
        "the embedding's learning rate as a share of lr: 1 trains it with the rest, 0 freezes it "
        "(pre-trained vectors kept as they are)",
        ge=0,
        searchable=True,
    )
    vector_files: dict = setting(
        help="filled by the run: the vectors read, {name: {file, sha256, words_found, "
        "vocab_size, dim}}",
        cli=False,
        default_factory=dict,
    )
    sparse_embedding: bool = setting(True, "sparse embedding gradients with SparseAdam")
    batch_size: int = setting(64, "training batch size", ge=1, searchable=True)
    epochs: int = setting(3, "epochs; in a sweep, the most a trial runs (ASHA's max_t)", ge=1)
    seed: int = setting(0, "random seed of weights and batch order", ge=0)
    device: str = setting("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    precision: str = setting(
        "fp32", "bf16 runs forward passes under autocast (for CUDA)", choices=PRECISIONS
    )
    threads: int | None = setting(
        None, "torch CPU threads (else torch's choice; in a sweep, the trial's CPUs)", ge=1, le=1024
    )

    def __post_init__(self) -> None:
        if isinstance(self.vectors, str) and self.vectors.lower() == "none":
            object.__setattr__(self, "vectors", None)  # "none": TOML and search spaces have no null

    @property
    def effective_lr(self) -> float:
        """lr, scaled to batch_size by lr_scaling."""
        ratio = self.batch_size / LR_REFERENCE_BATCH
        return self.lr * {"none": 1.0, "sqrt": ratio**0.5, "linear": ratio}[self.lr_scaling]

    def problems(self) -> list[str]:
        """Rules across fields or beyond a range (each field's range comes from its declaration)."""
        if self.device not in ("auto", "cpu", "cuda", "mps") and not re.fullmatch(
            r"cuda:\d+", self.device
        ):
            return [f"unknown device {self.device!r}: use auto, cpu, cuda, cuda:N or mps"]
        return []


DEFAULT_SEARCH: dict[str, Any] = {
    "model": {"choice": ["rnn", "lstm", "gru"]},
    # Pre-trained vectors beat training the embedding from scratch by 0.9-1.6 points of the final
    # model on AG_NEWS (docs/benchmarks.md): "none" is no choice here; where neither can be had
    # the run says so and trains from scratch, searching embed_dim instead.
    "vectors": {"choice": ["glove.6B.50d", "glove.6B.100d"]},
    "lr": {"loguniform": [3e-4, 1e-2]},
    "embed_dim": {"choice": [64, 128, 256]},
    "hidden_dim": {"choice": [64, 128, 256]},
    "dropout": {"uniform": [0.0, 0.5]},
    "word_dropout": {"uniform": [0.1, 0.5]},
    "pooling": {"choice": ["last", "mean", "max"]},
}


DEFAULT_TRIALS = 24


@dataclass(frozen=True)
class SweepConfig:
    """How a sweep runs: trial count and budget, placement, early stopping, storage and cluster."""

    name: str | None = setting(None, "run name, one plain folder name (else sweep-DATE-TIME)")
    storage: str = setting(
        "runs",
        "folder (shared on a cluster) or cloud URI (s3://, gs://) holding run directories",
        env="RNN_TUNE_STORAGE",
    )
    local_dir: str = setting(
        "runs",
        "with a cloud --storage: the folder for the run's plain files",
        env="RNN_TUNE_LOCAL_RUNS",
    )
    num_samples: int | None = setting(
        None,
        f"trials to run (default: {DEFAULT_TRIALS}; with --time-budget, as many as it allows)",
        ge=1,
    )
    time_budget_s: float | None = setting(
        None,
        "search this long (90s, 10m, 1.5h); trials stop at an epoch boundary",
        gt=0,
        flag="--time-budget",
        parse=parse_duration,
    )
    max_concurrent: int | None = setting(None, "at most this many trials at once", ge=1)
    cpus_per_trial: float = setting(1.0, "CPUs per trial; also its torch thread count", gt=0)
    gpus_per_trial: float = setting(0.0, "GPUs per trial; fractions such as 0.25 allowed", ge=0)
    grace_period: int = setting(1, "ASHA: epochs before a trial can be stopped", ge=1)
    reduction_factor: int = setting(3, "ASHA: keep 1/N of the trials at each rung", ge=2)
    max_failures: int = setting(2, "retries of a crashed trial from its last checkpoint", ge=0)
    keep_checkpoints: int = setting(
        1, "finished trials whose best checkpoint is kept, per family", ge=1
    )
    ensemble_candidates: int = setting(
        16,
        "top trials (by val_acc, any family) kept as ensemble candidates; the ensemble takes the "
        "top k of them, k chosen on validation (0: no ensemble)",
        ge=0,
        le=64,
    )
    max_latency_ms: float | None = setting(
        None,
        "the final model answers one request (batch 1, one thread) in at most this many ms, as "
        "measured at the end of the run",
        gt=0,
    )
    max_size_mb: float | None = setting(
        None, "the final model's files (what predict loads) take at most this many MB", gt=0
    )
    objective: str = setting(
        "accuracy",
        "what Optuna searches for: accuracy (val_acc), or accuracy,latency (val_acc and each "
        "trial's latency_ms per request, a Pareto front); ASHA stops trials on val_acc either way",
        choices=OBJECTIVES,
    )
    optuna_storage: str | None = setting(
        None,
        "Optuna RDB URL, e.g. PostgreSQL, or journal: RUN_DIR/optuna.journal, whose asks and "
        "tells cost a sixth of SQLite's, for thousands of trials (else sqlite:///RUN_DIR/optuna.db)",
    )
    address: str | None = setting(
        None, "join a running Ray cluster: HOST:PORT, ray://HOST:PORT or auto (else a local Ray)"
    )
    dashboard: bool = setting(True, "start the local Ray dashboard")
    dashboard_host: str = setting("127.0.0.1", "dashboard bind address")
    dashboard_port: int = setting(8265, "dashboard port", ge=1, le=65535)
    reuse_actors: bool = setting(
        False,
        "run later trials in finished trials' Ray actors: about 3.5 CPU-s less per trial, but the "
        "dashboard's Actors view can no longer name each actor after its trial",
    )
    search: dict = setting(
        help="the search space: {key = {kind = args}} in TOML",
        cli=False,
        default_factory=lambda: dict(DEFAULT_SEARCH),
    )
    warm_start: str | None = setting(
        None,
        "a run directory whose best configurations this sweep runs first; with the same data "
        "and search space TPE also learns from its finished trials",
    )
    top: int = setting(
        3,
        "with --warm-start or `rnn-tune promote`: the source run's best configurations to run",
        ge=1,
    )
    start_points: dict = setting(
        help="filled when the run starts from another: {points: [{trial_id, val_acc, config}], "
        "best first; skipped: how many fell outside this run's search space}",
        cli=False,
        default_factory=dict,
    )

    @property
    def trial_cap(self) -> int | None:
        """Trials the sweep may start: --num-samples, else none with a time budget (it runs until
        the budget is spent), else 24."""
        if self.num_samples is not None:
            return self.num_samples
        return None if self.time_budget_s is not None else DEFAULT_TRIALS

    def problems(self) -> list[str]:
        out = []
        if self.name is not None and not is_plain_name(self.name):
            out.append(
                f"run name {self.name!r} must be one plain folder name (letters, digits, "
                "'.', '-', '_'; not '.' or '..'); pick another --name"
            )
        return out + [p for key, spec in self.search.items() for p in search_problems(key, spec)]


def is_plain_name(name: str) -> bool:
    """One path component that stays inside its parent: no separators, not "." or ".."."""
    return bool(re.fullmatch(r"[A-Za-z0-9._-]+", name)) and name not in (".", "..")


def search_problems(key: str, spec: Any) -> list[str]:
    """Why `key = {kind = args}` cannot be searched: not searchable, or impossible args."""
    searchable = {s.name: s for s in specs(TrainConfig) if s.searchable}
    where = f"sweep.search.{key}"
    if key not in searchable:
        return [
            f"search key {key!r} is not a searchable train setting (one of {', '.join(searchable)})"
        ]
    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in SEARCH_KINDS):
        return [
            f"search key {key!r} needs one of {', '.join(SEARCH_KINDS)}, "
            "e.g. {choice = [64, 128]}"
        ]
    declared, ((kind, args),) = searchable[key], spec.items()
    if not isinstance(args, list) or not args:
        return [f"{where}: {kind} needs a non-empty list, e.g. {kind} = [1, 2]"]
    if kind != "choice" and len(args) != 2:
        return [f"{where}: {kind} needs [low, high], got {args!r}"]
    for value in args:
        checked, problem = coerce(declared, value, where)
        problem = problem or check(declared, checked, where)
        if problem:
            return [problem]
    if kind == "choice":
        return []
    numeric = declared.kind in (int, float)
    if not numeric or (kind in ("randint", "lograndint")) != (declared.kind is int):
        fits = "randint or lograndint" if declared.kind is int else "uniform or loguniform"
        return [
            f"{where}: {kind} does not fit {key} ({declared.kind.__name__}); use choice"
            + (f" or {fits}" if numeric else "")
        ]
    low, high = args
    if not low < high:
        return [f"{where}: low must be below high, got {args!r}"]
    if kind.startswith("log") and not low > 0:
        return [f"{where}: {kind} needs low > 0, got {low}"]
    return []


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

    def with_embed_dim(self, dim: int) -> Config:
        """embed_dim fixed to `dim` (the size of --vectors) and taken out of the search."""
        search = {k: v for k, v in self.sweep.search.items() if k != "embed_dim"}
        return merge(self, {"train": {"embed_dim": dim}, "sweep": {"search": search}})


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
        bad.append(
            f"sweep.grace_period ({cfg.sweep.grace_period}) exceeds train.epochs "
            f"({cfg.train.epochs}), the most epochs a trial runs"
        )
    if bad:
        raise ConfigError(bad[0])
    return cfg


def _apply(section: str, obj: Any, values: dict[str, Any]) -> Any:
    declared = {s.name: s for s in specs(type(obj))}
    checked = {}
    for key, value in values.items():
        if key not in declared:
            raise ConfigError(f"unknown setting {section}.{key}: known are {', '.join(declared)}")
        spec = declared[key]
        value, problem = coerce(spec, value, f"{section}.{key}")
        problem = problem or check(spec, value)
        if problem:
            where = f"flag {spec.flag}, TOML [{section}] {key}" if spec.cli else f"TOML [{section}]"
            raise ConfigError(f"{problem} ({where})")
        checked[key] = value
    return replace(obj, **checked)


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def write_config_json(cfg: Config, path: Path) -> None:
    from base.files import atomic_write_text

    atomic_write_text(path, json.dumps(cfg.to_dict(), indent=2))


def read_config_json(path: Path) -> Config:
    try:
        return Config.from_dict(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read run config {path}: {exc}") from None


__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "SweepConfig",
    "TrainConfig",
    "merge",
    "load_toml",
    "read_config_json",
    "write_config_json",
]

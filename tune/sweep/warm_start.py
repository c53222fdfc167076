"""A run that starts from an earlier one (`rnn-tune sweep --warm-start`, `rnn-tune promote`).

Its first trials are the source run's best configurations by validation accuracy (enqueued in
the Optuna study, best first); those outside the new search space are skipped and counted.
Where the data settings and the search space are the source's own, the source's finished
trials are also copied into the new study, so TPE models from its first trial instead of
sampling its random start-up trials (Optuna's `add_trial`; Ray's maintainers point users who
want to continue a search at a new experiment seeded this way, ray#18847).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from base.run_dir import RECORDS_FILE
from results.load import ReportError, read_records
from tune.config import Config, ConfigError, merge
from tune.run_dir import load_run_config
from tune.sweep.optuna_study import read_study
from tune.sweep.reconcile import RAY_TRIAL_ATTR

SOURCE_ATTR = "warm_start_source"  # on a copied Optuna trial: "SOURCE_RUN trial TRIAL_ID"


def ranked_trials(source: Path, keys: list[str]) -> list[dict[str, Any]]:
    """The source's trials with a validation score, best first: {trial_id, val_acc, config}, the
    config holding the source's searched `keys`."""
    best: dict[str, float] = {}
    configs: dict[str, dict[str, Any]] = {}
    try:
        found = read_records(source / RECORDS_FILE)
    except ReportError as exc:
        raise ConfigError(f"cannot start from {source}: {exc}") from None
    for record in found:
        tid = record["trial_id"]
        configs.setdefault(tid, record.get("config") or {})
        acc = (record.get("metrics") or {}).get("val_acc")
        if record["event"] == "result" and isinstance(acc, (int, float)):
            if not (record["metrics"].get("error")) and acc > best.get(tid, -1.0):
                best[tid] = float(acc)
    ranked = sorted(best, key=lambda tid: -best[tid])
    return [
        {
            "trial_id": tid,
            "val_acc": best[tid],
            "config": {k: configs[tid][k] for k in keys if k in configs[tid]},
        }
        for tid in ranked
    ]


def in_space(search: dict[str, dict[str, Any]], config: dict[str, Any]) -> bool:
    """Every searched key has a value the new space can take (a choice listed, a value in
    range); keys the space does not search are left to the new run's own settings."""
    with_vectors = config.get("vectors", "none") != "none"
    for key, spec in search.items():
        if "vectors" in search and key == ("embed_dim" if with_vectors else "embed_lr_scale"):
            continue  # the conditional space does not ask it of this configuration
        if key not in config:
            return False
        ((kind, args),) = spec.items()
        value = config[key]
        if kind == "choice":
            if value not in args:
                return False
        elif not (isinstance(value, (int, float)) and args[0] <= value <= args[1]):
            return False
    return True


def source_config(source: Path) -> Config:
    """The source run's config, with a one-line refusal for anything but a run directory."""
    try:
        return load_run_config(source)
    except ConfigError as exc:
        raise ConfigError(f"cannot start from {source}: {exc}") from None


def start_points(cfg: Config, source: Path, source_cfg: Config) -> dict[str, Any]:
    """`cfg.sweep.start_points` for a run starting from `source` (whose config is `source_cfg`):
    its `top` best configurations that fit this run's search space, and how many did not."""
    ranked = ranked_trials(source, list(source_cfg.sweep.search))
    if not ranked:
        raise ConfigError(
            f"{source} has no trial with a validation score yet; start from a run that finished "
            "at least one epoch"
        )
    top = ranked[: cfg.sweep.top]
    points = [
        {**p, "config": {k: p["config"][k] for k in cfg.sweep.search if k in p["config"]}}
        for p in top
        if in_space(cfg.sweep.search, p["config"])
    ]
    return {"points": points, "skipped": len(top) - len(points)}


def resolve(cfg: Config) -> Config:
    """`cfg` with its start points from `cfg.sweep.warm_start` and how many finished source
    trials TPE will be given (none where the data or the search space differ)."""
    source = Path(cfg.sweep.warm_start)
    source_cfg = source_config(source)
    found = start_points(cfg, source, source_cfg)
    known = 0
    searches = cfg.sweep.trial_cap is None or cfg.sweep.trial_cap > len(found["points"])
    if searches and comparable(cfg, source_cfg):
        known = sum(t.state == TrialState.COMPLETE for t in read_study(source) or [])
    return merge(cfg, {"sweep": {"start_points": {**found, "known_trials": known}}})


def describe(cfg: Config) -> str:
    """One line on what the run takes from its source."""
    s = cfg.sweep
    found = s.start_points
    line = f"warm start from {s.warm_start}: its top {len(found['points'])} configurations first"
    if found["skipped"]:
        line += f" ({found['skipped']} outside this search space skipped)"
    if found["known_trials"]:
        return line + f"; TPE starts from its {found['known_trials']} finished trials"
    if s.trial_cap is not None and s.trial_cap <= len(found["points"]):
        return line
    return line + "; TPE starts afresh (the data or the search space differ)"


def comparable(cfg: Config, source_cfg: Config) -> bool:
    """Whether the source's scores mean the same here: the same data (rows, splits, vocab), the
    same search space and the same objective."""
    return (
        cfg.data == source_cfg.data
        and cfg.sweep.search == source_cfg.sweep.search
        and cfg.sweep.objective == source_cfg.sweep.objective
    )


def seed_study(study: optuna.Study, source: Path) -> int:
    """Copy the source's finished Optuna trials into `study` (once: a resumed run has them);
    returns how many the study holds from it. The source's study is read from a read-only copy
    of its optuna.db (none from a study kept elsewhere)."""
    copied = [t for t in study.get_trials(deepcopy=False) if SOURCE_ATTR in t.user_attrs]
    if copied:
        return len(copied)
    finished = [t for t in read_study(source) or [] if t.state == TrialState.COMPLETE]
    trials = [
        optuna.trial.create_trial(
            params=t.params,
            distributions=t.distributions,
            values=t.values,
            intermediate_values=t.intermediate_values,
            user_attrs={SOURCE_ATTR: f"{source} trial {t.user_attrs.get(RAY_TRIAL_ATTR, '?')}"},
        )
        for t in finished
    ]
    study.add_trials(trials)
    return len(trials)

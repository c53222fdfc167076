"""The Ray Tune tuner: the one place it is built (new or restored), and its results read back as
plain records for the end phase.

Ray Tune's API moves between releases; its `Tuner`, `TuneConfig`, `RunConfig` and result objects
are met here and nowhere else in the sweep.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch
from ray.tune.trainable import wrap_function

from base.run_dir import is_uri, trial_dir_name
from data.prepare import PreparedData
from results.load import trial_status
from tune.config import Config
from tune.sweep.budget import Budget, BudgetStopper
from tune.sweep.finished_trials import DropEndedTrialWindows
from tune.sweep.objective import directions, objective_metrics
from tune.sweep.optuna_search import WholeCurveOptunaSearch, make_sampler
from tune.sweep.optuna_study import open_storage
from tune.sweep.pruning import CheckpointPruner
from tune.sweep.ray_env import RAY_TRIAL_LOGS_ENV
from tune.sweep.ray_state import ExperimentStateGuard
from tune.sweep.records import LiveProgress, TrialRecorder
from tune.sweep.search_space import (
    ConditionalSpace,
    family_first_points,
    is_conditional,
    tune_space,
)
from tune.sweep.snapshot_pacing import pace_snapshots
from tune.sweep.trial import run_trial
from tune.sweep.trial_monitor import named_trial_actor
from tune.sweep.warm_start import seed_study

UNCAPPED_PLAN = 40  # trials a budget-bound sweep plans for when sizing TPE's start-up


class _NoTrialLogs(logging.Filter):
    """Ray's ResultGrid reads each trial's result.json when the fit returns, and names every
    trial without one in a warning. With Ray's trial logs off (tune/sweep/ray_env.py) that is
    every trial, as intended: trials.jsonl is the history (`trial_record`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            os.environ.get(RAY_TRIAL_LOGS_ENV) == "1"
            and record.getMessage().startswith("Failed to fetch metrics for")
        )


_NO_TRIAL_LOGS = _NoTrialLogs()


class TrialNamer:
    """Trial names carry the sweep name, so trials are recognisable in the Ray dashboard."""

    def __init__(self, sweep_name: str):
        self.sweep_name = sweep_name

    def __call__(self, trial) -> str:
        return trial_dir_name(self.sweep_name, trial.trial_id)


def experiment_location(cfg: Config, run_dir: Path) -> tuple[str, str]:
    """(storage root, experiment path) for Ray Tune's trial files and checkpoints.

    With a cloud URI (s3://, gs://, anything pyarrow's filesystems read) Ray keeps checkpoints
    there and the driver's plain files stay in the local run directory.
    """
    if is_uri(cfg.sweep.storage):
        base, _, query = cfg.sweep.storage.partition("?")
        return cfg.sweep.storage, f"{base.rstrip('/')}/{run_dir.name}" + (
            f"?{query}" if query else ""
        )
    return str(run_dir.parent), str(run_dir)


def trainable(cfg: Config, data: PreparedData, sweep: str):
    """The trial function with the base config and the training arrays in Ray's object store (put
    once), as an actor class named after each trial in the dashboard (after the sweep alone
    when actors are reused)."""
    resources = {"cpu": cfg.sweep.cpus_per_trial, "gpu": cfg.sweep.gpus_per_trial}
    with_data = tune.with_parameters(
        run_trial, base=cfg.to_dict(), data=data.for_training(), sweep=sweep
    )
    actor = tune.with_resources(wrap_function(with_data), resources)
    return named_trial_actor(actor, sweep, cfg.train.model, cfg.sweep.reuse_actors)


def make_tuner(
    cfg: Config,
    data: PreparedData,
    run_dir: Path,
    storage_url: str,
    pruner: CheckpointPruner,
    budget: Budget | None,
    quiet: bool,
    resume: bool = False,
) -> tune.Tuner:
    """The sweep's `Tuner`: restored from RUN_DIR's state with `resume`, else a new one searching
    with Optuna (the study in `storage_url`) and stopping with ASHA."""
    pace_snapshots()
    logging.getLogger("ray.tune.analysis.experiment_analysis").addFilter(_NO_TRIAL_LOGS)
    if resume:
        return tune.Tuner.restore(
            experiment_location(cfg, run_dir)[1],
            trainable=trainable(cfg, data, run_dir.name),
            resume_unfinished=True,
            resume_errored=False,
        )
    s = cfg.sweep
    families = s.search.get("model", {}).get("choice", [])
    storage = open_storage(storage_url)
    warm = [p["config"] for p in s.start_points.get("points", [])]
    metric, mode = objective_metrics(s.objective)
    if s.warm_start and s.start_points.get("known_trials"):
        study = optuna.create_study(
            study_name=run_dir.name,
            storage=storage,
            directions=directions(s.objective),
            load_if_exists=True,
        )
        seed_study(study, Path(s.warm_start))
    conditional = is_conditional(s.search)
    dims = {name: matrix.shape[1] for name, matrix in data.vectors.items()}
    search = WholeCurveOptunaSearch(
        # The space is Optuna's from the start (not Ray's param_space): a searcher built with
        # its metric set keeps it, and several objectives need that.
        space=ConditionalSpace(s.search, dims)
        if conditional
        else OptunaSearch.convert_search_space(tune_space(s.search)),
        metric=metric,
        mode=mode,
        sampler=make_sampler(
            s.trial_cap or UNCAPPED_PLAN, families, cfg.train.seed, grouped=conditional
        ),
        study_name=run_dir.name,
        storage=storage,
        budget=budget,
        points_to_evaluate=warm
        or family_first_points(s.search, s.trial_cap or UNCAPPED_PLAN, cfg.to_dict()["train"])
        or None,
    )
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=cfg.train.epochs,
        grace_period=s.grace_period,
        reduction_factor=s.reduction_factor,
    )
    return tune.Tuner(
        trainable(cfg, data, run_dir.name),
        param_space={},
        tune_config=tune.TuneConfig(
            metric="val_acc",
            mode="max",
            search_alg=search,
            scheduler=scheduler,
            num_samples=s.trial_cap or -1,  # -1: until the time budget ends the sweep
            max_concurrent_trials=s.max_concurrent,
            reuse_actors=s.reuse_actors,  # else one actor per trial, named after it
            trial_name_creator=TrialNamer(run_dir.name),
            trial_dirname_creator=TrialNamer(run_dir.name),
        ),
        run_config=tune.RunConfig(
            name=run_dir.name,
            storage_path=experiment_location(cfg, run_dir)[0],
            verbose=0,
            stop=BudgetStopper(budget) if budget else None,
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            # The pruner deletes checkpoints, behind Ray's snapshots (tune/sweep/pruning.py).
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=None,
                checkpoint_score_attribute="val_acc",
                checkpoint_score_order="max",
            ),
            callbacks=[
                TrialRecorder(str(run_dir)),
                LiveProgress(
                    cfg.train.epochs,
                    quiet,
                    num_samples=s.trial_cap,
                    time_budget_s=s.time_budget_s,
                ),
                pruner,
                ExperimentStateGuard(
                    str(run_dir),
                    on_snapshot=pruner.snapshot_taken,
                    remote=is_uri(cfg.sweep.storage),
                ),
                DropEndedTrialWindows(),
            ],
        ),
    )


def trial_record(
    result, cfg: Config, pruner: CheckpointPruner, scored: dict[str, tuple[float | None, int]]
) -> dict[str, Any]:
    """One finished Ray result -> a plain record (family, config, status, best val_acc, and the
    Ray checkpoint left, if any). `scored` holds each trial's best val_acc and epochs done from
    trials.jsonl (`records.scored_epochs`): Ray keeps no history of its own here.

    Its checkpoints pass through the pruner once more (trials resumed after a killed driver
    were not seen ending by this driver's pruner).
    """
    metrics = result.metrics or {}
    config = {**{k: getattr(cfg.train, k) for k in cfg.sweep.search}, **(result.config or {})}
    family = config.get("model", cfg.train.model)
    trial_id = metrics.get("trial_id") or Path(result.path).name
    best_acc, epochs = scored.get(trial_id, (None, 0))
    saved = [(m.get("val_acc") or 0.0, c) for c, m in (result.best_checkpoints or [])]
    pruner.finish(trial_id, family, saved)
    kept = [c for _, tid, c in pruner.kept(family) if tid == trial_id]
    error = metrics.get("error")
    if not error and result.error:
        error = f"{type(result.error).__name__}: {result.error}".splitlines()[0]
    return {
        "trial_id": trial_id,
        "family": family,
        "config": config,
        "status": trial_status(
            "error" if result.error else "complete",
            error,
            metrics.get("epoch", 0),
            cfg.train.epochs,
        ),
        "val_acc": best_acc,
        "epochs": epochs,
        "checkpoint": kept[0] if kept else None,
        "error": error,
    }

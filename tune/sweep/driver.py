"""The sweep launcher: Optuna search, ASHA, placement, checkpoints, storage, resume and the summary.

With the rest of `tune/sweep/` this is the only code that calls Ray Tune and Optuna; their APIs
move, so the calls are few and kept in this folder. What a finished sweep concludes (ensemble,
baseline, summary) is `tune/outcome/`; one model's training and scoring is `tune/train/`.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import ray
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.trainable import wrap_function

from data.prepare import PreparedData
from results.load import trial_status
from results.run_files import BEST_DIR, LINEAR_DIR, LINEAR_FILE, VOCAB_FILE
from tune.config import Config, ConfigError
from tune.outcome.baseline import BaselineJob, paired_with_final
from tune.outcome.ensemble import Candidate, Scores, build_ensemble
from tune.outcome.final import Pool, final_model
from tune.outcome.summary import write_summary
from tune.run_dir import is_uri, trial_dir_name, write_driver_file
from tune.sweep.budget import Budget, BudgetStopper
from tune.sweep.cluster import (
    check_resources,
    check_storage_visible,
    inside_ray_job,
    start_ray,
)
from tune.sweep.optuna_search import WholeCurveOptunaSearch, make_sampler
from tune.sweep.optuna_study import optuna_storage_url
from tune.sweep.pruning import CheckpointPruner, delete_checkpoint
from tune.sweep.ray_state import ExperimentStateGuard, repair_state
from tune.sweep.reconcile import reconcile
from tune.sweep.records import LiveProgress, TrialRecorder, ended_trials, unfinished_trials
from tune.sweep.search_space import (
    ConditionalSpace,
    family_first_points,
    is_conditional,
    largest_train,
    tune_space,
)
from tune.sweep.trial import FAULT_ENV, run_trial
from tune.sweep.trial_monitor import named_trial_actor
from tune.sweep.warm_start import seed_study
from tune.train.checkpoint import export_checkpoint
from tune.train.prepare import prepare_run

UNCAPPED_PLAN = 40  # trials a budget-bound sweep plans for when sizing TPE's start-up


@dataclass(frozen=True)
class SweepOutcome:
    run_dir: Path
    summary: dict[str, Any]


class SweepInterrupted(Exception):
    """The driver was interrupted (Ctrl-C) before every trial finished; state kept for --resume."""

    def __init__(self, run_dir: Path, unfinished: int):
        super().__init__(
            f"interrupted with {unfinished} trial(s) unfinished; continue with: rnn-tune sweep "
            f"--resume {run_dir}"
        )


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


def sweep_budget(cfg: Config, run_dir: Path) -> Budget | None:
    """The time budget kept at epoch boundaries (tune/sweep/budget.py), or None without one."""
    if cfg.sweep.time_budget_s is None:
        return None
    first_rung = min(cfg.sweep.grace_period, cfg.train.epochs)
    return Budget(str(run_dir), cfg.sweep.time_budget_s, first_rung)


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


def prepare_sweep_data(cfg: Config, quiet: bool = False) -> tuple[Config, PreparedData]:
    """The run's prologue (tune/train/prepare.py), sized by the largest model the search can
    pick."""
    return prepare_run(cfg, largest_train, quiet)


def run_sweep(
    cfg: Config, run_dir: Path, data: PreparedData, resume: bool = False, quiet: bool = False
) -> SweepOutcome:
    """Run (or resume) the sweep in `run_dir`, then score each family's best checkpoint on test.

    A full disk ends it with one line; finished trials stay in trials.jsonl and Ray's state.
    """
    try:
        return _run_sweep(cfg, run_dir, data, resume, quiet)
    except Exception as exc:
        if not _disk_full(exc):
            raise
        raise ConfigError(
            f"no space left on the device holding {run_dir}; finished trials are kept: free "
            f"space, then continue with: rnn-tune sweep --resume {run_dir}"
        ) from None


def _disk_full(exc: BaseException | None) -> bool:
    """A full disk, however it surfaced: an OSError (ENOSPC), or SQLite's "database or disk is
    full" inside Optuna's storage error when the study's write is the one that found it."""
    while exc is not None:
        text = str(exc)
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
            "No space left on device" in text or "database or disk is full" in text
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _run_sweep(
    cfg: Config, run_dir: Path, data: PreparedData, resume: bool, quiet: bool
) -> SweepOutcome:
    # Forked before Ray starts any thread; it also writes the run's linear model.
    linear_path = run_dir / LINEAR_DIR / LINEAR_FILE
    baseline_job = BaselineJob(data, cfg.train.seed, cfg.data.ngrams, linear_path)
    try:
        return _sweep_and_finish(cfg, run_dir, data, resume, quiet, baseline_job)
    finally:
        baseline_job.close()


def _sweep_and_finish(
    cfg: Config,
    run_dir: Path,
    data: PreparedData,
    resume: bool,
    quiet: bool,
    baseline_job: BaselineJob,
) -> SweepOutcome:
    started = time.time()
    if inside_ray_job():
        os.chdir(run_dir)  # Ray may re-extract the job's working_dir (our cwd) while the sweep runs
    if not (run_dir / VOCAB_FILE).is_file():
        data.vocab.save(run_dir / VOCAB_FILE)
    storage_url = optuna_storage_url(cfg, run_dir)
    budget = sweep_budget(cfg, run_dir)
    pruner = CheckpointPruner(cfg.sweep.keep_checkpoints, cfg.sweep.ensemble_candidates)
    info = start_ray(cfg, run_dir.name, quiet)
    write_driver_file(run_dir, info.to_dict())
    if not quiet:
        print(f"live page: rnn-tune monitor {run_dir}", flush=True)
    try:
        check_resources(cfg)
        if not is_uri(cfg.sweep.storage):
            check_storage_visible(run_dir)
        if resume:
            if not is_uri(cfg.sweep.storage):
                for name in repair_state(run_dir):
                    print(
                        f"repaired {name} from the run's backup (the driver was killed while "
                        "writing it)",
                        flush=True,
                    )
                for line in reconcile(run_dir, storage_url, run_dir.name):
                    print(f"repaired: {line}", flush=True)
            tuner = tune.Tuner.restore(
                experiment_location(cfg, run_dir)[1],
                trainable=trainable(cfg, data, run_dir.name),
                resume_unfinished=True,
                resume_errored=False,
            )
        else:
            tuner = _new_tuner(cfg, data, run_dir, storage_url, pruner, budget, quiet)
        fit_started = time.time()
        if budget:
            budget.start()
        results = tuner.fit()
    finally:
        if budget:
            budget.finish()
        ray.shutdown()
    unfinished = unfinished_trials(run_dir)
    cap = cfg.sweep.trial_cap
    # A trial stopped before its actor came up has no start record: count the ends as well.
    missing = max(len(unfinished), cap - len(ended_trials(run_dir)) if cap else 0)
    # Run directories from before budget.json have Ray's own budget: the fit's wall tells.
    over = budget and (budget.ended() or time.time() - fit_started >= budget.budget_s)
    if missing and not over:
        raise SweepInterrupted(run_dir, missing)
    rows = [_row(result, cfg, pruner) for result in results]
    # Checkpoints the end phase has copied or outranked go only once summary.json is written: a
    # driver killed before then finds every source again on --resume and redoes the end phase.
    doomed: list = []
    cpus = len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, cpus - 1) if baseline_job.running() else cpus)
    scores = Scores(data)
    started_from = _started_from(rows, cfg, scores)
    baseline = baseline_job.result()
    torch.set_num_threads(cpus)
    ensemble, final = _ensemble_and_final(rows, scores, run_dir, cfg, pruner, doomed, baseline)
    keep_source = is_uri(cfg.sweep.storage)
    best_by_family = _score_best(rows, scores, run_dir, doomed, keep_source)
    _inject_end_pause()
    _pair_with_final(baseline, final)
    summary = write_summary(
        run_dir,
        rows,
        best_by_family,
        storage_url,
        run_dir.name,
        time.time() - started,
        baselines={baseline.pop("name"): {**baseline, "n_test": len(data.test)}},
        ensemble=ensemble,
        final=final,
        budget=budget.report() if budget else None,
        warm_start=started_from,
    )
    for checkpoint in doomed:
        delete_checkpoint(checkpoint)
    if not is_uri(cfg.sweep.storage) and (strays := _remove_strays(run_dir, rows)):
        print(f"removed {strays} checkpoint(s) no trial holds (saved after Ray's last snapshot)")
    return SweepOutcome(run_dir, summary)


def _inject_end_pause() -> None:
    """Testing hook: RNN_TUNE_FAULT=end_pause:SECONDS holds the end phase after each family's
    best is exported and before summary.json, so a test can kill the driver there (the end
    phase itself takes about a second on a small run)."""
    spec = os.environ.get(FAULT_ENV, "")
    if spec.startswith("end_pause:"):
        time.sleep(float(spec.split(":", 1)[1]))


def _remove_strays(run_dir: Path, rows: list[dict[str, Any]]) -> int:
    """Remove the checkpoint folders no trial holds any more: one Ray registered after its last
    snapshot before the driver was killed is known to no trial on --resume. Returns how many."""
    held = {Path(r["checkpoint"].path) for r in rows if r["checkpoint"]}
    strays = [
        p
        for p in run_dir.glob(f"{trial_dir_name(run_dir.name, '*')}/checkpoint_*")
        if p.is_dir() and p not in held
    ]
    for path in strays:
        shutil.rmtree(path, ignore_errors=True)
    return len(strays)


def _pair_with_final(baseline: dict[str, Any], final: dict[str, Any] | None) -> None:
    """Move the per-row test results out of the records; add to the baseline's record its paired
    tests against the final model (`vs_final`) and against the RNNs alone (`vs_rnn`)."""
    baseline_correct = baseline.pop("test_correct")
    for key in ("val_probs", "test_probs"):
        baseline.pop(key)
    if not final:
        return
    baseline["vs_final"] = paired_with_final(baseline_correct, final.pop("test_correct"))
    rnn_correct = final.pop("rnn_test_correct")
    if rnn_correct is not None:
        baseline["vs_rnn"] = paired_with_final(baseline_correct, rnn_correct)


def _started_from(rows: list[dict[str, Any]], cfg: Config, scores: Scores) -> dict[str, Any] | None:
    """summary.json's `warm_start`: each configuration taken from the source run, its score
    there beside this run's trial of it (validation, and test where its checkpoint is kept)."""
    s = cfg.sweep
    if not s.warm_start:
        return None
    points = []
    for point in s.start_points.get("points", []):
        row = next(
            (r for r in rows if all(r["config"].get(k) == v for k, v in point["config"].items())),
            None,
        )
        test_acc = None
        if row and row["checkpoint"] and row["val_acc"] is not None:
            with row["checkpoint"].as_directory() as directory:
                candidate = Candidate(
                    row["trial_id"], row["family"], row["val_acc"], Path(directory)
                )
                correct = scores.test(candidate).argmax(1) == scores.data.test.labels
            test_acc = float(np.mean(correct))
        points.append(
            {
                "source_trial": point["trial_id"],
                "source_val_acc": point["val_acc"],
                "trial_id": row["trial_id"] if row else None,
                "val_acc": row["val_acc"] if row else None,
                "test_acc": test_acc,
            }
        )
    return {
        "source": s.warm_start,
        "points": points,
        "skipped": s.start_points.get("skipped", 0),
        "known_trials": s.start_points.get("known_trials", 0),
    }


def _ensemble_and_final(
    rows: list[dict[str, Any]],
    scores: Scores,
    run_dir: Path,
    cfg: Config,
    pruner: CheckpointPruner,
    doomed: list,
    baseline: dict[str, Any],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The top trials' ensemble (tune/outcome/ensemble.py) and the final model chosen among the
    trials, the ensemble and the linear model (tune/outcome/final.py); then the checkpoints kept
    only as their candidates are doomed (members are exported to RUN_DIR/ensemble/)."""
    ranked = sorted(
        (r for r in rows if r["checkpoint"] and r["val_acc"] is not None),
        key=lambda r: -r["val_acc"],
    )[: cfg.sweep.ensemble_candidates]
    family_best = [row["trial_id"] for row in _best_by_family(rows).values()]
    with ExitStack() as stack:
        candidates = [
            Candidate(
                r["trial_id"],
                r["family"],
                r["val_acc"],
                Path(stack.enter_context(r["checkpoint"].as_directory())),
            )
            for r in ranked
        ]
        ensemble = build_ensemble(candidates, scores, run_dir)
        linear = baseline if baseline.get("model") else None
        pool = Pool(scores, candidates, linear)
        final = final_model(pool, ensemble, scores.data, run_dir, family_best)
    if not is_uri(cfg.sweep.storage):
        for row in rows:
            if row["checkpoint"] and row["trial_id"] not in pruner.family_kept(row["family"]):
                doomed.append(row["checkpoint"])
                row["checkpoint"] = None
    return ensemble, final


def _new_tuner(
    cfg: Config,
    data: PreparedData,
    run_dir: Path,
    storage_url: str,
    pruner: CheckpointPruner,
    budget: Budget | None,
    quiet: bool,
) -> tune.Tuner:
    s = cfg.sweep
    families = s.search.get("model", {}).get("choice", [])
    storage = optuna.storages.RDBStorage(storage_url)
    warm = [p["config"] for p in s.start_points.get("points", [])]
    if s.warm_start and s.start_points.get("known_trials"):
        study = optuna.create_study(
            study_name=run_dir.name, storage=storage, direction="maximize", load_if_exists=True
        )
        seed_study(study, Path(s.warm_start))
    conditional = is_conditional(s.search)
    dims = {name: matrix.shape[1] for name, matrix in data.vectors.items()}
    search = WholeCurveOptunaSearch(
        space=ConditionalSpace(s.search, dims) if conditional else None,
        metric="val_acc" if conditional else None,
        mode="max" if conditional else None,
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
        param_space={} if conditional else tune_space(s.search),
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
            # Ray keeps each trial's best and latest, and with num_to_keep=1 it snapshots the
            # experiment state after every checkpoint (so a resumed trial never names a deleted
            # one); the pruner trims further, behind those snapshots (tune/sweep/pruning.py).
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute="val_acc", checkpoint_score_order="max"
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
                ExperimentStateGuard(str(run_dir)),
            ],
        ),
    )


def _row(result, cfg: Config, pruner: CheckpointPruner) -> dict[str, Any]:
    """One finished Ray result -> a plain record (family, config, status, best val_acc, checkpoint).

    Its checkpoints pass through the pruner once more (trials resumed after a killed driver
    were not seen ending by this driver's pruner); `checkpoint` is the one left, if any.
    """
    metrics = result.metrics or {}
    history = result.metrics_dataframe
    good = (
        history[history["error"].isna()] if history is not None and "error" in history else history
    )
    best_acc = float(good["val_acc"].max()) if good is not None and len(good) else None
    config = {**{k: getattr(cfg.train, k) for k in cfg.sweep.search}, **(result.config or {})}
    family = config.get("model", cfg.train.model)
    trial_id = metrics.get("trial_id") or Path(result.path).name
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
        "epochs": int(good["epoch"].max()) if good is not None and len(good) else 0,
        "checkpoint": kept[0] if kept else None,
        "error": error,
    }


def _best_by_family(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each family's row with the highest val_acc among those with a checkpoint (the first on a
    tie)."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["checkpoint"] and row["val_acc"] is not None:
            current = best.get(row["family"])
            if current is None or row["val_acc"] > current["val_acc"]:
                best[row["family"]] = row
    return best


def _score_best(
    rows: list[dict[str, Any]],
    scores: Scores,
    run_dir: Path,
    doomed: list,
    keep_source: bool = False,
) -> dict[str, dict[str, Any]]:
    """Copy each family's best checkpoint to RUN_DIR/best/FAMILY/ (standalone; the source is
    doomed) and score it on test (once: an ensemble member's scores are reused).

    With cloud storage (`keep_source`) the bucket keeps its copy too: the driver's local run
    directory may be the less durable of the two.
    """
    best = _best_by_family(rows)
    scored, data = {}, scores.data
    for family, row in sorted(best.items()):
        target = run_dir / BEST_DIR / family
        shutil.rmtree(target, ignore_errors=True)
        with row["checkpoint"].as_directory() as source:
            path = export_checkpoint(Path(source), target, data.vocab)
        if not keep_source:
            doomed.append(row["checkpoint"])
        candidate = Candidate(row["trial_id"], family, row["val_acc"], path.parent)
        preds = scores.test(candidate).argmax(1)
        correct = preds == data.test.labels
        scored[family] = {
            **row,
            "checkpoint": str(path),
            "test_acc": float(np.mean(correct)),
            "test_confusion": _confusion(data.test.labels, preds, len(data.class_names)),
            "class_names": list(data.class_names),
            "test_correct": correct,  # in the test split's row order
        }
    return scored


def _confusion(labels, preds, n: int) -> list[list[int]]:
    matrix = [[0] * n for _ in range(n)]
    for truth, pred in zip(labels.tolist(), preds.tolist()):
        matrix[truth][pred] += 1
    return matrix

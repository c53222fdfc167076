"""The sweep launcher: Ray runtime, Optuna search, ASHA, placement, storage and resume.

This module and `trial.py`, `records.py` and `search_space.py` are the only places that call
Ray Tune and Optuna; their APIs move, so the calls are few and kept here.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from data.batches import PaddedBatches
from data.prepare import PreparedData, prepare_data
from tune.checkpoint import load_checkpoint
from tune.config import Config, ConfigError, read_config_json, write_config_json
from tune.records import RECORDS_FILE, LiveProgress, TrialRecorder, trial_status, unfinished_trials
from tune.search_space import family_first_points, tune_space
from tune.summary import write_summary
from tune.training import evaluate
from tune.trial import run_trial

CONFIG_FILE = "config.json"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PACKAGES = ("data", "models", "tune")


@dataclass(frozen=True)
class SweepOutcome:
    run_dir: Path
    summary: dict[str, Any]


class SweepInterrupted(Exception):
    """The driver was interrupted (Ctrl-C) before every trial finished; the state is saved for --resume."""

    def __init__(self, run_dir: Path, unfinished: int):
        super().__init__(f"interrupted with {unfinished} trial(s) unfinished; continue with: rnn-tune sweep --resume {run_dir}")


class TrialNamer:
    """Trial names carry the sweep name, so trials are recognisable in the Ray dashboard."""

    def __init__(self, sweep_name: str):
        self.sweep_name = sweep_name

    def __call__(self, trial) -> str:
        return f"{self.sweep_name}_{trial.trial_id}"


def optuna_storage_url(cfg: Config, run_dir: Path) -> str:
    return cfg.sweep.optuna_storage or f"sqlite:///{run_dir / 'optuna.db'}"


def is_uri(storage: str | None) -> bool:
    return bool(storage) and "://" in storage


def experiment_location(cfg: Config, run_dir: Path) -> tuple[str, str]:
    """(storage root, experiment path) for Ray Tune's trial files and checkpoints.

    With a cloud URI (s3://, gs://, anything pyarrow's filesystems read) Ray keeps checkpoints
    there and the driver's plain files stay in the local run directory.
    """
    if is_uri(cfg.sweep.storage):
        base, _, query = cfg.sweep.storage.partition("?")
        return cfg.sweep.storage, f"{base.rstrip('/')}/{run_dir.name}" + (f"?{query}" if query else "")
    return str(run_dir.parent), str(run_dir)


def start_ray(cfg: Config, run_name: str, quiet: bool = False) -> None:
    """Join a cluster (`--address`, or the one a Ray Job runs in) or start a local Ray.

    A local Ray's dashboard binds 127.0.0.1 unless `--dashboard-host` says otherwise. Joining from
    outside, the project's packages travel to the workers in the runtime environment, so nodes
    need no manual install.
    """
    s = cfg.sweep
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")  # experiment state at most 1 s old when a driver dies
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False, "namespace": "rnn-tune"}
    in_job = inside_ray_job()
    if not in_job:
        kwargs["job_config"] = ray.job_config.JobConfig(metadata={"rnn_tune_sweep": run_name})
    if s.address:
        kwargs["address"] = s.address
        if not in_job:
            kwargs["runtime_env"] = {"py_modules": [str(Path(__file__).resolve().parents[1] / p) for p in PACKAGES]}
    elif not os.environ.get("RAY_ADDRESS"):
        warning = dashboard_warning(cfg)
        if warning:
            print(warning, flush=True)
        kwargs.update(include_dashboard=s.dashboard, dashboard_host=s.dashboard_host, dashboard_port=s.dashboard_port)
    context = ray.init(**kwargs)
    if not quiet and s.dashboard and getattr(context, "dashboard_url", None):
        print(f"dashboard: http://{context.dashboard_url}", flush=True)


def dashboard_warning(cfg: Config) -> str | None:
    """The warning printed when the local dashboard binds anything but loopback."""
    s = cfg.sweep
    if not s.dashboard or s.dashboard_host in LOOPBACK:
        return None
    return (f"WARNING: the Ray dashboard will listen on {s.dashboard_host}:{s.dashboard_port}. Ray's job API runs any code "
            "sent to it (CVE-2023-48022): expose it only on a trusted network, with Ray token authentication on.")


def inside_ray_job() -> bool:
    return bool(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"))


def check_storage_visible(run_dir: Path) -> None:
    """On a multi-node cluster, fail early unless every node sees the run directory (shared storage).

    Since Ray 2.7 checkpoints are no longer synced to the head node: a node-local path would lose them.
    """
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) < 2:
        return
    marker = run_dir / f".visible-{os.getpid()}"
    marker.write_text("rnn-tune")
    try:
        probe = ray.remote(num_cpus=0)(os.path.exists)
        refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(str(marker))
                for n in nodes]
        seen = ray.get(refs, timeout=120)
    finally:
        marker.unlink(missing_ok=True)
    blind = [n["NodeManagerAddress"] for n, ok in zip(nodes, seen) if not ok]
    if blind:
        raise ConfigError(f"--storage {run_dir.parent} is not visible from node(s) {', '.join(blind)}: on a multi-node "
                          "cluster use a directory every node mounts (e.g. NFS) so checkpoints are not lost")


def check_resources(cfg: Config) -> None:
    """Fail early when no node can ever hold one trial (Ray would leave it pending forever)."""
    nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
    s = cfg.sweep
    if not any(r.get("CPU", 0) >= s.cpus_per_trial and r.get("GPU", 0) >= s.gpus_per_trial for r in nodes):
        largest = max(nodes, key=lambda r: (r.get("GPU", 0), r.get("CPU", 0)), default={})
        raise ConfigError(f"no node has {s.cpus_per_trial:g} CPUs and {s.gpus_per_trial:g} GPUs for one trial (largest: "
                          f"{largest.get('CPU', 0):g} CPUs, {largest.get('GPU', 0):g} GPUs); lower --cpus-per-trial/--gpus-per-trial")


def trainable(cfg: Config, data: PreparedData):
    """The trial function with the base config and the prepared data in Ray's object store (put once)."""
    resources = {"cpu": cfg.sweep.cpus_per_trial, "gpu": cfg.sweep.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(run_trial, base=cfg.to_dict(), data=data), resources)


def run_sweep(cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False) -> SweepOutcome:
    """Run (or resume) the sweep in `run_dir`, then score each family's best checkpoint on test."""
    started = time.time()
    if inside_ray_job():
        os.chdir(run_dir)  # Ray may re-extract the job's working_dir (our cwd) while the sweep runs
    data = prepare_data(cfg.data)
    if not quiet:
        print(f"data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test rows, vocab {len(data.vocab)}"
              f" ({'cache' if data.cache_hit else 'prepared'})", flush=True)
    storage_url = optuna_storage_url(cfg, run_dir)
    start_ray(cfg, run_dir.name, quiet)
    try:
        check_resources(cfg)
        if not is_uri(cfg.sweep.storage):
            check_storage_visible(run_dir)
        if resume:
            tuner = tune.Tuner.restore(experiment_location(cfg, run_dir)[1], trainable=trainable(cfg, data),
                                       resume_unfinished=True, resume_errored=False)
        else:
            tuner = _new_tuner(cfg, data, run_dir, storage_url, quiet)
        results = tuner.fit()
        rows = [_row(result, cfg) for result in results]
    finally:
        ray.shutdown()
    unfinished = unfinished_trials(run_dir)
    if unfinished:
        raise SweepInterrupted(run_dir, len(unfinished))
    best_by_family = _score_best(rows, data, run_dir)
    summary = write_summary(run_dir, rows, best_by_family, storage_url, run_dir.name, time.time() - started)
    return SweepOutcome(run_dir, summary)


def _new_tuner(cfg: Config, data: PreparedData, run_dir: Path, storage_url: str, quiet: bool) -> tune.Tuner:
    s = cfg.sweep
    search = OptunaSearch(
        sampler=optuna.samplers.TPESampler(seed=cfg.train.seed),
        study_name=run_dir.name,
        storage=optuna.storages.RDBStorage(storage_url),
        points_to_evaluate=family_first_points(s.search, s.num_samples, cfg.to_dict()["train"]) or None,
    )
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=cfg.train.epochs, grace_period=s.grace_period,
                              reduction_factor=s.reduction_factor)
    return tune.Tuner(
        trainable(cfg, data),
        param_space=tune_space(s.search),
        tune_config=tune.TuneConfig(metric="val_acc", mode="max", search_alg=search, scheduler=scheduler,
                                    num_samples=s.num_samples, max_concurrent_trials=s.max_concurrent,
                                    time_budget_s=s.time_budget_s, trial_name_creator=TrialNamer(run_dir.name),
                                    trial_dirname_creator=TrialNamer(run_dir.name)),
        run_config=tune.RunConfig(
            name=run_dir.name, storage_path=experiment_location(cfg, run_dir)[0], verbose=0,
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=s.keep_checkpoints, checkpoint_score_attribute="val_acc",
                                                    checkpoint_score_order="max"),
            callbacks=[TrialRecorder(str(run_dir)), LiveProgress(cfg.train.epochs, quiet)],
        ),
    )


def _row(result, cfg: Config) -> dict[str, Any]:
    """One finished Ray result -> a plain record (family, config, status, best val_acc, checkpoint)."""
    metrics = result.metrics or {}
    history = result.metrics_dataframe
    good = history[history["error"].isna()] if history is not None and "error" in history else history
    best_acc = float(good["val_acc"].max()) if good is not None and len(good) else None
    checkpoint = result.get_best_checkpoint("val_acc", "max") if best_acc is not None else None
    config = {**{k: getattr(cfg.train, k) for k in cfg.sweep.search}, **(result.config or {})}
    ray_status = "ERROR" if result.error else "TERMINATED"
    error = metrics.get("error") or (f"{type(result.error).__name__}: {result.error}".splitlines()[0] if result.error else None)
    return {"trial_id": metrics.get("trial_id") or Path(result.path).name, "family": config.get("model", cfg.train.model),
            "config": config, "status": trial_status(ray_status, metrics, cfg.train.epochs), "val_acc": best_acc,
            "epochs": int(good["epoch"].max()) if good is not None and len(good) else 0,
            "checkpoint": checkpoint, "error": error}


def _score_best(rows: list[dict[str, Any]], data: PreparedData, run_dir: Path) -> dict[str, dict[str, Any]]:
    """Fetch each family's best checkpoint to RUN_DIR/best/FAMILY/ and score it once on the test split."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["checkpoint"] and row["val_acc"] is not None:
            current = best.get(row["family"])
            if current is None or row["val_acc"] > current["val_acc"]:
                best[row["family"]] = row
    scored = {}
    for family, row in sorted(best.items()):
        target = run_dir / "best" / family
        shutil.rmtree(target, ignore_errors=True)
        row["checkpoint"].to_directory(str(target))
        loaded = load_checkpoint(target / "model.pt")
        test = evaluate(loaded.model, PaddedBatches(data.test, 256), loaded.model.head.weight.device)
        scored[family] = {**row, "checkpoint": str(target / "model.pt"), "test_acc": test.acc,
                          "test_confusion": _confusion(test.labels, test.preds, len(data.class_names)),
                          "class_names": list(data.class_names)}
    return scored


def _confusion(labels, preds, n: int) -> list[list[int]]:
    matrix = [[0] * n for _ in range(n)]
    for truth, pred in zip(labels.tolist(), preds.tolist()):
        matrix[truth][pred] += 1
    return matrix


def prepare_run_dir(cfg: Config) -> Path:
    """A new run directory `storage/name` with config.json written first (what was asked).

    With a cloud `storage` URI, the run directory for the driver's plain files is
    `$RNN_TUNE_LOCAL_RUNS/name` (default `runs/name`) and Ray keeps checkpoints at the URI.
    """
    root = os.environ.get("RNN_TUNE_LOCAL_RUNS", "runs") if is_uri(cfg.sweep.storage) else cfg.sweep.storage
    run_dir = Path(root).expanduser().resolve() / cfg.sweep.name
    if (run_dir / RECORDS_FILE).exists():
        raise ConfigError(f"run directory {run_dir} already exists; resume it with --resume {run_dir} or pick another --name")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config_json(cfg, run_dir / CONFIG_FILE)
    return run_dir


def load_run_config(run_dir: Path) -> Config:
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(f"{run_dir} is not an rnn-tune sweep directory (no {CONFIG_FILE}); pass the directory the sweep printed")
    cfg = read_config_json(run_dir / CONFIG_FILE)
    if not is_uri(cfg.sweep.storage) and not (run_dir / "tuner.pkl").is_file():
        raise ConfigError(f"{run_dir} has no Ray Tune state to resume (tuner.pkl); start a new sweep instead")
    return cfg

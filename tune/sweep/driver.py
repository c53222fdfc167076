"""A sweep's lifecycle: Ray started, the tuner fitted (or resumed) within the budget, then the end
phase handed plain records and local checkpoint folders, summary.json written, spent checkpoints
deleted. A full disk or Ctrl-C ends it with one line and everything kept for --resume.

The tuner itself is built in tune/sweep/tuner.py; what the finished sweep concludes is
tune/outcome/end_phase.py (no Ray); one model's training and scoring is tune/train/.
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

import ray
import torch

from base.run_dir import (
    LINEAR_DIR,
    LINEAR_FILE,
    RECORDS_FILE,
    VOCAB_FILE,
    is_uri,
    trial_dir_name,
    write_driver_file,
)
from data.prepare import PreparedData
from results.load import read_records
from tune.config import Config, ConfigError
from tune.outcome.baseline import BaselineJob
from tune.outcome.end_phase import EndPhase, finish
from tune.outcome.summary import write_summary
from tune.sweep.budget import Budget
from tune.sweep.cluster import (
    check_resources,
    check_storage_visible,
    inside_ray_job,
    start_ray,
)
from tune.sweep.optuna_study import optuna_storage_url
from tune.sweep.pruning import CheckpointPruner, delete_checkpoint
from tune.sweep.ray_state import repair_state
from tune.sweep.reconcile import reconcile
from tune.sweep.records import ended_trials, scored_epochs, unfinished_trials
from tune.sweep.search_space import largest_train
from tune.sweep.trial import FAULT_ENV
from tune.sweep.tuner import make_tuner, trial_record
from tune.train.prepare import prepare_run


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


def sweep_budget(cfg: Config, run_dir: Path) -> Budget | None:
    """The time budget kept at epoch boundaries (tune/sweep/budget.py), or None without one."""
    if cfg.sweep.time_budget_s is None:
        return None
    first_rung = min(cfg.sweep.grace_period, cfg.train.epochs)
    return Budget(str(run_dir), cfg.sweep.time_budget_s, first_rung)


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
        if resume and not is_uri(cfg.sweep.storage):
            _repair(run_dir, storage_url, cfg.sweep.objective)
        tuner = make_tuner(cfg, data, run_dir, storage_url, pruner, budget, quiet, resume)
        fit_started = time.time()
        if budget:
            budget.start()
        results = tuner.fit()
    finally:
        if budget:
            budget.finish()
        ray.shutdown()
    records = read_records(run_dir / RECORDS_FILE)
    unfinished = unfinished_trials(records)
    cap = cfg.sweep.trial_cap
    # A trial stopped before its actor came up has no start record: count the ends as well.
    missing = max(len(unfinished), cap - len(ended_trials(records)) if cap else 0)
    # Run directories from before budget.json have Ray's own budget: the fit's wall tells.
    over = budget and (budget.ended() or time.time() - fit_started >= budget.budget_s)
    if missing and not over:
        raise SweepInterrupted(run_dir, missing)
    scored = scored_epochs(records)
    rows = [trial_record(result, cfg, pruner, scored) for result in results]
    checkpoints = {r["trial_id"]: r["checkpoint"] for r in rows if r["checkpoint"]}
    with ExitStack() as stack:
        # The end phase reads local folders: Ray's own on local storage, a download from a bucket.
        local = {tid: stack.enter_context(c.as_directory()) for tid, c in checkpoints.items()}
        end = _end_phase(cfg, run_dir, data, baseline_job, pruner, rows, local)
    _inject_end_pause()
    summary = write_summary(
        run_dir,
        rows,
        end.best_by_family,
        storage_url,
        run_dir.name,
        time.time() - started,
        baselines={end.baseline.pop("name"): {**end.baseline, "n_test": len(data.test)}},
        ensemble=end.ensemble,
        final=end.final,
        budget=budget.report() if budget else None,
        warm_start=end.warm_start,
    )
    # Checkpoints the end phase has copied or outranked go only once summary.json is written: a
    # driver killed before then finds every source again on --resume and redoes the end phase.
    for trial_id in end.spent:
        delete_checkpoint(checkpoints[trial_id])
    if not is_uri(cfg.sweep.storage) and (strays := _remove_strays(run_dir, rows)):
        print(f"removed {strays} checkpoint(s) no trial holds (saved after Ray's last snapshot)")
    return SweepOutcome(run_dir, summary)


def _repair(run_dir: Path, storage_url: str, objective: str) -> None:
    """Before a local run resumes: Ray's state files restored from their backups where the
    driver was killed writing them, and the records, study and Ray's state brought to agree."""
    for name in repair_state(run_dir):
        print(
            f"repaired {name} from the run's backup (the driver was killed while writing it)",
            flush=True,
        )
    for line in reconcile(run_dir, storage_url, run_dir.name, objective):
        print(f"repaired: {line}", flush=True)


def _end_phase(
    cfg: Config,
    run_dir: Path,
    data: PreparedData,
    baseline_job: BaselineJob,
    pruner: CheckpointPruner,
    rows: list[dict[str, Any]],
    local: dict[str, str],
) -> EndPhase:
    """tune/outcome/end_phase.py on the trials' records with their checkpoints as local folders;
    torch leaves the linear model's fit one core while it still runs."""
    s = cfg.sweep
    cpus = len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, cpus - 1) if baseline_job.running() else cpus)

    def baseline() -> dict[str, Any]:
        result = baseline_job.result()
        torch.set_num_threads(cpus)
        return result

    warm_start = (
        {
            "source": s.warm_start,
            "points": s.start_points.get("points", []),
            "skipped": s.start_points.get("skipped", 0),
            "known_trials": s.start_points.get("known_trials", 0),
        }
        if s.warm_start
        else None
    )
    return finish(
        [{**row, "checkpoint": local.get(row["trial_id"])} for row in rows],
        data,
        run_dir,
        baseline,
        s.ensemble_candidates,
        {tid for family in {r["family"] for r in rows} for tid in pruner.family_kept(family)},
        keep_sources=is_uri(s.storage),
        warm_start=warm_start,
        limits=(s.max_latency_ms, s.max_size_mb),
    )


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


def __getattr__(name: str):
    """Names this module held before tune/sweep/tuner.py (pickled in run directories)."""
    from tune.moved import from_old_driver

    return from_old_driver(name)

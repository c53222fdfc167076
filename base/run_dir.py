"""The run directory's contract and its claim: every file's name, summary.json's keys, which model
is final, and the lock a driver holds while it writes there.

The writer (`tune/`), the reader (`results/load.py`), `rnn-tune predict`, the live page and the
benchmarks all import it from here, on the ground floor (`base/`), which imports nothing of ours.

A sweep's run directory:

    config.json          what was asked (tune/config.py's Config)
    driver.json          the running driver: host, pid, start time, dashboard, metrics port
    trials.jsonl         one record per trial start, epoch and end (tune/sweep/records.py)
    optuna.db            the Optuna study (SQLite by default)
    optuna.journal       the Optuna study instead, with --optuna-storage journal
    vocab.json           the vocabulary, once per run
    tuner.pkl, experiment_state-*.json, searcher-state-*.pkl   Ray's state for --resume
    SWEEP_TRIALID/checkpoint_*/model.pt (+ optimizer.pt while the trial can resume)
    best/FAMILY/model.pt          each family's best trial, standalone (vocab inside)
    ensemble/TRIALID/model.pt     the RNN members of the ensemble and the final model, standalone
    linear/model.npz     the run's linear model (TF-IDF + linear SVM, calibrated), arrays only
    budget.json          a time-budget sweep's seconds used, kept across --resume
    summary.json         what was found (SUMMARY_KEYS)
    report.md, report.html, trials.csv, *.png   the report (rnn-tune report)

`rnn-tune train --output DIR` writes config.json, model.pt and metrics.json.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.errors import UsageError
from base.files import LockBusy, atomic_write_text, file_lock

CONFIG_FILE = "config.json"
DRIVER_FILE = "driver.json"
RECORDS_FILE = "trials.jsonl"
SUMMARY_FILE = "summary.json"
STUDY_FILE = "optuna.db"
JOURNAL_FILE = "optuna.journal"  # the study with --optuna-storage journal
VOCAB_FILE = "vocab.json"
TUNER_FILE = "tuner.pkl"  # Ray's; its presence means Ray has started the sweep here
LOCK_FILE = ".sweep.lock"
BUDGET_FILE = "budget.json"  # a time-budget sweep's seconds used (tune/sweep/budget.py)
STATE_BACKUP_DIR = ".state-backup"  # tune/sweep/ray_state.py's copies of Ray's state files
MODEL_FILE = "model.pt"
OPTIMIZER_FILE = "optimizer.pt"
METRICS_FILE = "metrics.json"  # rnn-tune train's scores
BEST_DIR = "best"
ENSEMBLE_DIR = "ensemble"
LINEAR_DIR, LINEAR_FILE = "linear", "model.npz"
LINEAR_MEMBER = "linear"  # the linear model's name among a final model's members
OPTIONS = ("trial", "ensemble", "linear", "blend", "greedy")  # final model kinds, simple first
TRIALS_CSV, REPORT_MD, REPORT_HTML = "trials.csv", "report.md", "report.html"
EFFECTS_PNG = "effects.png"

# summary.json, written once by tune/outcome/summary.py.
SUMMARY_KEYS = (
    "trials",  # trials the sweep ran
    "completed",
    "stopped_early",
    "errored",
    "best",  # the best single trial by validation accuracy (BEST_KEYS), or null
    "by_family",  # family -> its best trial (BEST_KEYS)
    "test_confusion",  # family -> {class_names, matrix}
    "baselines",  # name -> {val_acc, test_acc, n_test, vs_final, ...}
    "ensemble",  # {k, members, val_acc, test_acc, n_test, val_acc_by_k}, or null
    "final",  # {kind, members: [{trial_id, family, weight, checkpoint}], val_acc, test_acc,
    #           n_test, chosen_by, options (each with its members and cost), rnn, cost,
    #           limits, measured_on}: the model to ship (tune/outcome/final.py)
    "errors",  # trial_id -> its error line
    "optuna_storage",
    "optuna_study",
    "budget",  # {budget_s, used_s, overrun_s, stopped_trials, refused_starts}, or null
    "warm_start",  # {source, points: [{source_trial, source_val_acc, trial_id, val_acc,
    #               test_acc}], skipped, known_trials}: a run started from another, or null
    "wall_s",
)
BEST_KEYS = ("trial_id", "family", "config", "val_acc", "epochs", "checkpoint", "test_acc", "cost")


@dataclass(frozen=True)
class FinalModel:
    """The model a run recommends: its members, each with a weight in the average of their class
    probabilities (one member for a single model), and its scores."""

    kind: str  # one of OPTIONS
    members: list[dict[str, Any]]  # each with trial_id, family, checkpoint, weight
    val_acc: float
    test_acc: float

    @property
    def checkpoints(self) -> list[str]:
        return [m["checkpoint"] for m in self.members]


def ensemble_is_final(ensemble: dict[str, Any] | None) -> bool:
    """The rule before summary.json had `final` (and the RNNs-alone model since): the ensemble
    when validation chose more than one member (k > 1); otherwise the best single trial."""
    return bool(ensemble) and ensemble["k"] > 1


def final_model(summary: dict[str, Any] | None) -> FinalModel | None:
    """summary.json's final model; None before any model finished. Runs written before `final`
    existed: the ensemble or the best trial, by `ensemble_is_final`, equal weights."""
    if not summary:
        return None
    final = summary.get("final")
    if final:
        return FinalModel(final["kind"], final["members"], final["val_acc"], final["test_acc"])
    if not summary.get("best"):
        return None
    ensemble, best = summary.get("ensemble"), summary["best"]
    if ensemble_is_final(ensemble):
        members = [{**m, "weight": 1.0} for m in ensemble["members"]]
        return FinalModel("ensemble", members, ensemble["val_acc"], ensemble["test_acc"])
    return FinalModel("trial", [{**best, "weight": 1.0}], best["val_acc"], best["test_acc"])


def within_limits(
    cost: dict[str, Any] | None, max_latency_ms: float | None, max_size_mb: float | None
) -> bool:
    """An option's measured cost (`final.options[].cost`) is within the user's limits: latency
    per request at batch 1 (its median) and the size `predict` loads."""
    if max_latency_ms is None and max_size_mb is None:
        return True
    if not cost:
        return False
    return (max_latency_ms is None or cost["latency_ms_p50"] <= max_latency_ms) and (
        max_size_mb is None or cost["size_mb"] <= max_size_mb
    )


def choose_within_limits(
    options: list[dict[str, Any]], max_latency_ms: float | None, max_size_mb: float | None
) -> tuple[int, str, dict[str, Any]]:
    """The final-model rule under limits, from summary.json's options alone (so `rnn-tune report`
    re-chooses a finished run as the sweep would have): the lowest validation log loss among the
    options within the limits (the first on a tie); when none fits, the cheapest on the limited
    measure. -> (chosen index, `chosen_by`, summary.json's `final.limits`)."""
    fits = [
        i
        for i, o in enumerate(options)
        if within_limits(o.get("cost"), max_latency_ms, max_size_mb)
    ]
    record = {
        "max_latency_ms": max_latency_ms,
        "max_size_mb": max_size_mb,
        "excluded": [o["kind"] for i, o in enumerate(options) if i not in fits],
        "fits": bool(fits),
    }
    if fits:
        best = min(fits, key=lambda i: (options[i]["val_loss"], i))
        return best, "validation, within limits", record
    measure = "latency_ms_p50" if max_latency_ms is not None else "size_mb"
    cheapest = min(
        range(len(options)),
        key=lambda i: ((options[i].get("cost") or {}).get(measure, float("inf")), i),
    )
    return cheapest, "the cheapest: no option within limits", record


class RunDirInUse(UsageError):
    """Another driver holds the run directory."""


def is_uri(storage: str | None) -> bool:
    return bool(storage) and "://" in storage


def trial_dir_name(sweep_name: str, trial_id: str) -> str:
    """A trial's name in the Ray dashboard and its folder in the run directory: SWEEP_TRIALID."""
    return f"{sweep_name}_{trial_id}"


@contextmanager
def claim_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold RUN_DIR/.sweep.lock while a driver works there: a second sweep or --resume on the
    same directory refuses at once instead of writing over the first."""
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(run_dir / LOCK_FILE, wait=False):
            yield
    except LockBusy:
        raise RunDirInUse(
            f"run directory {run_dir} is in use by another rnn-tune sweep; wait for it to end "
            "or pick another --name"
        ) from None


def sweep_started(run_dir: Path) -> bool:
    """A sweep already ran in `run_dir` (trial records or Ray Tune's state are there): a new run
    there is refused, `--resume-existing` continues it. A directory holding only config.json
    belongs to a run that stopped before Ray started, and may start again."""
    return (run_dir / RECORDS_FILE).exists() or (run_dir / TUNER_FILE).exists()


def write_driver_file(run_dir: Path, watch: dict[str, Any]) -> None:
    """RUN_DIR/driver.json: which process drives the sweep, since when, and where to watch it
    (dashboard, metrics endpoints, Ray's logs). The live page reads it; rewritten on --resume."""
    driver = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), **watch}
    atomic_write_text(run_dir / DRIVER_FILE, json.dumps(driver, indent=2))

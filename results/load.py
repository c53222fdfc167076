"""Read run directories into pandas: one row per trial epoch, and one row per trial."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORDS_FILE, CONFIG_FILE, SUMMARY_FILE = "trials.jsonl", "config.json", "summary.json"
HYPERPARAMETERS = (
    "model",
    "embed_dim",
    "hidden_dim",
    "num_layers",
    "bidirectional",
    "dropout",
    "pooling",
    "lr",
    "weight_decay",
    "grad_clip",
    "batch_size",
)


class ReportError(ValueError):
    """A run directory cannot be read; the message names it and what was expected."""


@dataclass
class Run:
    name: str
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    epochs: pd.DataFrame  # one row per (trial, epoch)
    trials: pd.DataFrame  # one row per trial


def load_run(path: str | Path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise ReportError(
            f"{path} is not a directory; pass a run directory printed by `rnn-tune sweep`"
        )
    if not (path / CONFIG_FILE).is_file() or not (path / RECORDS_FILE).is_file():
        raise ReportError(
            f"{path} is not an rnn-tune run directory (needs {CONFIG_FILE} and {RECORDS_FILE})"
        )
    config = json.loads((path / CONFIG_FILE).read_text())
    summary = (
        json.loads((path / SUMMARY_FILE).read_text()) if (path / SUMMARY_FILE).is_file() else None
    )
    records = read_records(path / RECORDS_FILE)
    if not records:
        raise ReportError(f"{path} has no trial records yet; wait for the first trial to start")
    epochs = epoch_rows(records, path.name)
    return Run(
        path.name,
        path,
        config,
        summary,
        epochs,
        trial_rows(records, epochs, config, path.name, summary is not None),
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The trial records of a trials.jsonl file (none if absent), skipping a line cut short."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a killed driver
    return out


def epoch_rows(records: list[dict[str, Any]], run: str) -> pd.DataFrame:
    """Reported epochs; a trial resumed from a checkpoint keeps the latest report of each epoch."""
    rows = [
        {"run": run, "trial_id": r["trial_id"], "time": r["time"], **r["metrics"]}
        for r in records
        if r["event"] == "result" and not r["metrics"].get("error")
    ]
    if not rows:
        return pd.DataFrame(columns=["run", "trial_id", "time", "epoch", "val_acc"])
    frame = pd.DataFrame(rows).rename(
        columns={"samples_per_s": "train_samples_per_s"}
    )  # before 0.2
    return (
        frame.drop_duplicates(["trial_id", "epoch"], keep="last")
        .sort_values(["trial_id", "epoch"])
        .reset_index(drop=True)
    )


def trial_status(
    event: str | None,
    error: str | None,
    epochs_done: int,
    max_epochs: int,
    run_finished: bool = False,
) -> str:
    """completed | stopped_early | errored | running | pending: the one rule behind the live view,
    summary.json and the report.

    `event` is the trial's end ("complete" or "error"), "pending" before it starts, or None while
    it runs. In a finished run a trial with no end was cut by the time budget: stopped early.
    """
    if error or event == "error":
        return "errored"
    if event == "complete":
        return "completed" if epochs_done >= max_epochs else "stopped_early"
    if event == "pending":
        return "pending"
    return "stopped_early" if run_finished else "running"


def trial_rows(
    records: list[dict[str, Any]],
    epochs: pd.DataFrame,
    config: dict[str, Any],
    run: str,
    finished: bool = False,
) -> pd.DataFrame:
    """One row per trial: its full config, final and best val_acc, epochs, status, timing,
    placement.

    In a finished run a trial with no end event was cut by the time budget: stopped early.
    """
    max_epochs = config["train"]["epochs"]
    trials: dict[str, dict[str, Any]] = {}
    for r in records:
        t = trials.setdefault(
            r["trial_id"],
            {
                "run": run,
                "trial_id": r["trial_id"],
                "start": r["time"],
                "end": r["time"],
                "config": {**config["train"], **r["config"]},
                "event": None,
                "error": None,
            },
        )
        t["end"] = max(t["end"], r["time"])
        if r["event"] in ("complete", "error"):
            t["event"] = r["event"]
        if r["event"] == "error":
            t["error"] = r.get("error")
        if r["event"] == "result" and r["metrics"].get("error"):
            t["error"] = r["metrics"]["error"]
    rows = []
    for tid, t in trials.items():
        mine = epochs[epochs["trial_id"] == tid]
        last = mine.iloc[-1] if len(mine) else None
        done = int(mine["epoch"].max()) if len(mine) else 0
        status = trial_status(t["event"], t["error"], done, max_epochs, finished)
        cfg = t["config"]
        rows.append(
            {
                "run": run,
                "trial_id": tid,
                "family": cfg["model"] + (" (seed)" if cfg.get("pooling") == "seed" else ""),
                **{k: cfg.get(k) for k in HYPERPARAMETERS},
                "final_val_acc": float(last["val_acc"]) if last is not None else np.nan,
                "best_val_acc": float(mine["val_acc"].max()) if len(mine) else np.nan,
                "epochs": done,
                "stopped_early": status == "stopped_early",
                "status": status,
                "wall_s": t["end"] - t["start"],
                "s_per_epoch": float(mine["epoch_s"].mean()) if len(mine) else np.nan,
                "train_samples_per_s": float(mine["train_samples_per_s"].mean())
                if len(mine)
                else np.nan,
                "parameters": int(last["parameters"]) if last is not None else None,
                "cpus": float(last["cpus"])
                if last is not None and pd.notna(last.get("cpus"))
                else None,
                "device": last["device"] if last is not None else None,
                "node_id": last["node_id"] if last is not None else None,
                "error": t["error"],
            }
        )
    return pd.DataFrame(rows)

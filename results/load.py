"""Read run directories into pandas: one row per trial epoch, and one row per trial."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from base.run_dir import CONFIG_FILE, OPTIONS, RECORDS_FILE, SUMMARY_FILE

HYPERPARAMETERS = (
    "model",
    "vectors",
    "embed_lr_scale",
    "embed_dim",
    "hidden_dim",
    "num_layers",
    "bidirectional",
    "embed_dropout",
    "word_dropout",
    "dropout",
    "pooling",
    "lr",
    "lr_schedule",
    "warmup",
    "lr_scaling",
    "weight_decay",
    "grad_clip",
    "batch_size",
)


EPOCH_COLUMNS = (
    "epoch_s",
    "train_samples_per_s",
    "parameters",
    "cpus",
    "device",
    "node_id",
    "latency_ms",  # measured by trials of --objective accuracy,latency only
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


def run_names(paths: list[Path]) -> list[str]:
    """Each run's label in a report: its folder name, or parent/name where two names collide."""
    names = [Path(p).name for p in paths]
    return [f"{Path(p).parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def load_run(path: str | Path, name: str | None = None) -> Run:
    """A run directory as tables. Its files are checked against what rnn-tune writes: anything
    else is a ReportError naming the file, never a traceback."""
    path = Path(path)
    name = name or path.name
    if not path.is_dir():
        raise ReportError(
            f"{path} is not a directory; pass a run directory printed by `rnn-tune sweep`"
        )
    if not (path / CONFIG_FILE).is_file() or not (path / RECORDS_FILE).is_file():
        raise ReportError(
            f"{path} is not an rnn-tune run directory (needs {CONFIG_FILE} and {RECORDS_FILE})"
        )
    config = _read_json(path / CONFIG_FILE)
    _expect(
        isinstance(config.get("train"), dict)
        and isinstance(config["train"].get("epochs"), int)
        and isinstance(config["train"].get("model"), str),
        path / CONFIG_FILE,
        "no [train] section with model and epochs",
    )
    summary = _read_json(path / SUMMARY_FILE) if (path / SUMMARY_FILE).is_file() else None
    if summary is not None:
        check_summary(path / SUMMARY_FILE, summary)
    records = read_records(path / RECORDS_FILE)
    if not records:
        raise ReportError(f"{path} has no trial records yet; wait for the first trial to start")
    epochs = epoch_rows(records, name)
    trials = trial_rows(records, epochs, config, name, summary is not None)
    return Run(name, path, config, summary, epochs, trials)


def _expect(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise ReportError(
            f"{path}: {what}; it is not a file rnn-tune wrote (restore it or remove the run)"
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: unreadable ({type(exc).__name__}); restore it") from None
    _expect(isinstance(value, dict), path, "not a JSON object")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_summary(path: Path, summary: dict[str, Any]) -> None:
    """summary.json's shape, as far as the report reads it."""
    families = summary.get("by_family")
    _expect(isinstance(families, dict), path, "no by_family object")
    best_rows = list(families.values()) + ([summary["best"]] if summary.get("best") else [])
    for row in best_rows:
        _expect(
            isinstance(row, dict)
            and isinstance(row.get("family"), str)
            and isinstance(row.get("trial_id"), str)
            and isinstance(row.get("checkpoint"), str)
            and isinstance(row.get("config"), dict)
            and all(_is_number(row.get(k)) for k in ("val_acc", "test_acc")),
            path,
            "a best-trial entry lacks family, trial_id, checkpoint, config, val_acc or test_acc",
        )
    confusion = summary.get("test_confusion", {})
    _expect(
        isinstance(confusion, dict)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("class_names"), list)
            and isinstance(c.get("matrix"), list)
            and all(isinstance(r, list) and all(map(_is_number, r)) for r in c["matrix"])
            for c in confusion.values()
        ),
        path,
        "test_confusion is not {family: {class_names, matrix}}",
    )
    baselines = summary.get("baselines", {})
    _expect(
        isinstance(baselines, dict)
        and all(
            isinstance(b, dict) and all(_is_number(b.get(k)) for k in ("val_acc", "test_acc"))
            for b in baselines.values()
        ),
        path,
        "baselines is not {name: {val_acc, test_acc}}",
    )
    ensemble = summary.get("ensemble")
    _expect(
        ensemble is None
        or (
            isinstance(ensemble, dict)
            and all(_is_number(ensemble.get(k)) for k in ("k", "val_acc", "test_acc"))
            and isinstance(ensemble.get("members"), list)
            and all(
                isinstance(m, dict)
                and isinstance(m.get("trial_id"), str)
                and isinstance(m.get("family"), str)
                and isinstance(m.get("checkpoint"), str)
                for m in ensemble["members"]
            )
        ),
        path,
        "ensemble is not {k, members: [{trial_id, family, checkpoint}], val_acc, test_acc}",
    )
    final = summary.get("final")
    _expect(
        final is None
        or (
            isinstance(final, dict)
            and final.get("kind") in OPTIONS
            and all(_is_number(final.get(k)) for k in ("val_acc", "test_acc"))
            and isinstance(final.get("members"), list)
            and len(final["members"]) > 0
            and all(
                isinstance(m, dict)
                and isinstance(m.get("trial_id"), str)
                and isinstance(m.get("family"), str)
                and isinstance(m.get("checkpoint"), str)
                and _is_number(m.get("weight"))
                and m["weight"] > 0
                for m in final["members"]
            )
        ),
        path,
        "final is not {kind, members: [{trial_id, family, checkpoint, weight}], val_acc, test_acc}",
    )
    _expect(
        all(_is_number(summary.get(k, 0)) for k in ("trials", "wall_s")),
        path,
        "trials or wall_s is not a number",
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The trial records of a trials.jsonl file (none if absent), skipping a line cut short."""
    if not path.is_file():
        return []
    out = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed driver
        _expect(_is_record(record), path, f"line {number} is not a trial record")
        out.append(record)
    return out


def _is_record(r: Any) -> bool:
    if not (
        isinstance(r, dict)
        and r.get("event") in ("start", "result", "complete", "error")
        and isinstance(r.get("trial_id"), str)
        and _is_number(r.get("time"))
        and isinstance(r.get("config"), dict)
    ):
        return False
    if r["event"] != "result":
        return True
    m = r.get("metrics")
    return isinstance(m, dict) and (
        bool(m.get("error")) or (isinstance(m.get("epoch"), int) and _is_number(m.get("val_acc")))
    )


def epoch_rows(records: list[dict[str, Any]], run: str) -> pd.DataFrame:
    """Reported epochs; a trial resumed from a checkpoint keeps the latest report of each epoch."""
    rows = [
        {"run": run, "trial_id": r["trial_id"], "time": r["time"], **r["metrics"]}
        for r in records
        if r["event"] == "result" and not r["metrics"].get("error")
    ]
    if not rows:
        return pd.DataFrame(columns=["run", "trial_id", "time", "epoch", "val_acc"])
    frame = pd.DataFrame(rows).rename(columns={"samples_per_s": "train_samples_per_s"})  # v0.1
    for column in EPOCH_COLUMNS:
        if column not in frame:
            frame[column] = None
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


def per_trial_stats(epochs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Each trial's last reported epoch (its columns) with `epochs_done`, `best_val_acc` and the
    mean epoch time and speed: one grouped pass over all epochs, so a run of thousands of
    trials reads in seconds. `epochs` is sorted by trial and epoch (epoch_rows)."""
    if not len(epochs):
        return {}
    numbers = epochs.assign(
        epoch_s=pd.to_numeric(epochs["epoch_s"], errors="coerce"),
        train_samples_per_s=pd.to_numeric(epochs["train_samples_per_s"], errors="coerce"),
    ).groupby("trial_id", sort=False)
    stats = pd.DataFrame(
        {
            "epochs_done": numbers["epoch"].max().astype(int),
            "best_val_acc": numbers["val_acc"].max().astype(float),
            "mean_epoch_s": numbers["epoch_s"].mean(),
            "mean_samples_per_s": numbers["train_samples_per_s"].mean(),
        }
    )
    last = epochs.drop_duplicates("trial_id", keep="last").set_index("trial_id")
    last = last.drop(columns=[c for c in stats.columns if c in last.columns])  # ours win
    return last.join(stats).to_dict("index")


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
    per_trial = per_trial_stats(epochs)
    rows = []
    for tid, t in trials.items():
        last = per_trial.get(tid)
        done = last["epochs_done"] if last else 0
        status = trial_status(t["event"], t["error"], done, max_epochs, finished)
        cfg = t["config"]
        rows.append(
            {
                "run": run,
                "trial_id": tid,
                "family": cfg["model"] + (" (seed)" if cfg.get("pooling") == "seed" else ""),
                **{k: cfg.get(k) for k in HYPERPARAMETERS},
                "final_val_acc": float(last["val_acc"]) if last else np.nan,
                "best_val_acc": last["best_val_acc"] if last else np.nan,
                "epochs": done,
                "stopped_early": status == "stopped_early",
                "status": status,
                "start": t["start"],
                "wall_s": t["end"] - t["start"],
                "s_per_epoch": last["mean_epoch_s"] if last else np.nan,
                "train_samples_per_s": last["mean_samples_per_s"] if last else np.nan,
                "parameters": int(last["parameters"])
                if last and pd.notna(last["parameters"])
                else None,
                "cpus": float(last["cpus"]) if last and pd.notna(last["cpus"]) else None,
                "latency_ms": float(last["latency_ms"])
                if last and pd.notna(last["latency_ms"])
                else np.nan,
                "device": last["device"] if last else None,
                "node_id": last["node_id"] if last else None,
                "error": t["error"],
            }
        )
    return pd.DataFrame(rows)

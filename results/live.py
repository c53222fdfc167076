"""The live view of a run directory: what the monitor page shows, as one JSON-ready dict.

It reads only the run's plain files (config.json, trials.jsonl, driver.json, summary.json), so it
works while the sweep runs, after it ends or is interrupted, and on a run directory copied off a
cluster.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd

from base.run_dir import DRIVER_FILE
from results.load import HYPERPARAMETERS, ReportError, load_run

LEADERBOARD_ROWS = 10
CURVE_TRIALS = 100  # learning curves drawn: the best trials and every running one


def live_state(run_dir: Path, now: float | None = None) -> dict[str, Any]:
    """Leaderboard, running trials, best-so-far over wall time, learning curves, budget left."""
    now = time.time() if now is None else now
    run_dir = Path(run_dir)
    driver = _driver(run_dir)
    try:
        run = load_run(run_dir)
    except ReportError as exc:
        if "no trial records yet" not in str(exc):
            raise
        return {"run": run_dir.name, "state": "waiting", "message": str(exc), **_links(driver)}
    epochs, trials, sweep = run.epochs, run.trials, run.config.get("sweep", {})
    state = _state(run.summary, driver)
    first = float(trials["start"].min())
    started = _number(driver.get("started")) or first  # this driver's start (--resume restarts)
    last = float(epochs["time"].max()) if len(epochs) else started
    elapsed = (now if state == "running" else max(last, started)) - started
    searched = [k for k in HYPERPARAMETERS if k in sweep.get("search", {}) or k == "model"]
    return {
        "run": run.name,
        "state": state,
        "elapsed_s": elapsed,
        "counts": trials["status"].value_counts().to_dict(),
        "budget": _budget(sweep, trials, elapsed, state),
        "epochs_reported": int(len(epochs)),
        "leaderboard": _leaderboard(trials, searched),
        "running": _running(trials, epochs, driver),
        "best_over_time": _best_over_time(epochs, first),
        "curves": _curves(trials, epochs, searched),
        "curves_of": int(epochs["trial_id"].nunique()),
        "final": _final(run.summary),
        **_links(driver),
    }


def _driver(run_dir: Path) -> dict[str, Any]:
    try:
        value = json.loads((run_dir / DRIVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _links(driver: dict[str, Any]) -> dict[str, Any]:
    dashboard = driver.get("dashboard")
    return {
        "dashboard": dashboard if isinstance(dashboard, str) else None,
        "token_auth": bool(driver.get("token_auth")),
        "metrics": [m for m in driver.get("metrics") or [] if isinstance(m, str)],
    }


def _state(summary: dict[str, Any] | None, driver: dict[str, Any]) -> str:
    """finished (summary.json written) | running (its driver lives on this host) | stopped."""
    if summary is not None:
        return "finished"
    if driver.get("host") == socket.gethostname() and _alive(driver.get("pid")):
        return "running"
    return "stopped"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _budget(sweep: dict[str, Any], trials: pd.DataFrame, elapsed: float, state: str) -> str:
    done = int(trials["status"].isin(["completed", "stopped_early", "errored"]).sum())
    parts = []
    total = sweep.get("num_samples")
    parts.append(f"{done} of {total}" if isinstance(total, int) else f"{done}")
    parts[-1] += " trials finished"
    budget = sweep.get("time_budget_s")
    if isinstance(budget, (int, float)) and budget > 0:
        left = max(0.0, budget - elapsed) if state == "running" else 0.0
        parts.append(f"time left {_clock(left)} of {_clock(budget)}")
    return ", ".join(parts)


def _leaderboard(trials: pd.DataFrame, searched: list[str]) -> list[dict[str, Any]]:
    ranked = trials.dropna(subset=["best_val_acc"]).sort_values("best_val_acc", ascending=False)
    return [
        {
            "rank": rank,
            "trial_id": row.trial_id,
            "family": row.family,
            "best_val_acc": row.best_val_acc,
            "epochs": int(row.epochs),
            "status": row.status,
            "config": _config_text(row, searched),
        }
        for rank, row in enumerate(ranked.head(LEADERBOARD_ROWS).itertuples(), start=1)
    ]


def _running(
    trials: pd.DataFrame, epochs: pd.DataFrame, driver: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for row in trials[trials["status"] == "running"].itertuples():
        mine = epochs[epochs["trial_id"] == row.trial_id]
        last = mine.iloc[-1].to_dict() if len(mine) else {}
        actor = last.get("actor_id")
        dashboard = driver.get("dashboard")
        out.append(
            {
                "trial_id": row.trial_id,
                "family": row.family,
                "epoch": int(row.epochs),
                "val_acc": _number(last.get("val_acc")),
                "node": last.get("node_ip") or (str(last.get("node_id") or "")[:12] or None),
                "device": last.get("device"),
                "link": f"{dashboard}/#/actors/{actor}" if dashboard and actor else None,
            }
        )
    return out


def _best_over_time(epochs: pd.DataFrame, started: float) -> list[dict[str, Any]]:
    best, out = -1.0, []
    for row in epochs.sort_values("time").itertuples():
        if row.val_acc > best:
            best = row.val_acc
            out.append({"t": row.time - started, "val_acc": best, "trial_id": row.trial_id})
    return out


def _curves(
    trials: pd.DataFrame, epochs: pd.DataFrame, searched: list[str]
) -> list[dict[str, Any]]:
    """The learning curves of the CURVE_TRIALS best trials and of every running one: a sweep of
    thousands of trials stays a page a browser redraws every two seconds."""
    best = trials.dropna(subset=["best_val_acc"]).nlargest(CURVE_TRIALS, "best_val_acc")
    shown = set(best["trial_id"]) | set(trials.loc[trials["status"] == "running", "trial_id"])
    configs = {r.trial_id: (r.family, _config_text(r, searched)) for r in trials.itertuples()}
    return [
        {
            "trial_id": tid,
            "family": configs.get(tid, ("?", ""))[0],
            "config": configs.get(tid, ("?", ""))[1],
            "epoch": [int(e) for e in mine["epoch"]],
            "val_acc": [float(a) for a in mine["val_acc"]],
        }
        for tid, mine in epochs[epochs["trial_id"].isin(shown)].groupby("trial_id", sort=True)
    ]


def _final(summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not summary:
        return []
    return [
        {"family": family, "val_acc": row["val_acc"], "test_acc": row["test_acc"]}
        for family, row in sorted(summary["by_family"].items())
    ]


def _config_text(row: Any, keys: list[str]) -> str:
    parts = []
    for key in keys:
        value = getattr(row, key, None)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        parts.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"

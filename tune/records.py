"""Ray Tune callbacks that turn trial events into plain records and a concise live view.

`RUN_DIR/trials.jsonl` (one JSON object per line: event, trial_id, time, config, metrics) is the
plain-file contract that `results/` reads, also while a sweep is still running.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from results.load import RECORDS_FILE, read_records, trial_status


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def status_of(trial, max_epochs: int) -> str:
    """A live Ray trial's status, by the rule the report uses (`results.load.trial_status`)."""
    result = trial.last_result or {}
    event = {"ERROR": "error", "TERMINATED": "complete", "RUNNING": None}.get(
        trial.status, "pending"
    )
    return trial_status(event, result.get("error"), result.get("epoch", 0), max_epochs)


def unfinished_trials(run_dir: Path) -> set[str]:
    """Trials that started but never completed nor errored: the sweep was interrupted (Ctrl-C)."""
    records = read_records(Path(run_dir) / RECORDS_FILE)
    started = {r["trial_id"] for r in records if r["event"] == "start"}
    return started - {r["trial_id"] for r in records if r["event"] in ("complete", "error")}


class TrialRecorder(Callback):
    """Appends every trial event to RUN_DIR/trials.jsonl (flushed per line: a crash loses none)."""

    def __init__(self, run_dir: str):
        self.path = str(Path(run_dir) / RECORDS_FILE)

    def _write(self, event: str, trial, **extra: Any) -> None:
        record = {
            "event": event,
            "trial_id": trial.trial_id,
            "time": time.time(),
            "config": _plain(trial.config),
            **extra,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(_plain(record)) + "\n")

    def on_trial_start(self, iteration, trials, trial, **info):
        self._write("start", trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        keep = {
            k: v
            for k, v in result.items()
            if k not in ("config", "trial_id", "date", "hostname", "pid", "experiment_tag")
        }
        self._write("result", trial, metrics=keep)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._write("complete", trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        error = trial.get_error()
        self._write(
            "error",
            trial,
            error=f"{type(error).__name__}: {error}".splitlines()[0][:500] if error else "error",
        )


class LiveProgress(Callback):
    """One line when something changes (at most every few seconds) instead of Ray's trial table."""

    def __init__(self, epochs: int, quiet: bool = False, every_s: float = 5.0):
        self.epochs, self.quiet, self.every_s = epochs, quiet, every_s
        self.started = time.time()
        self.last_line, self.last_print = "", 0.0
        self.best: tuple[float, str, str] | None = None

    def on_trial_result(self, iteration, trials, trial, result, **info):
        acc = result.get("val_acc")
        if (
            acc is not None
            and not result.get("error")
            and (self.best is None or acc > self.best[0])
        ):
            self.best = (acc, result.get("model", "?"), trial.trial_id)

    def on_experiment_end(self, trials, **info):
        self.every_s = 0.0
        self.on_step_end(0, trials)

    def on_step_end(self, iteration, trials, **info):
        now = time.time()
        if self.quiet or now - self.last_print < self.every_s:
            return  # Ray calls this often: count the trials only when a line may print
        counts: dict[str, int] = {}
        for trial in trials:
            status = status_of(trial, self.epochs)
            counts[status] = counts.get(status, 0) + 1
        line = (
            "running {running}  pending {pending}  completed {completed}  stopped early "
            "{stopped_early}  "
            "errored {errored}"
        ).format(
            **{
                k: counts.get(k, 0)
                for k in ("running", "pending", "completed", "stopped_early", "errored")
            }
        )
        if self.best:
            line += f"  | best val_acc {self.best[0]:.2%} ({self.best[1]}, {self.best[2]})"
        if line != self.last_line:
            print(f"[{_clock(now - self.started)}] {line}", flush=True, file=sys.stdout)
            self.last_line, self.last_print = line, now


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:3d}m{secs:02d}s"

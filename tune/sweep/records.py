"""Ray Tune callbacks that turn trial events into plain records and a concise live view.

`RUN_DIR/trials.jsonl` (one JSON object per line: event, trial_id, time, config, metrics) is the
plain-file contract that `results/` reads, also while a sweep is still running.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from base.run_dir import RECORDS_FILE
from results.load import epoch_rows, per_trial_stats, trial_status
from tune.progress import STATUSES, clock, sweep_line


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


def ended_trials(records: list[dict[str, Any]]) -> set[str]:
    """Trials that completed or errored, of a run's records (`results.load.read_records`)."""
    return {r["trial_id"] for r in records if r["event"] in ("complete", "error")}


def unfinished_trials(records: list[dict[str, Any]]) -> set[str]:
    """Trials that started but never completed nor errored: the sweep was interrupted (Ctrl-C)."""
    started = {r["trial_id"] for r in records if r["event"] == "start"}
    return started - ended_trials(records)


def scored_epochs(records: list[dict[str, Any]]) -> dict[str, tuple[float | None, int]]:
    """Each trial's best val_acc and epochs done over its reports without an error, by the
    report's rule (`results.load.per_trial_stats`: an epoch reported again after a resume counts
    once).

    The sweep's one history of results: Ray's own per-trial logs are off (tune/sweep/ray_env.py).
    """
    stats = per_trial_stats(epoch_rows(records, ""))
    return {
        trial_id: (
            None if math.isnan(s["best_val_acc"]) else float(s["best_val_acc"]),
            int(s["epochs_done"]),
        )
        for trial_id, s in stats.items()
    }


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
    """The sweep in the terminal: one progress bar (trials or time budget, best so far, ETA;
    tune/progress.py draws it) redrawn in place on a TTY; one plain line when something changes
    (at most every few seconds) in logs and CI. Either replaces Ray's trial table."""

    def __init__(
        self,
        epochs: int,
        quiet: bool = False,
        every_s: float = 5.0,
        num_samples: int | None = None,
        time_budget_s: float | None = None,
        stream=None,
    ):
        self.epochs, self.quiet = epochs, quiet
        self.num_samples, self.time_budget_s = num_samples, time_budget_s
        self.stream, self.every_s = stream, every_s  # no file object held: Ray Client pickles us
        self.tty: bool | None = None
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

    def _out(self):
        out = self.stream or sys.stdout
        if self.tty is None:
            self.tty = bool(getattr(out, "isatty", lambda: False)())
            self.every_s = 1.0 if self.tty else self.every_s
        return out

    def on_experiment_end(self, trials, **info):
        self.every_s = 0.0
        self.on_step_end(0, trials)
        if self.tty and not self.quiet:
            self._out().write("\n")
            self._out().flush()

    def on_step_end(self, iteration, trials, **info):
        now = time.time()
        out = self._out()
        if self.quiet or now - self.last_print < self.every_s:
            return  # Ray calls this often: count the trials only when a line may print
        counts: dict[str, int] = {}
        for trial in trials:
            status = status_of(trial, self.epochs)
            counts[status] = counts.get(status, 0) + 1
        elapsed = now - self.started
        if self.tty:
            line = sweep_line(counts, elapsed, self.num_samples, self.time_budget_s, self.best)
            width = shutil.get_terminal_size((120, 20)).columns - 1
            out.write("\r" + line[:width] + "\x1b[K")
            out.flush()
            self.last_print = now
            return
        line = (
            "running {running}  pending {pending}  completed {completed}  stopped early "
            "{stopped_early}  errored {errored}"
        ).format(**{k: counts.get(k, 0) for k in STATUSES})
        if self.best:
            line += f"  | best val_acc {self.best[0]:.2%} ({self.best[1]}, {self.best[2]})"
        if line != self.last_line:
            print(f"[{clock(elapsed)}] {line}", flush=True, file=out)
            self.last_line, self.last_print = line, now

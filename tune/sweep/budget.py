"""A sweep's time budget, kept at epoch boundaries.

Ray's own `time_budget_s` stops every running trial the moment the budget ends, mid-epoch, and
starts trials until then: a trial started in the last seconds runs alone while the other cores
idle, and is cut before it reports anything. Instead:

- the searcher starts no trial that cannot reach its first ASHA rung before the budget ends (its
  duration estimated from the epochs seen so far; `Budget.can_start`);
- once the budget has ended, each running trial stops at its next epoch boundary, its checkpoints
  kept (`BudgetStopper`).

The seconds used survive a killed driver (RUN_DIR/budget.json): `--resume` spends what is left,
as Ray's budget does. Stopper and searcher are pickled separately by Ray, so each holds only the
run directory and the budget, and both read one clock per run directory in the driver process.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray.tune import Stopper

from base.files import atomic_write_text
from base.run_dir import BUDGET_FILE

SAVE_EVERY_S = 5.0


@dataclass
class Clock:
    """Budget seconds used, the epochs' durations seen, and what the budget ended."""

    path: Path
    used_s: float = 0.0
    epoch_s: list[float] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # trials the budget stopped
    refused: int = 0  # trials not started: they could not reach their first rung
    last_tick: float | None = None
    last_save: float = 0.0
    running: bool = True  # False once the fit has returned: the end phase is not the search's

    @classmethod
    def load(cls, path: Path) -> Clock:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path,
                float(saved["used_s"]),
                [float(s) for s in saved["epoch_s"]],
                [str(t) for t in saved["stopped"]],
                int(saved["refused"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path)

    def tick(self) -> float:
        if not self.running:
            return self.used_s
        now = time.monotonic()
        if self.last_tick is not None:
            self.used_s += now - self.last_tick
        self.last_tick = now
        if now - self.last_save >= SAVE_EVERY_S:
            self.save()
        return self.used_s

    def save(self) -> None:
        self.last_save = time.monotonic()
        state = {
            "used_s": self.used_s,
            "epoch_s": self.epoch_s[-200:],
            "stopped": self.stopped,
            "refused": self.refused,
        }
        atomic_write_text(self.path, json.dumps(state))


_CLOCKS: dict[str, Clock] = {}


@dataclass(frozen=True)
class Budget:
    """`budget_s` for the sweep in `run_dir`; `first_rung`: the epochs a trial must reach for
    ASHA to compare it with the others."""

    run_dir: str
    budget_s: float
    first_rung: int

    def start(self) -> None:
        """Read the clock from the run directory afresh (a new or resumed fit in this process)."""
        _CLOCKS[self.run_dir] = Clock.load(Path(self.run_dir) / BUDGET_FILE)

    def finish(self) -> None:
        """The fit has returned: stop the clock where the search ended."""
        self.clock.tick()
        self.clock.running = False
        self.clock.save()

    @property
    def clock(self) -> Clock:
        if self.run_dir not in _CLOCKS:
            _CLOCKS[self.run_dir] = Clock.load(Path(self.run_dir) / BUDGET_FILE)
        return _CLOCKS[self.run_dir]

    def left_s(self) -> float:
        return self.budget_s - self.clock.tick()

    def can_start(self) -> bool:
        """Whether a new trial would reach its first rung before the budget ends, at the median
        epoch seen so far (before any epoch: whether any budget is left)."""
        left = self.left_s()
        epochs = self.clock.epoch_s
        needed = statistics.median(epochs) * self.first_rung if epochs else 0.0
        if left > needed:
            return True
        self.clock.refused += 1
        self.clock.save()
        return False

    def record_epoch(self, seconds: float) -> None:
        self.clock.epoch_s.append(seconds)

    def report(self) -> dict[str, Any]:
        """summary.json's `budget`: seconds given and used, the overrun, trials the budget
        stopped at an epoch boundary, and starts refused near the end."""
        clock = self.clock
        return {
            "budget_s": self.budget_s,
            "used_s": round(clock.used_s, 1),
            "overrun_s": round(max(0.0, clock.used_s - self.budget_s), 1),
            "stopped_trials": len(clock.stopped),
            "refused_starts": clock.refused,
        }

    def ended(self) -> bool:
        return self.left_s() <= 0 or self.clock.refused > 0


class BudgetStopper(Stopper):
    """Ray's stopper: a trial reporting an epoch after the budget has ended stops there."""

    def __init__(self, budget: Budget):
        self.budget = budget

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        seconds = result.get("time_this_iter_s")
        if isinstance(seconds, (int, float)) and not result.get("error"):
            self.budget.record_epoch(float(seconds))
        if self.budget.left_s() > 0:
            return False
        if trial_id not in self.budget.clock.stopped:
            self.budget.clock.stopped.append(trial_id)
        return True

    def stop_all(self) -> bool:
        self.budget.left_s()  # keeps the clock running; trials stop one by one, never mid-epoch
        return False

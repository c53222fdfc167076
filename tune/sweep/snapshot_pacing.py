"""Pace Ray's snapshots of its experiment state by what they cost.

Ray writes its whole experiment state (every trial's settings, last result and statistics,
13-23 KB per trial) at most every `TUNE_GLOBAL_CHECKPOINT_S` seconds. A fixed period makes the
driver's cost per trial grow with the trial count: at 2,000 trials the once-a-second snapshot was
the driver's largest part (docs/benchmarks.md, "The driver at scale"). Ray's "auto" period keeps
snapshots to about 5% of the driver's time (19 times the last one's duration), but never under
10 s; the sweep wants 1 s while snapshots are cheap, so that a killed driver's `--resume` loses
as little as it can (tune/sweep/reconcile.py).

The period follows the median of the last `RECENT` snapshots' costs, not the last one's: a
snapshot that a pause of the whole driver caught (its garbage collector, a core taken by a
trial's start) took 0.3 s among ones of 5 ms, and Ray's rule stretched the next period to 5.7 s.

A snapshot costs more than Ray's write: the state guard's backup of it (tune/sweep/ray_state.py)
`charge`s its seconds, and the next period counts them with the write's, so that the two
together stay near a twentieth of the driver's time.

`pace_snapshots` sets that floor on Ray's "auto" rule. It changes one private method of Ray's
(`_ExperimentCheckpointManager._update_auto_checkpoint_time`, Ray 2.40-2.60); where a Ray lacks
it, a fixed period of the floor is used instead, Ray's own behaviour before this module.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque

SNAPSHOT_ENV = "TUNE_GLOBAL_CHECKPOINT_S"
FLOOR_S = 1.0
SHARE = 19  # Ray's: the period is 19x the last snapshot's time, so snapshots take 1/20 of it
RECENT = 5  # snapshots whose median cost sets the period


class AfterWriteCost:
    """Seconds of work that snapshots caused after Ray wrote them, not yet counted in a period."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


AFTER_WRITE = AfterWriteCost()  # one driver process, one Ray checkpoint manager


def charge(started: float) -> None:
    """Count the work since `started` (time.perf_counter()) as part of the last snapshot's cost,
    towards the next period."""
    AFTER_WRITE.seconds += time.perf_counter() - started


def paced_period_s(snapshot_s: float, floor_s: float = FLOOR_S) -> float:
    """Seconds until the next snapshot, after one that took `snapshot_s`."""
    return max(floor_s, SHARE * snapshot_s)


def pace_snapshots(floor_s: float = FLOOR_S) -> bool:
    """Give Ray's "auto" snapshot period a floor of `floor_s` instead of 10 s (call in the driver,
    before the Tuner runs). Returns whether the period is paced; False where the user set a
    fixed period, or where Ray has no such rule to change (then the period is `floor_s`)."""
    if os.environ.get(SNAPSHOT_ENV, "auto") != "auto":
        return False
    try:
        from ray.tune.execution.experiment_state import _ExperimentCheckpointManager as manager
    except ImportError:
        manager = None
    if manager is None or not hasattr(manager, "_update_auto_checkpoint_time"):
        os.environ[SNAPSHOT_ENV] = str(floor_s)
        return False

    def update(self, time_taken: float) -> None:
        if self._auto_checkpoint_enabled:
            recent = self.__dict__.setdefault("_rnn_tune_recent_s", deque(maxlen=RECENT))
            recent.append(time_taken + AFTER_WRITE.take())
            self._checkpoint_period = paced_period_s(statistics.median(recent), floor_s)

    manager._update_auto_checkpoint_time = update
    return True

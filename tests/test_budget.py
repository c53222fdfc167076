"""The time budget's rules (tune/sweep/budget.py) without a sweep: when a trial may start, when a
running one stops, and the seconds used surviving a new driver."""

from __future__ import annotations

import json

from base.run_dir import BUDGET_FILE
from tune.sweep.budget import Budget, BudgetStopper


def budget(tmp_path, seconds: float = 100.0, first_rung: int = 2) -> Budget:
    b = Budget(str(tmp_path), seconds, first_rung)
    b.start()
    return b


def test_a_trial_starts_only_if_it_can_reach_its_first_rung(tmp_path):
    b = budget(tmp_path)
    assert b.can_start()  # no epoch seen yet: any budget left will do
    for seconds in (10.0, 12.0, 30.0):
        b.record_epoch(seconds)
    b.clock.used_s = 100 - 25  # 25 s left; the median epoch (12 s) x 2 epochs = 24 s
    assert b.can_start() and b.clock.refused == 0
    b.clock.used_s = 100 - 23
    assert not b.can_start() and b.clock.refused == 1 and b.ended()


def test_running_trials_stop_at_their_first_epoch_after_the_budget(tmp_path):
    b = budget(tmp_path)
    stopper = BudgetStopper(b)
    assert not stopper("t1", {"time_this_iter_s": 4.0}) and not stopper.stop_all()
    b.clock.used_s = 100.5
    assert stopper("t1", {"time_this_iter_s": 4.0}) and stopper("t2", {"time_this_iter_s": 3.0})
    assert stopper("t1", {"time_this_iter_s": 4.0})
    assert not stopper.stop_all()  # never every trial at once: each at its own epoch boundary
    assert b.clock.stopped == ["t1", "t2"] and b.clock.epoch_s == [4.0, 4.0, 3.0, 4.0]
    b.finish()
    report = b.report()
    assert report["stopped_trials"] == 2 and report["overrun_s"] >= 0.5


def test_the_seconds_used_survive_a_new_driver_and_the_clock_stops_with_the_fit(tmp_path):
    b = budget(tmp_path)
    b.clock.used_s = 40.0
    b.finish()
    frozen = b.left_s()
    assert frozen == b.left_s() == 60.0  # the end phase does not spend the search's budget
    assert json.loads((tmp_path / BUDGET_FILE).read_text())["used_s"] == 40.0
    resumed = Budget(str(tmp_path), 100.0, 2)
    resumed.start()  # as a driver started by --resume does
    assert 59.0 < resumed.left_s() <= 60.0 and resumed.clock.running

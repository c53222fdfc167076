"""The pruner deletes a running trial's checkpoints itself, behind Ray's snapshots: it keeps the
best and the latest, the optimizer state only in the latest, and deletes nothing until two
snapshots have been taken since; Ray's snapshots come every second while they are cheap."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import ray
from ray import tune
from ray.tune import Checkpoint

from base.run_dir import OPTIMIZER_FILE
from tune.sweep.pruning import CheckpointPruner
from tune.sweep.ray_state import ExperimentStateGuard
from tune.sweep.snapshot_pacing import (
    AFTER_WRITE,
    SNAPSHOT_ENV,
    charge,
    pace_snapshots,
    paced_period_s,
)


def test_a_running_trial_keeps_its_best_and_its_latest_after_two_snapshots(tmp_path):
    pruner = CheckpointPruner()
    trial = SimpleNamespace(trial_id="t1", last_result={})
    curve = [0.50, 0.70, 0.60, 0.65, 0.55]  # the best is epoch 2's
    for epoch, val_acc in enumerate(curve):
        folder = tmp_path / f"checkpoint_{epoch:06d}"
        folder.mkdir()
        (folder / "model.pt").write_bytes(b"w")
        (folder / OPTIMIZER_FILE).write_bytes(b"o")
        trial.last_result = {"val_acc": val_acc}
        pruner.on_checkpoint(epoch, [trial], trial, Checkpoint.from_directory(str(folder)))
    assert len(list(tmp_path.iterdir())) == 5  # no snapshot yet names the newer ones
    pruner.snapshot_taken()
    assert len(list(tmp_path.glob("*/*"))) == 10  # one snapshot is not enough
    pruner.snapshot_taken()
    left = {p.parent.name: sorted(f.name for f in p.parent.iterdir()) for p in tmp_path.glob("*/*")}
    assert left == {
        "checkpoint_000001": ["model.pt"],
        "checkpoint_000004": sorted(["model.pt", OPTIMIZER_FILE]),
    }


def test_snapshots_are_paced_by_their_cost_from_a_floor_of_a_second(monkeypatch):
    from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

    monkeypatch.setenv(SNAPSHOT_ENV, "30")  # a user's fixed period is left to Ray
    assert not pace_snapshots()
    monkeypatch.setenv(SNAPSHOT_ENV, "auto")
    assert pace_snapshots()
    manager = _ExperimentCheckpointManager(storage=None, checkpoint_period="auto")
    AFTER_WRITE.take()  # what sweeps run earlier in this process left
    for _ in range(3):
        manager._update_auto_checkpoint_time(0.005)  # Ray's own rule would say 10 s
        assert manager._checkpoint_period == 1.0
    manager._update_auto_checkpoint_time(0.3)  # one caught by a pause of the whole driver
    assert manager._checkpoint_period == 1.0  # Ray's rule: 5.7 s
    manager._update_auto_checkpoint_time(0.5)
    manager._update_auto_checkpoint_time(0.5)  # most of the last five are slow now
    assert manager._checkpoint_period == paced_period_s(0.3) == pytest.approx(5.7)

    manager = _ExperimentCheckpointManager(storage=None, checkpoint_period="auto")
    charge(time.perf_counter() - 0.2)  # the state guard's backup of the last snapshot took 0.2 s
    manager._update_auto_checkpoint_time(0.05)
    assert manager._checkpoint_period == pytest.approx(19 * 0.25, rel=0.01)
    manager._update_auto_checkpoint_time(0.1)  # a charge counts once: the median of 0.25, 0.1
    assert manager._checkpoint_period == pytest.approx(19 * 0.175, rel=0.01)


@pytest.mark.slow
def test_a_running_trials_old_checkpoints_go_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.setenv(SNAPSHOT_ENV, "auto")
    monkeypatch.setenv("RAY_AIR_NEW_OUTPUT", "0")
    pace_snapshots()
    run = tmp_path / "run"

    def trainable(config):
        """Reports a better checkpoint every 0.2 s until its first one is gone from the run
        (defined here, so that Ray pickles it whole)."""
        root = Path(config["root"])
        for epoch in range(100):
            first_gone = epoch > 0 and not any(root.glob("*/checkpoint_000000"))
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "model.pt").write_bytes(b"w")
                metrics = {"val_acc": epoch / 100, "epoch": epoch, "first_gone": first_gone}
                tune.report(metrics, checkpoint=Checkpoint.from_directory(folder))
            if first_gone:
                return
            time.sleep(0.2)

    pruner = CheckpointPruner()
    guard = ExperimentStateGuard(str(run), on_snapshot=pruner.snapshot_taken)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        result = tune.Tuner(
            trainable,
            param_space={"root": str(run)},
            run_config=tune.RunConfig(
                name="run",
                storage_path=str(tmp_path),
                verbose=0,
                callbacks=[pruner, guard],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            ),
        ).fit()[0]
    finally:
        ray.shutdown()
    assert result.error is None
    assert result.metrics["first_gone"]  # deleted while the trial still ran
    assert result.metrics["epoch"] >= 2  # not before two snapshots had named newer ones
    assert pruner.snapshots >= 2

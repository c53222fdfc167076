"""The pruner deletes a running trial's checkpoints itself, behind Ray's snapshots: it keeps the
best and the latest, the optimizer state only in the latest, and deletes nothing before its
grace period is over."""

from __future__ import annotations

import time
from types import SimpleNamespace

from ray.tune import Checkpoint

from base.run_dir import OPTIMIZER_FILE
from tune.sweep.pruning import CheckpointPruner, retention


def test_a_running_trial_keeps_its_best_and_its_latest_after_the_grace_period(tmp_path):
    pruner = CheckpointPruner(grace_s=0.5)
    trial = SimpleNamespace(trial_id="t1", last_result={})
    curve = [0.50, 0.70, 0.60, 0.65, 0.55]  # the best is epoch 2's
    for epoch, val_acc in enumerate(curve):
        folder = tmp_path / f"checkpoint_{epoch:06d}"
        folder.mkdir()
        (folder / "model.pt").write_bytes(b"w")
        (folder / OPTIMIZER_FILE).write_bytes(b"o")
        trial.last_result = {"val_acc": val_acc}
        pruner.on_checkpoint(epoch, [trial], trial, Checkpoint.from_directory(str(folder)))
        pruner.on_step_end(epoch, [trial])
    assert len(list(tmp_path.iterdir())) == 5  # nothing deleted within the grace period
    time.sleep(0.6)
    pruner.on_step_end(5, [trial])
    left = {p.parent.name: sorted(f.name for f in p.parent.iterdir()) for p in tmp_path.glob("*/*")}
    assert left == {
        "checkpoint_000001": ["model.pt"],
        "checkpoint_000004": sorted(["model.pt", OPTIMIZER_FILE]),
    }


def test_ray_deletes_checkpoints_itself_unless_its_snapshot_comes_well_within_the_grace():
    assert retention(10.0, 1.0) is None
    assert retention(10.0, 5.0) == 1
    assert retention(10.0, None) == 1  # Ray's "auto" period: 10 s or more

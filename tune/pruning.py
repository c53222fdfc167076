"""Keep a sweep's checkpoints lean while it runs: a Ray Tune callback on the driver.

Ray keeps each trial's best and latest checkpoint. On top of that:
- the optimizer state (`optimizer.pt`, twice the weights' size under Adam) stays only in the
  latest checkpoint of a running trial, the one a retry or `--resume` starts from;
- when a trial ends, its latest checkpoint goes unless it is its best;
- a finished trial's best stays only while it is among the top `keep` of its model family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ray.tune import Callback, Checkpoint

from tune.checkpoint import OPTIMIZER_FILE


def delete_checkpoint(checkpoint: Checkpoint, name: str | None = None) -> None:
    """Delete a checkpoint directory (or one file in it) wherever it lives; gone already is fine."""
    fs = checkpoint.filesystem
    try:
        if name is None:
            fs.delete_dir(checkpoint.path)
        else:
            fs.delete_file(f"{checkpoint.path}/{name}")
    except (FileNotFoundError, OSError):
        pass


@dataclass
class CheckpointPruner(Callback):
    keep: int = 1
    running: dict[str, list[tuple[float, Checkpoint]]] = field(default_factory=dict)
    finished: dict[str, list[tuple[float, str, Checkpoint]]] = field(default_factory=dict)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        entries = self.running.setdefault(trial.trial_id, [])
        for _, older in entries:
            delete_checkpoint(older, OPTIMIZER_FILE)
        entries.append((trial.last_result.get("val_acc") or 0.0, checkpoint))

    def on_trial_complete(self, iteration, trials, trial, **info):
        family = (trial.config or {}).get("model") or trial.last_result.get("model", "?")
        self.finish(trial.trial_id, family, self.running.pop(trial.trial_id, []))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.on_trial_complete(iteration, trials, trial, **info)

    def finish(self, trial_id: str, family: str, entries: list[tuple[float, Checkpoint]]) -> None:
        """A trial ended: keep its best checkpoint without optimizer state, if its family ranks it."""
        if not entries:
            return
        best_acc, best = max(reversed(entries), key=lambda e: e[0])  # the later one wins a tie, as in Ray
        for _, checkpoint in entries:
            if checkpoint.path != best.path:
                delete_checkpoint(checkpoint)
        delete_checkpoint(best, OPTIMIZER_FILE)
        ranked = self.finished.setdefault(family, [])
        ranked[:] = [e for e in ranked if e[1] != trial_id]
        ranked.append((best_acc, trial_id, best))
        ranked.sort(key=lambda e: -e[0])
        for _, _, dropped in ranked[self.keep :]:
            delete_checkpoint(dropped)
        del ranked[self.keep :]

    def kept(self, family: str) -> list[tuple[float, str, Checkpoint]]:
        """The family's kept (val_acc, trial_id, checkpoint), best first."""
        return list(self.finished.get(family, []))

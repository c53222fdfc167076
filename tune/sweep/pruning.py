"""Keep a sweep's checkpoints lean while it runs: a Ray Tune callback on the driver.

Ray keeps every checkpoint it is given (`num_to_keep=None`: with a number, it would delete the
extras itself and snapshot its whole experiment state after each checkpoint to stay consistent,
work in proportion to the trials so far, once per epoch of every trial). This callback decides:
- a running trial keeps its best checkpoint and its latest, the one a retry or `--resume` starts
  from; the optimizer state (`optimizer.pt`, twice the weights' size under Adam) stays only in
  the latest;
- when a trial ends, its latest checkpoint goes unless it is its best, and its best stays only
  while it is among the top `keep` of its model family or the top `overall` of the sweep (the
  ensemble's candidates, tune/outcome/ensemble.py).

A deletion waits for two snapshots of Ray's experiment state, taken and backed up after it was
decided (`snapshot_taken`, called by tune/sweep/ray_state.py's guard): a driver killed between a
deletion and a snapshot that names the newer checkpoint would resume a trial from a checkpoint
that is gone. Counting snapshots, not seconds, holds whatever their period
(tune/sweep/snapshot_pacing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ray.tune import Callback, Checkpoint

from base.run_dir import OPTIMIZER_FILE


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
    overall: int = 0
    snapshots_to_wait: int = 2
    snapshots: int = 0
    running: dict[str, list[tuple[float, Checkpoint]]] = field(default_factory=dict)
    finished: dict[str, list[tuple[float, str, Checkpoint]]] = field(default_factory=dict)
    pending: list[tuple[int, Checkpoint, str | None]] = field(default_factory=list)

    def _later(self, checkpoint: Checkpoint, name: str | None = None) -> None:
        self.pending.append((self.snapshots + self.snapshots_to_wait, checkpoint, name))

    def snapshot_taken(self) -> None:
        """Ray's experiment state was snapshotted and backed up whole: count it, and delete what
        has waited its snapshots."""
        self.snapshots += 1
        if self.pending:
            self.flush()

    def flush(self, everything: bool = False) -> None:
        """Carry out the deletions that have waited their snapshots (all of them with
        `everything`)."""
        due = [p for p in self.pending if everything or p[0] <= self.snapshots]
        self.pending = [p for p in self.pending if not (everything or p[0] <= self.snapshots)]
        for _, checkpoint, name in due:
            delete_checkpoint(checkpoint, name)

    def on_experiment_end(self, trials, **info):
        self.flush(everything=True)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        entries = self.running.get(trial.trial_id, [])
        entries.append((trial.last_result.get("val_acc") or 0.0, checkpoint))
        best = _best(entries)
        if best[1] is not checkpoint:
            self._later(best[1], OPTIMIZER_FILE)
        for entry in entries:  # with num_to_keep=1 Ray deleted it already: deleting is a no-op
            if entry is not best and entry[1] is not checkpoint:
                self._later(entry[1])
        self.running[trial.trial_id] = [e for e in entries if e is best or e[1] is checkpoint]

    def on_trial_complete(self, iteration, trials, trial, **info):
        family = (trial.config or {}).get("model") or trial.last_result.get("model", "?")
        self.finish(trial.trial_id, family, self.running.pop(trial.trial_id, []), now=False)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.on_trial_complete(iteration, trials, trial, **info)

    def finish(
        self, trial_id: str, family: str, entries: list[tuple[float, Checkpoint]], now: bool = True
    ) -> None:
        """A trial ended: keep its best checkpoint (no optimizer state) if its family ranks it."""
        if not entries:
            return
        drop = delete_checkpoint if now else self._later
        best_acc, best = _best(entries)
        for _, checkpoint in entries:
            if checkpoint.path != best.path:
                drop(checkpoint)
        drop(best, OPTIMIZER_FILE)
        for ranked in self.finished.values():
            ranked[:] = [e for e in ranked if e[1] != trial_id]
        ranked = self.finished.setdefault(family, [])
        ranked.append((best_acc, trial_id, best))
        ranked.sort(key=lambda e: -e[0])
        everyone = sorted((e for r in self.finished.values() for e in r), key=lambda e: -e[0])
        overall = {e[1] for e in everyone[: self.overall]}
        for family_ranked in self.finished.values():
            keep = [e for i, e in enumerate(family_ranked) if i < self.keep or e[1] in overall]
            for entry in family_ranked:
                if entry not in keep:
                    drop(entry[2])
            family_ranked[:] = keep

    def kept(self, family: str) -> list[tuple[float, str, Checkpoint]]:
        """The family's kept (val_acc, trial_id, checkpoint), best first."""
        return list(self.finished.get(family, []))

    def family_kept(self, family: str) -> set[str]:
        """The trials the family rule alone keeps (its top `keep`)."""
        return {tid for _, tid, _ in self.finished.get(family, [])[: self.keep]}


def _best(entries: list[tuple[float, Checkpoint]]) -> tuple[float, Checkpoint]:
    """The entry with the highest val_acc; the later one wins a tie."""
    return max(reversed(entries), key=lambda e: e[0])

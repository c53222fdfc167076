"""Repair Ray Tune's experiment state after a killed driver, before `--resume`.

Ray copies its state (trial list, searcher, search counter) into the run directory after each
snapshot (every second while they are cheap, tune/sweep/snapshot_pacing.py), overwriting in
place, so a driver killed during that copy leaves a file cut short and `Tuner.restore` fails.
`ExperimentStateGuard` backs up each complete set of those files into `RUN_DIR/.state-backup/`
while the sweep runs, and `repair_state` puts the newest set back: only from the run's own
directory, never from Ray's shared temporary folders.

Checks never unpickle: a pickle is intact when its opcode stream runs to its STOP. A backup is
taken right after Ray's copy has finished, so it checks only the files' ends (its cost stays a
plain copy as the state grows); a repair checks every byte and takes the newest backup that
passes.
"""

from __future__ import annotations

import json
import pickletools
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ray.tune import Callback

from base.run_dir import STATE_BACKUP_DIR
from tune.config import ConfigError

STATE_PATTERNS = (
    "experiment_state-*.json",
    "search_gen_state-*.json",
    "searcher-state-*.pkl",
    "basic-variant-state-*.json",
)
COMPLETE = "COMPLETE"


def intact(path: Path) -> bool:
    """A complete JSON document (experiment_state) or pickle stream (the others, whatever their
    suffix), read without running anything in it."""
    try:
        data = path.read_bytes()
        if path.name.startswith("experiment_state-"):
            json.loads(data)
        else:
            ops = list(pickletools.genops(data))
            if not ops or ops[-1][0].name != "STOP":
                return False
    except (OSError, ValueError, UnicodeDecodeError):  # json's and genops' errors for cut files
        return False
    return True


def looks_whole(path: Path) -> bool:
    """The cheap check a backup makes: the file ends as a whole JSON object or pickle does (a
    closing brace, a STOP opcode). A file cut mid-write fails it unless the cut falls just after
    such a byte; `repair_state` then skips that backup for the one before."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 64))
            tail = f.read().rstrip()
    except OSError:
        return False
    return tail.endswith(b"}" if path.name.startswith("experiment_state-") else b".")


def state_files(run_dir: Path) -> list[Path]:
    return [p for pattern in STATE_PATTERNS for p in sorted(run_dir.glob(pattern))]


def back_up_state(run_dir: Path, keep: int = 2) -> Path | None:
    """Copy the state files, all together, into a new RUN_DIR/.state-backup/NNNNNNNN/ (complete
    once its COMPLETE marker is written, last); keep the newest `keep`. None if a file does not
    look whole (being written): the set is backed up whole or not at all."""
    files = state_files(run_dir)
    if not files or not all(looks_whole(p) for p in files):
        return None
    root = run_dir / STATE_BACKUP_DIR
    numbers = [int(p.name) for p in root.glob("*") if p.name.isdigit()]
    target = root / f"{max(numbers, default=0) + 1:08d}"
    target.mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, target / path.name)
    (target / COMPLETE).write_text("")
    for old in complete_backups(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def complete_backups(run_dir: Path) -> list[Path]:
    root = run_dir / STATE_BACKUP_DIR
    found = [p for p in root.glob("*") if p.name.isdigit() and (p / COMPLETE).is_file()]
    return sorted(found, key=lambda p: int(p.name))


class ExperimentStateGuard(Callback):
    """Keeps Ray's experiment state whole: no copy races a snapshot, and intact backups exist.

    Ray copies its state into the run directory on a background thread, while the next snapshot
    writes temporary files into the folder being copied; a copy that lists such a file and finds
    it renamed fails with FileNotFoundError, logged as an ERROR traceback by a sweep that
    succeeds. Waiting for the copy at the end of each step, before the next snapshot, closes that
    window, and leaves a consistent set of files to back up whenever it changed.

    Each snapshot whose copy has finished is announced to `on_snapshot` (the checkpoint pruner
    waits for them, tune/sweep/pruning.py), also where the state goes to cloud storage and the
    run directory holds no copy to back up.
    """

    on_snapshot: Callable[[], None] | None = None  # also for guards pickled before it existed
    saved: int | None = None

    def __init__(self, run_dir: str, on_snapshot: Callable[[], None] | None = None):
        self.run_dir = Path(run_dir)
        self.on_snapshot = on_snapshot
        self.seen: tuple = ()
        self.saved: int | None = None

    def on_step_end(self, iteration, trials, **info):
        storage = trials[0].storage if trials else None
        syncer = getattr(storage, "syncer", None)
        if syncer is not None:  # the trials share the controller's syncer (a shallow copy)
            try:
                syncer.wait()
            except Exception as exc:  # Ray would log it as a traceback: one line instead
                print(f"rnn-tune: saving Ray's experiment state failed: {exc}", file=sys.stderr)
                return  # a copy that failed may have left a file cut short: no backup of it
        self._back_up_if_changed()
        saved = _snapshot_time(storage)
        if saved != self.saved:
            self.saved = saved
            if saved is not None and self.on_snapshot is not None:
                self.on_snapshot()

    def on_experiment_end(self, trials, **info):
        self._back_up_if_changed()

    def _back_up_if_changed(self) -> None:
        try:
            now = tuple((p.name, p.stat().st_mtime_ns) for p in state_files(self.run_dir))
        except FileNotFoundError:
            return
        if now != self.seen and back_up_state(self.run_dir):
            self.seen = now


def _snapshot_time(storage) -> int | None:
    """When Ray last wrote its experiment state into the driver's staging folder (each snapshot
    is written there, then copied to the run's storage); None before the first."""
    try:
        folder = Path(storage.experiment_driver_staging_path)
        states = folder.glob("experiment_state-*.json")
        return max((p.stat().st_mtime_ns for p in states), default=None)
    except (AttributeError, OSError):
        return None


def repair_state(run_dir: Path) -> list[str]:
    """If a state file is damaged, put back the newest complete backup, every file of it (a set
    taken together is consistent); return the names that were damaged."""
    damaged = [p.name for p in state_files(run_dir) if not intact(p)]
    if not damaged:
        return []
    backups = [b for b in complete_backups(run_dir) if all(intact(f) for f in state_files(b))]
    if not backups:
        raise ConfigError(
            f"Ray's sweep state {run_dir / damaged[0]} is damaged (the driver was killed while "
            "writing it) and the run holds no intact backup; start a new sweep with another --name"
        )
    for path in state_files(run_dir):
        path.unlink()
    for path in state_files(backups[-1]):
        shutil.copyfile(path, run_dir / path.name)
    return damaged

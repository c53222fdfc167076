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
import time
from collections.abc import Callable
from pathlib import Path

from ray.tune import Callback

from base.run_dir import STATE_BACKUP_DIR
from tune.config import ConfigError
from tune.sweep.snapshot_pacing import charge

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
    """Keeps Ray's experiment state whole: intact backups of complete, consistent sets.

    Ray writes each snapshot into its staging folder, then copies the whole folder into the run
    directory on a background thread. A backup is taken only once that copy has landed: each of
    the run directory's state files as large as, and newer than, its staging twin. Waiting on
    the syncer is not enough: Ray's SearchGenerator deep-copies each trial's storage, so a
    trial's syncer is not the one copying. (Where it is the controller's, the wait also keeps the
    next snapshot from racing a copy, which Ray logs as a FileNotFoundError traceback.)

    The guard looks at files only between a snapshot and its backup. Ray calls `get_state` as it
    writes each snapshot, so the other steps (dozens a second) cost nothing: listing a run
    directory of thousands of trial folders each step made the guard's cost per trial grow with
    the trial count.

    Each snapshot is announced to `on_snapshot` (the checkpoint pruner waits for them,
    tune/sweep/pruning.py): once backed up, or, with the state in cloud storage (`remote`: no
    copy here to check), once written.
    """

    on_snapshot: Callable[[], None] | None = None  # also for guards pickled before these
    remote = False
    written = False  # a snapshot is written and not backed up yet
    watched: tuple[str, ...] | None = None  # its state files' names in the staging folder

    def __init__(
        self, run_dir: str, on_snapshot: Callable[[], None] | None = None, remote: bool = False
    ):
        self.run_dir = Path(run_dir)
        self.on_snapshot = on_snapshot
        self.remote = remote

    def get_state(self) -> None:
        """Ray's cue, called as it writes each snapshot (after the experiment's and the
        searcher's state). The guard keeps no state in Ray's snapshot: None."""
        self.written, self.watched = True, None
        return None

    def on_step_end(self, iteration, trials, **info):
        storage = trials[0].storage if trials else None
        syncer = getattr(storage, "syncer", None)
        if syncer is not None:
            try:
                syncer.wait()
            except Exception as exc:  # Ray would log it as a traceback: one line instead
                print(f"rnn-tune: saving Ray's experiment state failed: {exc}", file=sys.stderr)
                return  # a copy that failed may have left a file cut short: no backup of it
        if not self.written:
            return
        if self.remote:
            self.written = False
            self._announce()
        elif self._back_up(_staging_folder(storage)):
            self._announce()

    def on_experiment_end(self, trials, **info):
        if not self.remote:
            self._back_up(_staging_folder(trials[0].storage if trials else None))

    def _announce(self) -> None:
        if self.on_snapshot is not None:
            self.on_snapshot()

    def _back_up(self, staging: Path | None) -> bool:
        """Back up the run directory's state files if a snapshot was written since the last
        backup and Ray's copy of it has landed; whether a backup was taken."""
        if not self.written:
            return False
        if self.watched is None:  # one listing per snapshot
            self.watched = tuple(p.name for p in state_files(staging)) if staging else ()
        if not copied(self.run_dir, staging, self.watched):
            return False
        started = time.perf_counter()
        backed_up = back_up_state(self.run_dir) is not None
        charge(started)  # the backup is part of the snapshot's cost (snapshot_pacing.py)
        self.written = not backed_up
        return backed_up


def copied(run_dir: Path, staging: Path | None, names: tuple[str, ...]) -> bool:
    """Every state file `names` of Ray's staging folder has landed in `run_dir`: a twin as large
    and newer. True where the staging folder is unknown (nothing to compare with)."""
    if staging is None:
        return True
    try:
        for name in names:
            twin, stat = run_dir / name, (staging / name).stat()
            if not twin.is_file():
                return False
            landed = twin.stat()
            if landed.st_size != stat.st_size or landed.st_mtime_ns < stat.st_mtime_ns:
                return False
    except OSError:  # a file renamed or removed as we looked: not settled yet
        return False
    return True


def _staging_folder(storage) -> Path | None:
    """Ray's driver staging folder, where each snapshot is written before its copy."""
    try:
        return Path(storage.experiment_driver_staging_path)
    except (AttributeError, TypeError, ValueError):
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

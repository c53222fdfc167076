"""Repair Ray Tune's experiment state after a killed driver, before `--resume`.

Ray copies its state (trial list, searcher, search counter) into the run directory every second,
overwriting in place, so a driver killed during that copy leaves a file cut short and
`Tuner.restore` fails. `StateBackup` keeps the last intact copy of each file in
`RUN_DIR/.state-backup/` while the sweep runs, and `repair_state` takes damaged files back from
there: only from the run's own directory, never from Ray's shared temporary folders.

Checks never unpickle: a pickle is intact when its opcode stream runs to its STOP.
"""

from __future__ import annotations

import json
import pickletools
import shutil
import sys
import time
from pathlib import Path

from ray.tune import Callback

from data.files import atomic_write_bytes
from tune.config import ConfigError

STATE_PATTERNS = (
    "experiment_state-*.json",
    "search_gen_state-*.json",
    "searcher-state-*.pkl",
    "basic-variant-state-*.json",
)
BACKUP_DIR = ".state-backup"


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


def state_files(run_dir: Path) -> list[Path]:
    return [p for pattern in STATE_PATTERNS for p in sorted(run_dir.glob(pattern))]


def back_up_state(run_dir: Path) -> None:
    """Copy each intact state file into RUN_DIR/.state-backup/ (atomically)."""
    for path in state_files(run_dir):
        if intact(path):
            atomic_write_bytes(run_dir / BACKUP_DIR / path.name, path.read_bytes())


class ExperimentStateGuard(Callback):
    """Keeps Ray's experiment state whole: no copy races a snapshot, and intact backups exist.

    Ray copies its state into the run directory on a background thread, while the next snapshot
    (a second later) writes temporary files into the folder being copied; a copy that lists such
    a file and finds it renamed fails with FileNotFoundError, logged as an ERROR traceback by a
    sweep that succeeds. Waiting for the copy at the end of each step, before the next snapshot,
    closes that window. Every few seconds the intact state files are backed up as well.
    """

    def __init__(self, run_dir: str, every_s: float = 3.0):
        self.run_dir, self.every_s, self.last = Path(run_dir), every_s, 0.0

    def on_step_end(self, iteration, trials, **info):
        syncer = getattr(trials[0].storage, "syncer", None) if trials else None
        if syncer is not None:  # the trials share the controller's syncer (a shallow copy)
            try:
                syncer.wait()
            except Exception as exc:  # Ray would log it as a traceback: one line instead
                print(f"rnn-tune: saving Ray's experiment state failed: {exc}", file=sys.stderr)
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            back_up_state(self.run_dir)

    def on_experiment_end(self, trials, **info):
        back_up_state(self.run_dir)


def repair_state(run_dir: Path) -> list[str]:
    """Replace damaged state files in `run_dir` from its own backups; return their names."""
    repaired = []
    for path in state_files(run_dir):
        if intact(path):
            continue
        backup = run_dir / BACKUP_DIR / path.name
        if not intact(backup):
            raise ConfigError(
                f"Ray's sweep state {path} is damaged (the driver was killed while writing it) "
                "and the run holds no intact backup; start a new sweep with another --name"
            )
        shutil.copyfile(backup, path)
        repaired.append(path.name)
    return repaired

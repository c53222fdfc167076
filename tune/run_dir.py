"""A sweep's run directory: where it lives, who may write it, and the config it was asked with.

No Ray here, so the CLI can settle these (and refuse) before importing Ray.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from data.files import LockBusy, atomic_write_text, file_lock
from results.run_files import CONFIG_FILE, DRIVER_FILE, LOCK_FILE, RECORDS_FILE, TUNER_FILE
from tune.config import Config, ConfigError, read_config_json, write_config_json


def is_uri(storage: str | None) -> bool:
    return bool(storage) and "://" in storage


def trial_dir_name(sweep_name: str, trial_id: str) -> str:
    """A trial's name in the Ray dashboard and its folder in the run directory: SWEEP_TRIALID."""
    return f"{sweep_name}_{trial_id}"


def run_dir_for(cfg: Config) -> Path:
    """`storage/name`; with a cloud `storage` URI, `local_dir/name` (default `runs/name`) holds
    the driver's plain files and Ray keeps checkpoints at the URI."""
    root = cfg.sweep.local_dir if is_uri(cfg.sweep.storage) else cfg.sweep.storage
    return Path(root).expanduser().resolve() / cfg.sweep.name


@contextmanager
def claim_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold RUN_DIR/.sweep.lock while a driver works there: a second sweep or --resume on the
    same directory refuses at once instead of writing over the first."""
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(run_dir / LOCK_FILE, wait=False):
            yield
    except LockBusy:
        raise ConfigError(
            f"run directory {run_dir} is in use by another rnn-tune sweep; wait for it to end "
            "or pick another --name"
        ) from None


def sweep_started(run_dir: Path) -> bool:
    """A sweep already ran in `run_dir` (trial records or Ray Tune's state are there): a new run
    there is refused, `--resume-existing` continues it. A directory holding only config.json
    belongs to a run that stopped before Ray started, and may start again."""
    return (run_dir / RECORDS_FILE).exists() or (run_dir / TUNER_FILE).exists()


def start_run_dir(cfg: Config, run_dir: Path) -> None:
    """A new run: config.json written first (what was asked); a run already started is refused."""
    if sweep_started(run_dir):
        raise ConfigError(
            f"run directory {run_dir} already exists; resume it with --resume {run_dir} or pick "
            "another --name"
        )
    write_config_json(cfg, run_dir / CONFIG_FILE)


def load_run_config(run_dir: Path) -> Config:
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(
            f"{run_dir} is not an rnn-tune sweep directory (no {CONFIG_FILE}); pass the directory "
            "the sweep printed"
        )
    cfg = read_config_json(run_dir / CONFIG_FILE)
    if not is_uri(cfg.sweep.storage) and not (run_dir / TUNER_FILE).is_file():
        raise ConfigError(
            f"{run_dir} has no Ray Tune state to resume (tuner.pkl); start a new sweep instead"
        )
    return cfg


def write_driver_file(run_dir: Path, watch: dict[str, Any]) -> None:
    """RUN_DIR/driver.json: which process drives the sweep, since when, and where to watch it
    (dashboard, metrics endpoints, Ray's logs). The live page reads it; rewritten on --resume."""
    driver = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), **watch}
    atomic_write_text(run_dir / DRIVER_FILE, json.dumps(driver, indent=2))

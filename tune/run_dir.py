"""A sweep's run directory for a config: where it lives, and the config it was asked with (its
contract and its claim are base/run_dir.py).

No Ray here, so the CLI can settle these (and refuse) before importing Ray.
"""

from __future__ import annotations

from pathlib import Path

from base.run_dir import CONFIG_FILE, TUNER_FILE, is_uri, sweep_started
from tune.config import Config, ConfigError, read_config_json, write_config_json


def run_dir_for(cfg: Config) -> Path:
    """`storage/name`; with a cloud `storage` URI, `local_dir/name` (default `runs/name`) holds
    the driver's plain files and Ray keeps checkpoints at the URI."""
    root = cfg.sweep.local_dir if is_uri(cfg.sweep.storage) else cfg.sweep.storage
    return Path(root).expanduser().resolve() / cfg.sweep.name


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

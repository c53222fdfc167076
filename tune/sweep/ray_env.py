"""Environment variables Ray reads when it is imported or started: set before `import ray`."""

from __future__ import annotations

import os

from tune.config import Config

SNAPSHOT_ENV = "TUNE_GLOBAL_CHECKPOINT_S"


def snapshot_period_s() -> float | None:
    """Seconds between Ray's snapshots of its experiment state; None for Ray's "auto" (at least
    10 s, longer as the state grows)."""
    try:
        return float(os.environ.get(SNAPSHOT_ENV, "auto"))
    except ValueError:
        return None


def set_ray_environment(cfg: Config) -> None:
    """Quiet output, a fresh experiment state, and a join that fails in seconds, not minutes.

    Values already in the environment win (setdefault), so a user can still override each.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault(SNAPSHOT_ENV, "1")  # state at most 1 s old if killed
    # Ray keeps every checkpoint's metrics in its state (tune/sweep/pruning.py): val_acc is enough
    os.environ.setdefault("TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if cfg.sweep.address:
        # Something that accepts connections but is not Ray's GCS: Ray retries once a second,
        # 20 times by default, printing a warning each time.
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "5")
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")

"""Environment variables Ray reads when it is imported or started: set before `import ray`."""

from __future__ import annotations

import os

from tune.config import Config
from tune.sweep.snapshot_pacing import SNAPSHOT_ENV

RAY_TRIAL_LOGS_ENV = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"


def set_ray_environment(cfg: Config) -> None:
    """Quiet output, a fresh experiment state, and a join that fails in seconds, not minutes.

    Values already in the environment win (setdefault), so a user can still override each.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray's "auto" period, paced to 1 s while snapshots are cheap (tune/sweep/snapshot_pacing.py)
    os.environ.setdefault(SNAPSHOT_ENV, "auto")
    # Ray keeps every checkpoint's metrics in its state (tune/sweep/pruning.py): val_acc is enough
    os.environ.setdefault("TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE", "1")
    # trials.jsonl holds every result (tune/sweep/records.py); Ray's result.json, progress.csv and
    # TensorBoard file per trial would be a second copy: written per result, copied with every
    # snapshot, and all read into pandas when the fit returns (tune/sweep/tuner.py)
    os.environ.setdefault(RAY_TRIAL_LOGS_ENV, "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if cfg.sweep.address:
        # Something that accepts connections but is not Ray's GCS: Ray retries once a second,
        # 20 times by default, printing a warning each time.
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "5")
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")

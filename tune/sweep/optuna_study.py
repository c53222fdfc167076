"""A sweep's persisted Optuna study: where it lives, and reading it (importances for the report,
a warm start)."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from sqlalchemy.exc import SQLAlchemyError

from base.run_dir import STUDY_FILE
from tune.config import Config


def optuna_storage_url(cfg: Config, run_dir: Path) -> str:
    """--optuna-storage, else the run's own SQLite file."""
    return cfg.sweep.optuna_storage or f"sqlite:///{run_dir / STUDY_FILE}"


def param_importances(run_dir: Path, resamples: int = 20) -> dict[str, Any]:
    """{"n_trials": N, "importances": {param: (importance, spread)}} for the run's study.

    Importance is Optuna's default (PED-ANOVA) over the finished trials, for val_acc (the first
    objective where the study has several); spread is its standard deviation over bootstrap
    resamples of those trials, so a reader sees how much the ranking rests on. Empty when the
    study is missing or too few trials finished.
    """
    trials = read_study(run_dir)
    if trials is None:
        return {}
    finished = [
        optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=t.values[0])
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]

    def importances(sample: list[optuna.trial.FrozenTrial]) -> dict[str, float]:
        study = optuna.create_study(direction="maximize")
        study.add_trials(sample)
        return optuna.importance.get_param_importances(study)

    try:
        point = importances(finished)
    except (ValueError, RuntimeError):
        return {}
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(resamples):
        try:
            samples.append(
                importances([finished[i] for i in rng.integers(0, len(finished), len(finished))])
            )
        except (ValueError, RuntimeError):
            continue
    spread = {
        key: float(np.std([s.get(key, 0.0) for s in samples])) if samples else float("nan")
        for key in point
    }
    return {
        "n_trials": len(finished),
        "importances": {key: (float(v), spread[key]) for key, v in point.items()},
    }


def read_study(run_dir: Path) -> list[optuna.trial.FrozenTrial] | None:
    """The trials of the study in RUN_DIR/optuna.db, read without writing anything.

    Only the run's own SQLite file is read (never a URL named in a file), opened read-only and
    copied into a temporary database that Optuna may migrate or lock as it likes. None when the
    file is absent or holds no single readable study (a run on another --optuna-storage).
    """
    path = run_dir / STUDY_FILE
    if not path.is_file():
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / STUDY_FILE
        try:
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            with sqlite3.connect(copy) as target:
                source.backup(target)
            source.close()
            storage = optuna.storages.RDBStorage(f"sqlite:///{copy}")
            names = optuna.get_all_study_names(storage)
            if len(names) != 1:
                return None
            trials = optuna.load_study(study_name=names[0], storage=storage).get_trials()
            storage.remove_session()
            storage.engine.dispose()
        except (sqlite3.Error, SQLAlchemyError, ValueError, KeyError, RuntimeError):
            return None  # not an Optuna database: the report goes on without importances
    return trials

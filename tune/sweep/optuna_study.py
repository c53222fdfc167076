"""A sweep's persisted Optuna study: where it lives, opening it, and reading it (importances for the
report, a warm start).

The study lives in the run's SQLite file by default, in an RDB named by --optuna-storage, or in a
journal file (--optuna-storage journal). The journal keeps the study in the driver's memory and
appends each change to the file: asks and tells cost about a sixth of SQLite's, whose every read
of the running trials is a query (docs/benchmarks.md, "The driver at scale").
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from sqlalchemy.exc import SQLAlchemyError

from base.run_dir import JOURNAL_FILE, STUDY_FILE
from tune.config import JOURNAL, Config


def optuna_storage_url(cfg: Config, run_dir: Path) -> str:
    """--optuna-storage's RDB URL; the run's journal file's path for `journal`; else the run's own
    SQLite file's URL."""
    if cfg.sweep.optuna_storage == JOURNAL:
        return str(run_dir / JOURNAL_FILE)
    return cfg.sweep.optuna_storage or f"sqlite:///{run_dir / STUDY_FILE}"


def open_storage(url: str) -> BaseStorage:
    """The storage `optuna_storage_url` names: a path (no scheme) is a journal file."""
    if "://" not in url:
        return JournalStorage(JournalFileBackend(url))
    return RDBStorage(url)


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
    """The trials of the study in RUN_DIR/optuna.db or RUN_DIR/optuna.journal, read without
    writing anything.

    Only the run's own files are read (never a URL named in a file), through a copy in a
    temporary folder that Optuna may migrate or lock as it likes; the SQLite file is opened
    read-only to take it. None when neither file is there or it holds no single readable study
    (a run on another --optuna-storage).
    """
    sqlite, journal = run_dir / STUDY_FILE, run_dir / JOURNAL_FILE
    if not sqlite.is_file() and not journal.is_file():
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if sqlite.is_file():
                copy = Path(tmp) / STUDY_FILE
                source = sqlite3.connect(f"{sqlite.resolve().as_uri()}?mode=ro", uri=True)
                with sqlite3.connect(copy) as target:
                    source.backup(target)
                source.close()
                storage = RDBStorage(f"sqlite:///{copy}")
            else:
                copy = Path(tmp) / JOURNAL_FILE
                shutil.copyfile(journal, copy)
                storage = JournalStorage(JournalFileBackend(str(copy)))
            names = optuna.get_all_study_names(storage)
            if len(names) != 1:
                return None
            trials = optuna.load_study(study_name=names[0], storage=storage).get_trials()
            if isinstance(storage, RDBStorage):
                storage.remove_session()
                storage.engine.dispose()
        except (sqlite3.Error, SQLAlchemyError, OSError, ValueError, KeyError, RuntimeError):
            return None  # not an Optuna study: the report goes on without importances
    return trials

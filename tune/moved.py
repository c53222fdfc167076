"""Old module paths kept importable: run directories written before the `tune/train`,
`tune/sweep`, `tune/outcome` layout (2026-12) name their classes by these paths inside Ray's
`tuner.pkl` and the searcher's state pickle, and `--resume` must still load them.

An import of an old path gets the new module itself (the same objects, not copies); nothing is
imported until an old path is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "tune.training": "tune.train.loop",
    "tune.train_run": "tune.train.run",
    "tune.checkpoint": "tune.train.checkpoint",
    "tune.device": "tune.train.device",
    "tune.trial": "tune.sweep.trial",
    "tune.trial_monitor": "tune.sweep.trial_monitor",
    "tune.optuna_search": "tune.sweep.optuna_search",
    "tune.optuna_study": "tune.sweep.optuna_study",
    "tune.search_space": "tune.sweep.search_space",
    "tune.pruning": "tune.sweep.pruning",
    "tune.cluster": "tune.sweep.cluster",
    "tune.ray_env": "tune.sweep.ray_env",
    "tune.ray_state": "tune.sweep.ray_state",
    "tune.reconcile": "tune.sweep.reconcile",
    "tune.records": "tune.sweep.records",
    "tune.ensemble": "tune.outcome.ensemble",
    "tune.baseline": "tune.outcome.baseline",
    "tune.summary": "tune.outcome.summary",
    # The ground floor (2026-12): foundations that lived in rooms named for something else.
    "data.settings": "base.settings",
    "data.files": "base.files",
    "results.run_files": "base.run_dir",
}
# `tune.sweep` was a module and is now the package: its old names, by the module now holding them.
MOVED_FROM_SWEEP = {
    "TrialNamer": "tune.sweep.tuner",
    "SweepInterrupted": "tune.sweep.driver",
    "run_sweep": "tune.sweep.driver",
    "prepare_sweep_data": "tune.sweep.driver",
}

# `tune/sweep/driver.py` built the tuner before `tune/sweep/tuner.py` (2026-12): its old names.
MOVED_FROM_DRIVER = {
    "TrialNamer": "tune.sweep.tuner",
    "experiment_location": "tune.sweep.tuner",
    "trainable": "tune.sweep.tuner",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        pass


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


def _moved_name(module: str, table: dict[str, str], name: str):
    if name not in table:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return getattr(importlib.import_module(table[name]), name)


def from_old_sweep(name: str):
    """An attribute of the old `tune.sweep` module (for `tune/sweep/__init__.__getattr__`)."""
    return _moved_name("tune.sweep", MOVED_FROM_SWEEP, name)


def from_old_driver(name: str):
    """An attribute `tune.sweep.driver` held before the tuner had its own file."""
    return _moved_name("tune.sweep.driver", MOVED_FROM_DRIVER, name)

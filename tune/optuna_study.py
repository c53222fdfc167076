"""Read a sweep's persisted Optuna study (importances for the report)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from results.load import SUMMARY_FILE


def param_importances(run_dir: Path) -> dict[str, float]:
    """Optuna's parameter importances for the run's study; empty when too few trials finished."""
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        return {}
    summary = json.loads(summary_path.read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=summary["optuna_study"], storage=summary["optuna_storage"])
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (KeyError, ValueError, RuntimeError):
        return {}

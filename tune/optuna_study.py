"""Read a sweep's persisted Optuna study (importances for the report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from results.load import SUMMARY_FILE


def param_importances(run_dir: Path, resamples: int = 20) -> dict[str, Any]:
    """{"n_trials": N, "importances": {param: (importance, spread)}} for the run's study.

    Importance is Optuna's default (PED-ANOVA) over the finished trials; spread is its standard
    deviation over bootstrap resamples of those trials, so a reader sees how much the ranking
    rests on. Empty when the study is missing or too few trials finished.
    """
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        return {}
    summary = json.loads(summary_path.read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(
            study_name=summary["optuna_study"], storage=summary["optuna_storage"]
        )
        finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        point = optuna.importance.get_param_importances(study)
    except (KeyError, ValueError, RuntimeError):
        return {}
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(resamples):
        boot = optuna.create_study(direction=study.direction)
        boot.add_trials([finished[i] for i in rng.integers(0, len(finished), len(finished))])
        try:
            samples.append(optuna.importance.get_param_importances(boot))
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

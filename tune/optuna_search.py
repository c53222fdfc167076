"""Ray's OptunaSearch, made to leave each trial's whole learning curve in the Optuna study."""

from __future__ import annotations

from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch


class WholeCurveOptunaSearch(OptunaSearch):
    """Ray gives Optuna every epoch's val_acc as an intermediate value except a trial's last one,
    which it only passes to `tell`. Reporting that one too gives optuna-dashboard (and anyone
    reading `optuna.db`) every epoch of every trial, ASHA-stopped ones included."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        ot_trial = self._ot_trials.get(trial_id)
        if (
            ot_trial is not None
            and result
            and not error
            and trial_id not in self._completed_trials
            and result.get(self.metric) is not None
            and TRAINING_ITERATION in result
        ):
            ot_trial.report(result[self.metric], result[TRAINING_ITERATION])
        super().on_trial_complete(trial_id, result, error)

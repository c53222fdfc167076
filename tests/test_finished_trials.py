import json

import pytest
from ray.tune.experiment import Trial

from tune.sweep.finished_trials import DropEndedTrialWindows


def _trial_with_results(n: int) -> Trial:
    trial = Trial("__fake", stub=True)
    for epoch in range(1, n + 1):
        trial.update_last_result(
            {"training_iteration": epoch, "val_acc": 0.5 + epoch / 100, "val_loss": 1.0 / epoch}
        )
    return trial


def test_an_ended_trial_keeps_its_statistics_without_rays_per_result_windows():
    trial = _trial_with_results(12)
    before = trial.run_metadata.get_json_state()
    assert trial.metric_n_steps["val_acc"]["10"]  # Ray's windows of the last 5 and 10 values
    DropEndedTrialWindows().on_trial_complete(12, [trial], trial)
    assert trial.metric_n_steps == {}
    assert (
        trial.metric_analysis["val_acc"]["last-5-avg"] == pytest.approx(0.6)  # epochs 8-12
    )
    after = trial.run_metadata.get_json_state()  # Ray's snapshot of the trial, rewritten
    assert len(after) < len(before) and json.loads(after)["metric_n_steps"] == {}
    assert json.loads(after)["metric_analysis"] == json.loads(before)["metric_analysis"]


def test_an_errored_trial_keeps_its_windows_for_rays_retry():
    trial = _trial_with_results(3)
    DropEndedTrialWindows().on_trial_error(3, [trial], trial)
    trial.update_last_result({"training_iteration": 4, "val_acc": 0.6, "val_loss": 0.2})
    assert len(trial.metric_n_steps["val_acc"]["5"]) == 4

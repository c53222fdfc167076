"""The sweep's sampler on a real Optuna study: TPE start-up sized to the budget, and no family
starved by a noisy start."""

from __future__ import annotations

from collections import Counter

import optuna
import pytest

from tune.sweep.optuna_search import FamilyFloorSampler, family_floor, make_sampler, startup_trials

FAMILIES = ["rnn", "lstm", "gru"]


def test_startup_is_a_quarter_of_the_budget_between_one_per_family_and_ten():
    assert [startup_trials(n, 3) for n in (4, 12, 24, 40, 500)] == [3, 3, 6, 10, 10]
    assert [family_floor(n, 3) for n in (3, 12, 24, 500)] == [1, 2, 3, 3]


def test_every_family_gets_its_floor_then_tpe_exploits_the_best():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The first rnn and gru trials look hopeless (a noisy start); lstm is good throughout.
    seen = Counter()

    def objective(trial: optuna.Trial) -> float:
        family = trial.suggest_categorical("model", FAMILIES)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        seen[family] += 1
        base = {"lstm": 0.85, "gru": 0.80 if seen["gru"] > 1 else 0.3, "rnn": 0.3}[family]
        return base - abs(lr - 3e-3)

    study = optuna.create_study(direction="maximize", sampler=make_sampler(24, FAMILIES, 0))
    study.optimize(objective, n_trials=24)
    counts = Counter(t.params["model"] for t in study.trials)
    assert min(counts.values()) >= 3, counts  # gru recovers only because it was kept alive
    assert counts["lstm"] > counts["rnn"], counts
    assert study.best_params["model"] in ("lstm", "gru")


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_floor_overrides_a_sampler_that_would_never_try_a_family():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    only_lstm = optuna.samplers.PartialFixedSampler({"model": "lstm"}, optuna.samplers.TPESampler())
    study = optuna.create_study(sampler=FamilyFloorSampler(only_lstm, FAMILIES, 2))
    study.optimize(lambda t: len(t.suggest_categorical("model", FAMILIES)), n_trials=10)
    families = [t.params["model"] for t in study.trials]
    assert Counter(families[:6]) == {"rnn": 2, "lstm": 2, "gru": 2}
    assert families[6:] == ["lstm"] * 4

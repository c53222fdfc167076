"""TPE over a bounded history: the same asks as full-history TPE below the bound, and above it a
view that keeps the running trials, the best complete ones and the newest finished ones."""

from __future__ import annotations

import math
import random

import optuna
import pytest
from optuna.samplers import TPESampler
from optuna.trial import TrialState

from tune.sweep.tpe_history import (
    BEST_KEPT,
    History,
    RecentHistorySampler,
    RecentStudy,
    recent_history,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    model = trial.suggest_categorical("model", ["rnn", "lstm", "gru"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    return (
        {"rnn": 0.8, "lstm": 0.9, "gru": 0.88}[model]
        - abs(math.log10(lr / 3e-3)) / 10
        - (dropout - 0.2) ** 2
    )


def tpe(seed: int) -> TPESampler:
    return TPESampler(seed=seed, n_startup_trials=5, multivariate=True, constant_liar=True)


def test_below_the_bound_the_asks_are_full_history_tpes_and_above_it_they_part():
    full = optuna.create_study(direction="maximize", sampler=tpe(3))
    bounded = optuna.create_study(
        direction="maximize", sampler=RecentHistorySampler(tpe(3), keep=40)
    )
    for study in (full, bounded):
        study.optimize(objective, n_trials=40 + BEST_KEPT + 30)
    same = 40 + BEST_KEPT + 1  # the next ask is the first to see one finished trial too many
    assert [t.params for t in bounded.trials[:same]] == [t.params for t in full.trials[:same]]
    assert [t.params for t in bounded.trials[same:]] != [t.params for t in full.trials[same:]]


def test_with_trials_running_the_asks_below_the_bound_are_full_history_tpes():
    """Asks and tells interleaved, eight trials running, as in a sweep: the bounded view reads
    the study once per ask (Optuna's per-ask cache), full-history TPE at every call."""
    space = {
        "model": optuna.distributions.CategoricalDistribution(["rnn", "lstm", "gru"]),
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
        "dropout": optuna.distributions.FloatDistribution(0.0, 0.5),
    }
    asked = []
    for sampler in (tpe(5), RecentHistorySampler(tpe(5), keep=200)):
        study = optuna.create_study(direction="maximize", sampler=sampler)
        rng, running, params = random.Random(0), [], []
        for _ in range(120):
            running.append(study.ask(space))
            params.append(running[-1].params)
            if len(running) > 8:
                done = running.pop(rng.randrange(len(running)))
                study.tell(done, -abs(math.log10(done.params["lr"] / 3e-3)) + rng.random() / 10)
        asked.append(params)
    assert asked[0] == asked[1]


def make_study(n_finished: int, n_running: int, direction: str) -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for i in range(n_finished):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        if i % 7 == 3:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, (i * 37) % 301)  # distinct, out of order: the best are scattered
    for _ in range(n_running):
        study.ask()
    return study


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_above_the_bound_tpe_sees_the_running_the_best_and_the_newest(direction):
    study = make_study(300, 4, direction)
    seen = RecentStudy(study, History(study.direction, 50)).get_trials(deepcopy=False)
    finished = [t for t in study.trials if t.state.is_finished()]
    complete = sorted(
        (t for t in finished if t.state == TrialState.COMPLETE),
        key=lambda t: t.value,
        reverse=direction == "maximize",
    )
    expected = {t.number for t in finished[-50:]} | {t.number for t in complete[:BEST_KEPT]}
    expected |= {t.number for t in study.trials if t.state == TrialState.RUNNING}
    assert {t.number for t in seen} == expected
    assert len(seen) < 50 + BEST_KEPT + 4  # some of the best are also among the newest
    assert [t.number for t in seen] == sorted(t.number for t in seen)
    states = (TrialState.COMPLETE,)
    view = RecentStudy(study, History(study.direction, 50))
    only_complete = view._get_trials(deepcopy=False, states=states)
    assert {t.state for t in only_complete} == {TrialState.COMPLETE}
    assert len(only_complete) < len(study.get_trials(states=states))


def test_a_sweep_longer_than_the_bound_still_converges_on_the_best():
    study = optuna.create_study(direction="maximize", sampler=RecentHistorySampler(tpe(0), keep=30))
    study.optimize(objective, n_trials=120)
    assert study.best_params["model"] == "lstm"
    assert study.best_value > 0.85
    late = [t.params["model"] for t in study.trials[-30:]]
    assert late.count("lstm") > late.count("rnn")


def test_a_study_with_two_objectives_is_shown_whole():
    study = optuna.create_study(directions=["maximize", "minimize"])
    for i in range(120):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        study.tell(trial, [i % 13, i % 7])
    sampler = RecentHistorySampler(TPESampler(seed=0), keep=10)
    assert sampler._view(study) is study


def test_the_history_kept_from_the_changed_trials_is_the_one_read_from_all():
    # Trials end out of order, as concurrent ones do; the history is asked after each change.
    rng = random.Random(0)
    study = optuna.create_study(direction="maximize")
    history = History(study.direction, keep=20)
    running = []
    for _ in range(200):
        running.append(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
        if len(running) > 8:
            trial = running.pop(rng.randrange(len(running)))
            if rng.random() < 0.1:
                study.tell(trial, state=rng.choice([TrialState.PRUNED, TrialState.FAIL]))
            else:
                study.tell(trial, rng.random())
        trials = study.get_trials(deepcopy=False)
        kept = history.kept(trials)
        expected = recent_history(trials, study.direction, 20)
        assert (kept is None) == (expected == trials)
        if kept is not None:
            assert [trials[n] for n in kept] == expected

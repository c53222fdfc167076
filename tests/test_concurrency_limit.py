"""`--max-concurrent` is kept by the searcher, from the study's RUNNING trials: a trial that
`--resume` marks ended (its Optuna trial told from trials.jsonl) frees its place, where Ray's
ConcurrencyLimiter kept it live forever and the resumed sweep stalled."""

from __future__ import annotations

import time

import optuna
from optuna.distributions import FloatDistribution
from ray.tune.search import ConcurrencyLimiter

from tune.sweep.optuna_search import WholeCurveOptunaSearch
from tune.sweep.optuna_study import open_storage


def limited_searcher(
    max_concurrent: int, storage=None
) -> tuple[ConcurrencyLimiter, WholeCurveOptunaSearch]:
    search = WholeCurveOptunaSearch(
        space={"lr": FloatDistribution(1e-4, 1e-2, log=True)},
        metric="val_acc",
        mode="max",
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="limit",
        storage=storage,
    )
    return ConcurrencyLimiter(search, max_concurrent=max_concurrent), search


def test_at_most_max_concurrent_trials_are_suggested_until_one_completes():
    limiter, search = limited_searcher(2)
    assert limiter.suggest("a") and limiter.suggest("b")
    assert limiter.suggest("c") is None
    limiter.on_trial_complete("a", {"val_acc": 0.5, "training_iteration": 1})
    assert limiter.suggest("c")
    assert limiter.suggest("d") is None


def test_a_trial_told_ended_outside_the_searcher_frees_its_place():
    limiter, search = limited_searcher(2)
    search.recheck_s = 0.0  # the study read at every ask (the next test has the period)
    limiter.suggest("a")
    limiter.suggest("b")
    # What reconcile does for a trial that ended after Ray's last snapshot: the study is told,
    # and Ray restores the trial as ended without telling the searcher.
    study = search._ot_study
    study.tell(search._ot_trials["a"].number, 0.5)
    assert limiter.suggest("c")
    assert len(study.get_trials(states=(optuna.trial.TrialState.RUNNING,))) == 2


def test_without_a_limit_every_ask_is_answered():
    search = limited_searcher(2)[1]
    search.max_concurrent = 0
    assert all(search.suggest(t) for t in "abcde")


def test_at_the_limit_a_place_freed_elsewhere_is_seen_within_the_recheck_period():
    limiter, search = limited_searcher(2)
    search.recheck_s = 0.2
    limiter.suggest("a")
    limiter.suggest("b")
    assert limiter.suggest("c") is None
    search._ot_study.tell(search._ot_trials["a"].number, 0.5)  # not through the searcher
    assert limiter.suggest("c") is None  # Ray asks every step: the study is not read each time
    time.sleep(0.3)
    assert limiter.suggest("c")


def test_a_resumed_searcher_reads_the_study_at_once(tmp_path):
    storage = open_storage(str(tmp_path / "optuna.journal"))
    limiter, search = limited_searcher(2, storage)
    search.recheck_s = 3600.0
    limiter.suggest("a")
    limiter.suggest("b")
    assert limiter.suggest("c") is None
    search.save(str(tmp_path / "searcher.pkl"))  # Ray's snapshot, taken at the limit
    search._ot_study.tell(search._ot_trials["a"].number, 0.5)  # reconcile, before the resume
    resumed = limited_searcher(2, storage)[1]
    resumed.restore(str(tmp_path / "searcher.pkl"))
    assert resumed.suggest("c")

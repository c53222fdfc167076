"""Ray's OptunaSearch, made to leave each trial's whole learning curve in the Optuna study, and
the sampler it asks: TPE sized to the budget, with a floor of trials per model family."""

from __future__ import annotations

import time
import warnings
from typing import Any

from optuna import Study
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from tune.sweep.budget import Budget
from tune.sweep.reconcile import RAY_TRIAL_ATTR
from tune.sweep.tpe_history import RecentHistorySampler
from tune.sweep.wrapped_sampler import WrappedSampler


class WholeCurveOptunaSearch(OptunaSearch):
    """Ray gives Optuna every epoch's val_acc as an intermediate value except a trial's last one,
    which it only passes to `tell`. Reporting that one too gives optuna-dashboard (and anyone
    reading `optuna.db`) every epoch of every trial, ASHA-stopped ones included.

    With several objectives Optuna keeps no intermediate values, and a trial that ended without
    all of them (its loss went NaN before latency_ms was measured) is told as failed: Ray would
    tell a list holding None, which Optuna refuses, leaving the trial RUNNING in the study.
    """

    max_concurrent = 0  # no limit; also for searchers pickled before it existed
    recheck_s = 1.0
    _running_n: int | None = None  # the study's RUNNING trials, as last counted and kept since
    _counted_until = 0.0  # when to count them again from the study (time.monotonic())

    def __init__(self, *args, budget: Budget | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Limit the trials at once here, by the study's RUNNING trials, in place of Ray's
        ConcurrencyLimiter (True tells it to pass through). Its list of live trials is pickled in
        Ray's state, and a trial that `--resume` marks ended (tune/sweep/reconcile.py) never
        leaves it: two such trials stalled a `--max-concurrent 2` sweep for good. The study is
        what reconcile brings up to date."""
        self.max_concurrent = max_concurrent
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        """Ray's suggestion, with the Ray trial id stored on the Optuna trial: after a killed
        driver, `--resume` matches the study's trials with Ray's (tune/sweep/reconcile.py).
        With a time budget, none once a new trial could not reach its first rung in time."""
        new = trial_id not in self._ot_trials
        budget = getattr(self, "budget", None)  # a searcher pickled before budgets had none
        if new and budget is not None and not budget.can_start():
            return Searcher.FINISHED
        if new and self.max_concurrent and self._at_limit():
            return None  # Ray asks again later
        params = super().suggest(trial_id)
        if new and trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr(RAY_TRIAL_ATTR, trial_id)
            if self._running_n is not None:
                self._running_n += 1
        return params

    def _at_limit(self) -> bool:
        """Whether the study has `max_concurrent` trials running. Ray asks at every step of its
        loop (dozens a second) and a count reads every trial of the study (3 ms at 5,000), so
        the count is kept up to date by this searcher's own asks and tells and read again from
        the study once a `recheck_s` (a trial told ended elsewhere)."""
        now = time.monotonic()
        if self._running_n is None or now >= self._counted_until:
            self._running_n, self._counted_until = self._running(), now + self.recheck_s
        return self._running_n >= self.max_concurrent

    def _running(self) -> int:
        if self._ot_study is None:
            return 0
        return len(self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self._running_n = None  # `--resume` counts from the study, which reconcile has updated

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        ours = trial_id in self._ot_trials and trial_id not in self._completed_trials
        if ours and self._running_n:
            self._running_n -= 1
        if isinstance(self.metric, list):
            complete = result and all(result.get(m) is not None for m in self.metric)
            return super().on_trial_complete(
                trial_id, result if complete else None, error or not complete
            )
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


MAX_STARTUP_TRIALS = 10  # Optuna's default, reached from 40 trials up
FAMILY_FLOOR = 3


def startup_trials(num_samples: int, families: int) -> int:
    """Random trials before TPE models anything: a quarter of the budget, at least one per family,
    at most Optuna's 10 (its default would make a 12- or 24-trial sweep mostly random search)."""
    return min(MAX_STARTUP_TRIALS, max(families, num_samples // 4))


def family_floor(num_samples: int, families: int) -> int:
    """Trials each family gets before TPE may drop it: up to 3, at most half the budget in all."""
    return max(1, min(FAMILY_FLOOR, num_samples // (2 * max(families, 1))))


class FamilyFloorSampler(WrappedSampler):
    """A sampler that gives every model family `floor` trials before the wrapped sampler (TPE)
    chooses families by itself: a family that happens to start badly on a noisy first trial is
    not starved. Other parameters are always the wrapped sampler's."""

    def __init__(self, base: BaseSampler, families: list[str], floor: int, key: str = "model"):
        super().__init__(base)
        self.families, self.floor, self.key = list(families), floor, key
        self.floor_met = False

    def _starved(self, study: Study) -> str | None:
        """The family furthest below the floor, if any. Trials are never removed, so once every
        family reaches it the study is not read again (each read costs a query per ask)."""
        if getattr(self, "floor_met", False):  # a sampler pickled before had no flag
            return None
        counts = dict.fromkeys(self.families, 0)
        for t in study.get_trials(deepcopy=False):  # failed trials count: the family had its go
            family = t.params.get(self.key, t.system_attrs.get("fixed_params", {}).get(self.key))
            if family in counts:
                counts[family] += 1
        family = min(self.families, key=lambda f: counts[f])
        self.floor_met = counts[family] >= self.floor
        return None if self.floor_met else family

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space) -> dict[str, Any]:
        values = self.base.sample_relative(study, trial, search_space)
        if self.key in values and self._starved(study) is not None:
            values = {k: v for k, v in values.items() if k != self.key}
        return values

    def sample_independent(self, study: Study, trial: FrozenTrial, name: str, distribution):
        if name == self.key:
            family = self._starved(study)
            if family is not None and family in getattr(distribution, "choices", ()):
                return family
        return self.base.sample_independent(study, trial, name, distribution)


def make_sampler(
    num_samples: int, families: list[str], seed: int, grouped: bool = False
) -> BaseSampler:
    """Multivariate TPE (parameters modelled jointly) with constant liar (running trials count as
    bad, so concurrent trials spread out), its start-up sized to the budget, and a floor of trials
    per family when the space has several. `grouped` for a conditional space: TPE models each
    set of parameters that occur together jointly (Optuna's `group=True`), so a parameter is
    modelled only from the trials it applied to. TPE models the newest trials and the best, not
    the whole study (tune/sweep/tpe_history.py), so an ask stays cheap over thousands of trials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # group=True, stable since Optuna 2.8
        tpe = TPESampler(
            seed=seed,
            n_startup_trials=startup_trials(num_samples, len(families)),
            multivariate=True,
            group=grouped,
            constant_liar=True,
        )
    bounded = RecentHistorySampler(tpe)
    if len(families) < 2:
        return bounded
    return FamilyFloorSampler(bounded, families, family_floor(num_samples, len(families)))

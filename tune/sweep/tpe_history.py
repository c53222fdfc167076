"""TPE over a bounded history, so that an ask costs the same at trial 5,000 as at trial 300.

Multivariate TPE reads every trial on every ask: it splits the finished trials into a good group
(the best `min(ceil(n / 10), 25)`) and the rest, and fits a density to each. Its ask therefore
grows with the study. TPE already weighs the rest by age (Optuna's `default_weights`: the oldest
trials count least), so the history it is shown here is what it weighs most: every running
trial (the constant liar's), the best `BEST_KEPT` complete trials (its whole good group, unchanged
from the full history once there are 250 trials) and the newest `keep` finished trials.
Under `keep + BEST_KEPT` finished trials nothing is cut: a sweep of that size asks exactly what
full-history TPE asks. Studies with several objectives are not cut (their good group is a Pareto
ranking, not a top-25).
"""

from __future__ import annotations

import copy
import heapq
from typing import Any

from optuna import Study
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tune.sweep.wrapped_sampler import WrappedSampler

KEEP_NEWEST = 250
BEST_KEPT = 25  # TPE's good group at its largest (optuna.samplers._tpe.sampler.default_gamma)


def recent_history(
    trials: list[FrozenTrial], direction: StudyDirection, keep: int = KEEP_NEWEST
) -> list[FrozenTrial]:
    """`trials` (any states) less the finished ones that are neither among the newest `keep` nor
    the best `BEST_KEPT` complete ones; order kept. Reads every trial: `History` gives the same
    answer (ties in value aside) from a pass over the trials that changed."""
    finished = [t for t in trials if t.state.is_finished()]
    if len(finished) <= keep + BEST_KEPT:
        return trials
    newest = sorted(finished, key=lambda t: t.number)[-keep:]
    complete = [t for t in finished if t.state == TrialState.COMPLETE and t.value is not None]
    pick = heapq.nlargest if direction == StudyDirection.MAXIMIZE else heapq.nsmallest
    best = pick(BEST_KEPT, complete, key=lambda t: t.value)
    kept = {t.number for t in newest} | {t.number for t in best}
    return [t for t in trials if not t.state.is_finished() or t.number in kept]


class History:
    """`recent_history`'s choice, kept up to date from one study's whole trial list (trial n at
    index n, as Optuna numbers them) by reading only the trials that are new or were unfinished:
    its cost per ask is the bound's, not the study's."""

    def __init__(self, direction: StudyDirection, keep: int = KEEP_NEWEST):
        self.sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
        self.keep = keep
        self.seen = 0  # trials 0..seen-1 read at least once
        self.unfinished: set[int] = set()
        self.best: list[tuple[float, int]] = []  # a min-heap of (sign * value, number)

    def kept(self, trials: list[FrozenTrial]) -> list[int] | None:
        """The numbers of the trials to show, in order; None when nothing is cut."""
        for n in [*self.unfinished, *range(self.seen, len(trials))]:
            t = trials[n]
            if not t.state.is_finished():
                self.unfinished.add(n)
                continue
            self.unfinished.discard(n)
            if t.state == TrialState.COMPLETE and t.value is not None:
                heapq.heappush(self.best, (self.sign * t.value, n))
                if len(self.best) > BEST_KEPT:
                    heapq.heappop(self.best)
        self.seen = len(trials)
        if self.seen - len(self.unfinished) <= self.keep + BEST_KEPT:
            return None
        newest, n = [], self.seen - 1
        while len(newest) < self.keep:
            if n not in self.unfinished:
                newest.append(n)
            n -= 1
        return sorted(self.unfinished.union(newest, (number for _, number in self.best)))


class RecentStudy:
    """The study as the wrapped sampler sees it: its trial lists cut to a `History`'s choice;
    every other attribute (storage, directions, ids) is the study's own."""

    def __init__(self, study: Study, history: History):
        self._study, self._history = study, history

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states=None, use_cache: bool = False):
        # Optuna's cache holds the study's trials for one ask. TPE with the constant liar skips
        # it (for other threads' asks), and reading every trial cost 3 ms a time at 5,000: the
        # driver asks from one thread, so one read per ask serves all of TPE's.
        trials = self._study._get_trials(deepcopy=False, use_cache=True)
        if trials and trials[-1].number == len(trials) - 1:  # numbered 0..n-1, as Optuna does
            kept = self._history.kept(trials)
            if kept is not None:
                trials = [trials[n] for n in kept]
        else:
            trials = recent_history(trials, self._study.direction, self._history.keep)
        trials = trials if states is None else [t for t in trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trials(self, deepcopy: bool = True, states=None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


class RecentHistorySampler(WrappedSampler):
    """Wraps a sampler (TPE) so that it models `RecentStudy`'s trials, not the whole study."""

    def __init__(self, base: BaseSampler, keep: int = KEEP_NEWEST):
        super().__init__(base)
        self.keep = keep
        self.histories: dict[int, History] = {}  # by study id

    def _view(self, study: Study) -> Study | RecentStudy:
        if study._is_multi_objective():
            return study
        history = self.histories.get(study._study_id)
        if history is None:
            history = self.histories[study._study_id] = History(study.direction, self.keep)
        return RecentStudy(study, history)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial):
        return self.base.infer_relative_search_space(self._view(study), trial)

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space) -> dict[str, Any]:
        return self.base.sample_relative(self._view(study), trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, name: str, distribution):
        return self.base.sample_independent(self._view(study), trial, name, distribution)

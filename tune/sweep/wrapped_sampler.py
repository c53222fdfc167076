"""A sampler that wraps another and changes part of what it does: the rest passes through."""

from __future__ import annotations

from typing import Any

from optuna import Study
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial


class WrappedSampler(BaseSampler):
    """Passes every call to `base`; a subclass overrides the ones it changes."""

    def __init__(self, base: BaseSampler):
        self.base = base

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial):
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space) -> dict[str, Any]:
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, name: str, distribution):
        return self.base.sample_independent(study, trial, name, distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state, values) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

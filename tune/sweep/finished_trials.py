"""What Ray keeps of a trial once it has ended: its running statistics' windows dropped.

Ray keeps every trial in the driver's memory for the whole run, and for each numeric result a
trial reports it keeps a window of the last 5 and of the last 10 values (`collections.deque`s,
about 1.6 KB per result key; 17 KB per trial of the load generator in
benchmarks/driver_scale.py, a quarter of the driver's growth per trial, docs/benchmarks.md). They
exist to update the last-5 and last-10 averages when the next result comes; an ended trial
reports no more, and its averages stay in Ray's `metric_analysis`. Ray's snapshot of the trial
is rewritten once without them.
"""

from __future__ import annotations

from ray.tune import Callback


class DropEndedTrialWindows(Callback):
    """On a trial's completion, its per-result windows go (Ray's `metric_n_steps`, one private
    field of its run metadata, Ray 2.x); its statistics stay. Errored trials keep theirs: Ray
    may still retry them."""

    def on_trial_complete(self, iteration, trials, trial, **info):
        metadata = getattr(trial, "run_metadata", None)
        if metadata is not None and getattr(metadata, "metric_n_steps", None):
            metadata.metric_n_steps = {}  # Ray's setattr drops its cached JSON of the trial too

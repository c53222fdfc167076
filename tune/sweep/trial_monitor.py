"""What a running trial shows in the Ray dashboard: its actor's name, one log line per epoch and
its metrics.

Ray lists every function trial as an anonymous `ImplicitFunc` actor (ray#32903). The dashboard's
Actors view shows an actor's `__repr__`, which Ray reads once, when the actor starts; so each
trial runs in its own actor whose repr names the sweep, trial and family. With `--reuse-actors`
an actor runs trial after trial (saving each trial's process start: Ray's worker and the
imports, 5-6 CPU-s on two busy cores, `startup_cpu_s`), so its repr names only the sweep; the
epoch lines name each trial. The epoch lines go to the trial worker's own log (the dashboard's
Logs page and the actor's log link), not to the driver's terminal. The metrics
(`ray.util.metrics`) reach Ray's Metrics page and any Prometheus that scrapes the nodes' metrics
endpoints (names prefixed `ray_`).
"""

from __future__ import annotations

from functools import cache

from ray.util.metrics import Gauge

TAG_KEYS = ("sweep", "trial", "family")
METRICS = {
    "rnn_tune_epoch": "epochs a trial has finished",
    "rnn_tune_val_acc": "a trial's validation accuracy after its latest epoch",
    "rnn_tune_train_loss": "a trial's mean training loss over its latest epoch",
    "rnn_tune_train_samples_per_s": "a trial's training throughput over its latest epoch",
}


def trial_label(sweep: str, trial_id: str, family: str) -> str:
    """The one name of a trial in the dashboard (actor repr) and in its log lines."""
    return f"{sweep} trial {trial_id} {family}"


def shared_actor_label(sweep: str) -> str:
    """The repr of an actor that runs trial after trial (`reuse_actors`)."""
    return f"{sweep} trials (actor reused: its log names each trial)"


def named_trial_actor(trainable: type, sweep: str, default_family: str, reused: bool) -> type:
    """The trial's actor class, named after its trial in the dashboard's Actors view (after the
    sweep when the actor is reused: Ray reads the repr once, at the first trial)."""

    class RNNTuneTrial(trainable):
        def __repr__(self) -> str:
            if reused:
                return shared_actor_label(sweep)
            return trial_label(sweep, self.trial_id, self.config.get("model", default_family))

    RNNTuneTrial.__qualname__ = "RNNTuneTrial"
    return RNNTuneTrial


@cache
def _gauges() -> dict[str, Gauge]:
    return {
        name: Gauge(name, description=text, tag_keys=TAG_KEYS) for name, text in METRICS.items()
    }


class TrialMonitor:
    """Per-epoch log line and metrics of one trial."""

    def __init__(self, sweep: str, trial_id: str, family: str, epochs: int):
        self.label, self.epochs = trial_label(sweep, trial_id, family), epochs
        self.tags = {"sweep": sweep, "trial": trial_id, "family": family}

    def epoch(self, epoch: int, val_acc: float, train_loss: float, samples_per_s: float) -> None:
        values = {
            "rnn_tune_epoch": epoch,
            "rnn_tune_val_acc": val_acc,
            "rnn_tune_train_loss": train_loss,
            "rnn_tune_train_samples_per_s": samples_per_s,
        }
        for name, value in values.items():
            _gauges()[name].set(float(value), tags=self.tags)
        print(
            f"[{self.label}] epoch {epoch}/{self.epochs} val_acc {val_acc:.4f} "
            f"train_loss {train_loss:.4f} {samples_per_s:,.0f} samples/s",
            flush=True,
        )

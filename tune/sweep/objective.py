"""What a sweep's Optuna study optimizes (`--objective`): the metrics it is told and their
directions. ASHA stops trials on val_acc whatever the objective."""

from __future__ import annotations

from typing import Any

OBJECTIVE_METRICS = {  # --objective -> (Optuna's values, their directions)
    "accuracy": (["val_acc"], ["max"]),
    "accuracy,latency": (["val_acc", "latency_ms"], ["max", "min"]),
}


def objective_metrics(objective: str) -> tuple[str | list[str], str | list[str]]:
    """(metric, mode) for OptunaSearch: one name for one objective, lists for several."""
    metrics, modes = OBJECTIVE_METRICS[objective]
    return (metrics[0], modes[0]) if len(metrics) == 1 else (metrics, modes)


def directions(objective: str) -> list[str]:
    """The study's directions, in Optuna's words."""
    return [{"max": "maximize", "min": "minimize"}[m] for m in OBJECTIVE_METRICS[objective][1]]


def measures_latency(objective: str) -> bool:
    """Whether trials must measure latency_ms for the study."""
    return "latency_ms" in OBJECTIVE_METRICS[objective][0]


def objective_values(objective: str, result: dict[str, Any]) -> float | list[float] | None:
    """What Optuna is told for a trial whose last result is `result`; None if one is missing."""
    values = [result.get(m) for m in OBJECTIVE_METRICS[objective][0]]
    if any(v is None for v in values):
        return None
    return values[0] if len(values) == 1 else values

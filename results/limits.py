"""A finished run's final model chosen again under a user's limits (`rnn-tune report RUN_DIR
--max-latency-ms X --max-size-mb Y`), from summary.json alone: no model is trained or loaded.

The rule is the sweep's own under limits (base/run_dir.choose_within_limits): the lowest
validation log loss among the options whose measured cost is within them, else the cheapest.
"""

from __future__ import annotations

import copy
from typing import Any

from base.run_dir import choose_within_limits
from results.load import ReportError


def rechoose(
    summary: dict[str, Any], max_latency_ms: float | None, max_size_mb: float | None
) -> dict[str, Any]:
    """A copy of `summary` whose `final` is the option chosen under the limits. The baselines'
    paired tests were made against the sweep's final model: where the choice moved they are
    dropped (the headline then compares accuracies without them)."""
    final = (summary or {}).get("final")
    if not final or not final.get("options"):
        raise ReportError("the run has no final-model options to choose among under limits")
    found = final["options"]
    if not all(o.get("cost") and isinstance(o.get("members"), list) for o in found):
        raise ReportError(
            "the run's options carry no measured serving cost (made before costs were "
            "measured); rerun the sweep to choose under limits"
        )
    index, how, limited = choose_within_limits(found, max_latency_ms, max_size_mb)
    chosen = found[index]
    out = copy.deepcopy(summary)
    moved = not chosen.get("chosen")
    out["final"] = {
        **out["final"],
        "kind": chosen["kind"],
        "members": chosen["members"],
        "val_acc": chosen["val_acc"],
        "val_loss": chosen["val_loss"],
        "test_acc": chosen["test_acc"],
        "cost": chosen["cost"],
        "chosen_by": how + " (chosen again by rnn-tune report)",
        "options": [{**o, "chosen": i == index} for i, o in enumerate(found)],
        "limits": limited,
    }
    if moved:
        for baseline in out.get("baselines", {}).values():
            baseline.pop("vs_final", None)
    return out

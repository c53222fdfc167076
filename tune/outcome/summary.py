"""summary.json: what a sweep found (counts, best overall, best per family, ensemble, baselines);
its keys are the contract in base/run_dir.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from base.files import atomic_write_text
from base.run_dir import BEST_KEYS, SUMMARY_FILE, SUMMARY_KEYS


def write_summary(
    run_dir: Path,
    rows: list[dict[str, Any]],
    best_by_family: dict[str, dict[str, Any]],
    optuna_storage: str,
    optuna_study: str,
    wall_s: float,
    baselines: dict[str, dict[str, Any]] | None = None,
    ensemble: dict[str, Any] | None = None,
    final: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
    warm_start: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`baselines`: name -> {val_acc, test_acc, n_test, vs_final, ...} of the simple models fitted
    on the same splits (tune/outcome/baseline.py), beside the tuned ones; `ensemble`: the top
    trials' averaged probabilities (tune/outcome/ensemble.py: k, members, val_acc, test_acc), or
    None; `final`: the model to ship (tune/outcome/final.py), or None."""
    counts = {
        status: sum(r["status"] == status for r in rows)
        for status in ("completed", "stopped_early", "errored")
    }
    by_family = {family: {k: row[k] for k in BEST_KEYS} for family, row in best_by_family.items()}
    best = max(by_family.values(), key=lambda r: r["val_acc"], default=None)
    summary = {
        "trials": len(rows),
        **counts,
        "best": best,
        "by_family": by_family,
        "test_confusion": {
            family: {"class_names": row["class_names"], "matrix": row["test_confusion"]}
            for family, row in best_by_family.items()
        },
        "baselines": baselines or {},
        "ensemble": ensemble,
        "final": final,
        "errors": {r["trial_id"]: r["error"] for r in rows if r["error"]},
        "optuna_storage": optuna_storage,
        "optuna_study": optuna_study,
        "budget": budget,
        "warm_start": warm_start,
        "wall_s": wall_s,
    }
    assert tuple(summary) == SUMMARY_KEYS, "summary.json's keys are base/run_dir.SUMMARY_KEYS"
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))
    return summary

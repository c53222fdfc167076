"""The end phase: from a finished sweep's trial records to what summary.json says of them.

Each family's best checkpoint is exported and scored on test, the top trials are averaged, the
final model is chosen (tune/outcome/final.py), and the baseline is paired with it. No Ray here:
the driver hands over plain records whose `checkpoint` is a local folder (or None), so these
steps run and are tested without a Ray runtime.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.run_dir import BEST_DIR
from data.prepare import PreparedData
from results.stats import accuracy, correct
from tune.outcome.baseline import paired_with_final
from tune.outcome.ensemble import Candidate, Scores, build_ensemble
from tune.outcome.final import Pool, final_model
from tune.outcome.serving import LATENCY_REQUESTS, THROUGHPUT_BATCH, CostMeter, split_texts
from tune.train.checkpoint import export_checkpoint


@dataclass
class EndPhase:
    """What the end phase found; `spent`: the trials whose checkpoints the run no longer needs
    (copied to RUN_DIR/best/ or outranked), to delete once summary.json is written."""

    best_by_family: dict[str, dict[str, Any]]
    ensemble: dict[str, Any] | None
    final: dict[str, Any] | None
    baseline: dict[str, Any]
    warm_start: dict[str, Any] | None
    spent: set[str] = field(default_factory=set)


def finish(
    rows: list[dict[str, Any]],
    data: PreparedData,
    run_dir: Path,
    baseline: Callable[[], dict[str, Any]],
    ensemble_candidates: int,
    family_kept: set[str],
    keep_sources: bool,
    warm_start: dict[str, Any] | None = None,
    limits: tuple[float | None, float | None] = (None, None),
) -> EndPhase:
    """`rows`: one record per trial (trial_id, family, config, val_acc, checkpoint folder or
    None), as tune/sweep/tuner.trial_record makes them. `baseline()` gives the linear model's
    record (it may still be fitting: the warm start's checkpoints are scored first).
    `family_kept`: the trials the family rule keeps; `keep_sources`: keep every source
    checkpoint (cloud storage, where the bucket's copy may outlive the local run directory).
    `warm_start`: {source, points, skipped, known_trials} when the run started from another.
    `limits`: (max latency ms, max size MB) on the final model (tune/outcome/final.py).
    Every option and each family's best is measured for serving on validation texts."""
    scores = Scores(data)
    texts = split_texts(data.val, data.vocab, max(LATENCY_REQUESTS, THROUGHPUT_BATCH))
    meter = CostMeter(texts, scores.in_memory)
    started_from = _started_from(rows, warm_start, scores)
    linear = baseline()
    end = EndPhase({}, None, None, linear, started_from)
    end.ensemble, end.final = _ensemble_and_final(
        rows, scores, run_dir, ensemble_candidates, linear, meter, limits
    )
    if not keep_sources:
        end.spent |= {
            r["trial_id"] for r in rows if r["checkpoint"] and r["trial_id"] not in family_kept
        }
    kept = [r for r in rows if r["trial_id"] not in end.spent]
    end.best_by_family = _score_best(kept, scores, run_dir, meter)
    if not keep_sources:
        end.spent |= {row["trial_id"] for row in end.best_by_family.values()}
    _pair_with_final(linear, end.final)
    return end


def best_by_family(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each family's row with the highest val_acc among those with a checkpoint (the first on a
    tie)."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["checkpoint"] and row["val_acc"] is not None:
            current = best.get(row["family"])
            if current is None or row["val_acc"] > current["val_acc"]:
                best[row["family"]] = row
    return best


def _candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(row["trial_id"], row["family"], row["val_acc"], Path(row["checkpoint"]))


def _started_from(
    rows: list[dict[str, Any]], warm_start: dict[str, Any] | None, scores: Scores
) -> dict[str, Any] | None:
    """summary.json's `warm_start`: each configuration taken from the source run, its score
    there beside this run's trial of it (validation, and test where its checkpoint is kept)."""
    if not warm_start:
        return None
    points = []
    for point in warm_start["points"]:
        row = next(
            (r for r in rows if all(r["config"].get(k) == v for k, v in point["config"].items())),
            None,
        )
        test_acc = None
        if row and row["checkpoint"] and row["val_acc"] is not None:
            test_acc = accuracy(scores.test(_candidate(row)), scores.data.test.labels)
        points.append(
            {
                "source_trial": point["trial_id"],
                "source_val_acc": point["val_acc"],
                "trial_id": row["trial_id"] if row else None,
                "val_acc": row["val_acc"] if row else None,
                "test_acc": test_acc,
            }
        )
    return {**warm_start, "points": points}


def _ensemble_and_final(
    rows: list[dict[str, Any]],
    scores: Scores,
    run_dir: Path,
    ensemble_candidates: int,
    baseline: dict[str, Any],
    meter: CostMeter,
    limits: tuple[float | None, float | None],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The top trials' ensemble (tune/outcome/ensemble.py) and the final model chosen among the
    trials, the ensemble and the linear model (tune/outcome/final.py); members are exported to
    RUN_DIR/ensemble/."""
    ranked = sorted(
        (r for r in rows if r["checkpoint"] and r["val_acc"] is not None),
        key=lambda r: -r["val_acc"],
    )[:ensemble_candidates]
    family_best = [row["trial_id"] for row in best_by_family(rows).values()]
    candidates = [_candidate(r) for r in ranked]
    ensemble = build_ensemble(candidates, scores, run_dir)
    pool = Pool(scores, candidates, baseline if baseline.get("model") else None)
    final = final_model(pool, ensemble, scores.data, run_dir, family_best, meter, limits)
    return ensemble, final


def _score_best(
    rows: list[dict[str, Any]], scores: Scores, run_dir: Path, meter: CostMeter
) -> dict[str, dict[str, Any]]:
    """Copy each family's best checkpoint to RUN_DIR/best/FAMILY/ (standalone), score it on
    test (once: an ensemble member's scores are reused) and measure what it costs to serve."""
    scored, data = {}, scores.data
    for family, row in sorted(best_by_family(rows).items()):
        target = run_dir / BEST_DIR / family
        shutil.rmtree(target, ignore_errors=True)
        path = export_checkpoint(Path(row["checkpoint"]), target, data.vocab)
        candidate = Candidate(row["trial_id"], family, row["val_acc"], path.parent)
        preds = scores.test(candidate).argmax(1)
        right = correct(preds, data.test.labels)
        scored[family] = {
            **row,
            "checkpoint": str(path),
            "test_acc": accuracy(preds, data.test.labels),
            "test_confusion": _confusion(data.test.labels, preds, len(data.class_names)),
            "class_names": list(data.class_names),
            "test_correct": right,  # in the test split's row order
            "cost": meter.cost([{"trial_id": row["trial_id"], "checkpoint": str(path)}]),
        }
    return scored


def _pair_with_final(baseline: dict[str, Any], final: dict[str, Any] | None) -> None:
    """Move the per-row test results out of the records; add to the baseline's record its paired
    tests against the final model (`vs_final`) and against the RNNs alone (`vs_rnn`)."""
    baseline_correct = baseline.pop("test_correct")
    for key in ("val_probs", "test_probs"):
        baseline.pop(key)
    if not final:
        return
    baseline["vs_final"] = paired_with_final(baseline_correct, final.pop("test_correct"))
    rnn_correct = final.pop("rnn_test_correct")
    if rnn_correct is not None:
        baseline["vs_rnn"] = paired_with_final(baseline_correct, rnn_correct)


def _confusion(labels, preds, n: int) -> list[list[int]]:
    matrix = [[0] * n for _ in range(n)]
    for truth, pred in zip(labels.tolist(), preds.tolist()):
        matrix[truth][pred] += 1
    return matrix

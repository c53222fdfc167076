"""The final model: the best classifier the run holds, chosen on validation only.

A sweep holds RNN trials and a linear model (tune/outcome/baseline.py) that are about equally good
and wrong on different rows, which is when a blend gains most (Mesnil et al. 2014). The options,
few so that choosing among them on a validation split of a couple of thousand rows is not a
lottery:

    trial      the best single trial
    ensemble   the top k trials averaged, k on validation (tune/outcome/ensemble.py)
    linear     the run's linear model, calibrated on validation
    blend      w * ensemble + (1 - w) * linear, w on validation
    greedy     Caruana et al. 2004: rounds of adding, with replacement, the ensemble member,
               family best or linear model that most lowers the running average's validation
               log loss (weights are counts), as AutoGluon builds its final models

Every option is a weighted average of base models' class probabilities. The one with the lowest
validation log loss is chosen (a tie goes to the simpler, in the order above); each option is then
scored once on test. Log loss, as for the blend weight and the greedy rounds: accuracy on a couple
of thousand validation rows ties or moves by a few rows between options, and in five measured runs
choosing by it never beat choosing by log loss on test and once shipped the linear model where the
greedy ensemble was significantly better (docs/benchmarks.md, "Which option to ship").

The paired test guards the recommendation: if another model the run holds is significantly better
on test (McNemar p < 0.05), the final model is that one and `chosen_by` says so, since its test
score has then been used to choose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from base.run_dir import ENSEMBLE_DIR, LINEAR_MEMBER, OPTIONS, choose_within_limits
from data.prepare import PreparedData
from results.stats import accuracy, correct, paired_counts
from tune.outcome.ensemble import Candidate, Scores
from tune.outcome.serving import CostMeter
from tune.train.checkpoint import export_checkpoint

BLEND_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
GREEDY_ROUNDS = 25
SIGNIFICANT = 0.05


@dataclass(frozen=True)
class Option:
    """One candidate final model: base model name (a trial id, or LINEAR_MEMBER) -> weight."""

    kind: str
    weights: dict[str, float]
    val_acc: float
    val_loss: float  # validation log loss: what the final model is chosen by
    detail: dict[str, Any]


class Pool:
    """The base models' class probabilities per split, (rows, classes) each: RNN candidates
    through `Scores` (test scored when first asked), the linear model from its fit."""

    def __init__(self, scores: Scores, candidates: list[Candidate], linear: dict[str, Any] | None):
        self.scores, self.linear = scores, linear
        self.candidates = {c.trial_id: c for c in candidates}

    @property
    def names(self) -> list[str]:
        return list(self.candidates) + ([LINEAR_MEMBER] if self.linear else [])

    def val(self, name: str) -> np.ndarray:
        if name == LINEAR_MEMBER:
            return self.linear["val_probs"]
        return self.scores.val(self.candidates[name])

    def test(self, name: str) -> np.ndarray:
        if name == LINEAR_MEMBER:
            return self.linear["test_probs"]
        return self.scores.test(self.candidates[name])


def combine(weights: dict[str, float], probs: Callable[[str], np.ndarray]) -> np.ndarray:
    """The weighted average of the named models' probabilities: (rows, classes)."""
    total = sum(weights.values())
    return sum(w * probs(name) for name, w in weights.items() if w) / total


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def blend_weight(
    rnn: np.ndarray, linear: np.ndarray, labels: np.ndarray
) -> tuple[float, dict[str, float]]:
    """The RNN ensemble's weight w in `w * rnn + (1 - w) * linear` with the lowest validation log
    loss over BLEND_WEIGHTS. Log loss, not accuracy: it is smooth in w, where accuracy moves by a
    handful of validation rows from one w to the next and would pick among them by chance.
    -> (w, validation accuracy by w)."""
    best = min(BLEND_WEIGHTS, key=lambda w: log_loss(w * rnn + (1 - w) * linear, labels))
    by_w = {f"{w:.1f}": accuracy(w * rnn + (1 - w) * linear, labels) for w in BLEND_WEIGHTS}
    return best, by_w


def greedy_weights(
    val: dict[str, np.ndarray], labels: np.ndarray, rounds: int = GREEDY_ROUNDS
) -> dict[str, int]:
    """Caruana et al.'s ensemble selection with replacement: each round adds the model whose
    addition gives the running average the lowest validation log loss (smooth, as in
    `blend_weight`; hill-climbing accuracy on a couple of thousand rows fits their noise).
    -> name -> times chosen."""
    counts: dict[str, int] = {}
    total = np.zeros_like(next(iter(val.values())))
    for n in range(1, rounds + 1):
        pick = min(val, key=lambda m: log_loss((total + val[m]) / n, labels))
        counts[pick] = counts.get(pick, 0) + 1
        total = total + val[pick]
    return counts


def scored(
    kind: str, weights: dict[str, float], pool: Pool, labels: np.ndarray, **detail: Any
) -> Option:
    """An option with its validation accuracy and log loss."""
    probs = combine(weights, pool.val)
    return Option(kind, weights, accuracy(probs, labels), log_loss(probs, labels), detail)


def options(
    pool: Pool,
    ensemble: dict[str, Any] | None,
    labels: np.ndarray,
    family_best: list[str] = (),
) -> list[Option]:
    """The candidate final models, in OPTIONS order (the simpler first), scored on validation.
    `family_best`: each family's best trial id, which greedy selection may take as well."""
    ranked = list(pool.candidates)  # best trial first
    found: list[Option] = []

    def add(kind: str, weights: dict[str, float], **detail: Any) -> None:
        found.append(scored(kind, weights, pool, labels, **detail))

    if ranked:
        add("trial", {ranked[0]: 1.0})
    top = ranked[: ensemble["k"]] if ensemble else []
    if len(top) > 1:
        add("ensemble", {name: 1.0 / len(top) for name in top})
    if pool.linear:
        add("linear", {LINEAR_MEMBER: 1.0})
    if pool.linear and top:
        rnn = combine({name: 1.0 for name in top}, pool.val)
        w, by_w = blend_weight(rnn, pool.val(LINEAR_MEMBER), labels)
        if 0 < w < 1:
            add(
                "blend",
                {**{name: w / len(top) for name in top}, LINEAR_MEMBER: round(1 - w, 1)},
                rnn_weight=w,
                val_acc_by_weight=by_w,
            )
    # Over the models test-scores anyway (the ensemble's members, each family's best, the linear
    # model): every RNN scored on test is seconds at the end of the sweep.
    greedy_pool = [n for n in pool.names if n in top or n in family_best or n == LINEAR_MEMBER]
    if len(greedy_pool) > 1:
        counts = greedy_weights({name: pool.val(name) for name in greedy_pool}, labels)
        if len(counts) > 1:
            add("greedy", {name: float(n) for name, n in counts.items()}, rounds=GREEDY_ROUNDS)
    assert [o.kind for o in found] == [k for k in OPTIONS if k in {o.kind for o in found}]
    return found


def choose(
    found: list[Option], held: list[Option], pool: Pool, test_labels: np.ndarray
) -> tuple[int, str, list[np.ndarray]]:
    """-> (index into found + held of the final model, "validation" or "paired test", each one's
    test rows right). `held`: other models the run holds (each family's best trial), never chosen
    on validation but eligible when the paired test finds one better.

    The option with the lowest validation log loss wins (the first on a tie). If any option or
    held model is significantly better on test than the winner, the best such replaces it.
    """
    every = found + held
    right = [correct(combine(o.weights, pool.test), test_labels) for o in every]
    chosen = min(range(len(found)), key=lambda i: (found[i].val_loss, i))
    how = "validation"
    while True:
        better = [
            i
            for i in range(len(every))
            if right[i].mean() > right[chosen].mean()
            and paired_counts(right[i], right[chosen])[2] < SIGNIFICANT
        ]
        if not better:
            return chosen, how, right
        chosen, how = max(better, key=lambda i: right[i].mean()), "paired test"


def members_of(option: Option, pool: Pool, data: PreparedData, run_dir: Path) -> list[dict]:
    """The option's members as summary.json lists them, RNNs exported to RUN_DIR/ensemble/TRIAL/
    (standalone, vocab inside) so that `rnn-tune predict --option` serves any option."""
    members = []
    for name, weight in option.weights.items():
        if name == LINEAR_MEMBER:
            checkpoint, family = pool.linear["model"], LINEAR_MEMBER
        else:
            candidate = pool.candidates[name]
            target = run_dir / ENSEMBLE_DIR / name
            checkpoint = str(target / "model.pt")
            if not Path(checkpoint).is_file():
                export_checkpoint(candidate.checkpoint, target, data.vocab)
            family = candidate.family
        members.append(
            {"trial_id": name, "family": family, "weight": weight, "checkpoint": checkpoint}
        )
    return members


def final_model(
    pool: Pool,
    ensemble: dict[str, Any] | None,
    data: PreparedData,
    run_dir: Path,
    family_best: list[str] = (),
    meter: CostMeter | None = None,
    limits: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any] | None:
    """summary.json's `final`: the chosen option's members (RNNs exported to RUN_DIR/ensemble/,
    the linear model's file), its scores, every option's members, val/test, measured serving
    cost (`meter`) and paired test against it, and the RNNs alone (the ensemble, else the best
    trial) for the headline's second line. `family_best`: each family's best trial id (those
    among the pool's candidates are held models for the paired guard). `limits`: (max latency
    ms, max size MB): only options within them may be chosen, by validation alone
    (base/run_dir.choose_within_limits, which `rnn-tune report` applies to a finished run).
    `test_correct` and `rnn_test_correct` (bool per test row, popped before writing) are for the
    baseline's paired tests."""
    found = options(pool, ensemble, data.val.labels, family_best)
    if not found:
        return None
    held = [
        scored("trial", {name: 1.0}, pool, data.val.labels)
        for name in family_best
        if name in pool.candidates and name != next(iter(pool.candidates))
    ]
    every = [*found, *held]
    index, how, right = choose(found, held, pool, data.test.labels)
    members = [members_of(o, pool, data, run_dir) for o in every]
    costs = [meter.cost(m) if meter else None for m in members]
    limited = None
    if limits != (None, None):  # by validation alone, as `rnn-tune report` can re-choose
        costed = [{"kind": o.kind, "val_loss": o.val_loss, "cost": c} for o, c in zip(found, costs)]
        index, how, limited = choose_within_limits(costed, *limits)
    final = every[index]
    listed = []
    kinds = [o.kind for o in found]
    rnn = kinds.index("ensemble") if "ensemble" in kinds else 0 if "trial" in kinds else None
    for i, (option, rows_right) in enumerate(zip(found, right[: len(found)])):
        option_only, final_only, p = paired_counts(rows_right, right[index])
        listed.append(
            {
                "kind": option.kind,
                "chosen": i == index,
                "members": members[i],
                "val_acc": option.val_acc,
                "val_loss": option.val_loss,
                "test_acc": float(rows_right.mean()),
                "cost": costs[i],
                **option.detail,
                "vs_final": {
                    "option_only_right": option_only,
                    "final_only_right": final_only,
                    "p_value": p,
                },
            }
        )
    return {
        "kind": final.kind,
        "members": members[index],
        "val_acc": final.val_acc,
        "val_loss": final.val_loss,
        "test_acc": float(right[index].mean()),
        "n_test": len(data.test),
        "chosen_by": how,
        "options": listed,
        "rnn": None
        if rnn is None
        else {
            "kind": found[rnn].kind,
            "val_acc": found[rnn].val_acc,
            "test_acc": float(right[rnn].mean()),
        },
        "cost": costs[index],
        "limits": limited,
        "measured_on": meter.measured_on() if meter else None,
        "test_correct": right[index],
        "rnn_test_correct": None if rnn is None else right[rnn],
    }

"""An ensemble of a sweep's top trials: their class probabilities averaged.

The top of a sweep holds several models of nearly equal validation accuracy whose errors differ;
averaging them is cheap and usually beats the single best on test (issue 12 measured +1.7 to +2.3
points on AG_NEWS). The members are the top k trials by validation accuracy, k chosen on the
validation split only (top-k over greedy selection: one choice to make on a few hundred rows
instead of one per round); the test split is scored once, for the chosen k.

Each model is scored at most once per split (`Scores`): validation probabilities come from the
trial's checkpoint (saved at the epoch it was kept), test probabilities are computed when first
asked for and shared by the ensemble, each family's best and the paired test.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from base.run_dir import ENSEMBLE_DIR
from data.encode import EncodedSplit
from data.prepare import PreparedData
from results.stats import accuracy, correct
from tune.train.checkpoint import LoadedCheckpoint, export_checkpoint, load_checkpoint
from tune.train.inference import probabilities


@dataclass(frozen=True)
class Candidate:
    trial_id: str
    family: str
    val_acc: float
    checkpoint: Path  # a directory holding model.pt (Ray's trial checkpoint or an exported one)


class Scores:
    """Each candidate's model and class probabilities (rows, classes), each made at most once."""

    def __init__(self, data: PreparedData):
        self.data = data
        self._loaded: dict[str, LoadedCheckpoint] = {}
        self._test: dict[str, np.ndarray] = {}

    def loaded(self, candidate: Candidate) -> LoadedCheckpoint:
        if candidate.trial_id not in self._loaded:
            self._loaded[candidate.trial_id] = load_checkpoint(
                candidate.checkpoint, vocab=self.data.vocab
            )
        return self._loaded[candidate.trial_id]

    def in_memory(self, trial_id: str) -> LoadedCheckpoint | None:
        """The trial's model if it has been loaded already."""
        return self._loaded.get(trial_id)

    def val(self, candidate: Candidate) -> np.ndarray:
        """From the checkpoint where its trial saved them (older checkpoints: scored now)."""
        loaded = self.loaded(candidate)
        expected = (len(self.data.val), len(self.data.class_names))
        if loaded.val_probs is not None and loaded.val_probs.shape == expected:
            return loaded.val_probs
        return probabilities(loaded.model, self.data.val)

    def test(self, candidate: Candidate) -> np.ndarray:
        if candidate.trial_id not in self._test:
            self._test[candidate.trial_id] = probabilities(
                self.loaded(candidate).model, self.data.test
            )
        return self._test[candidate.trial_id]


def correct_rows(models: list[torch.nn.Module], split: EncodedSplit) -> np.ndarray:
    """Whether the models' averaged probabilities pick each row's label: (len(split),) bool, in
    the split's order (one model: its own predictions)."""
    return correct(sum(probabilities(m, split) for m in models), split.labels)


def choose_k(val_probs: list[np.ndarray], labels: np.ndarray) -> tuple[int, dict[int, float]]:
    """The k (1..len) whose top-k average scores best on validation; a tie goes to the larger k
    (more members, less variance). `val_probs` are ordered best trial first."""
    by_k, total = {}, np.zeros_like(val_probs[0])
    for k, probs in enumerate(val_probs, start=1):
        total = total + probs
        by_k[k] = accuracy(total, labels)
    best = max(by_k, key=lambda k: (by_k[k], k))
    return best, by_k


def build_ensemble(
    candidates: list[Candidate], scores: Scores, run_dir: Path
) -> dict[str, Any] | None:
    """Choose k on validation, export the members to RUN_DIR/ensemble/TRIAL/ (standalone, vocab
    inside) and score the average once on test. None with fewer than two candidates."""
    ranked = sorted(candidates, key=lambda c: -c.val_acc)
    if len(ranked) < 2:
        return None
    data = scores.data
    k, by_k = choose_k([scores.val(c) for c in ranked], data.val.labels)
    target = run_dir / ENSEMBLE_DIR
    shutil.rmtree(target, ignore_errors=True)
    # Standalone copies (vocab inside): a trial checkpoint fetched from cloud storage has no run
    # directory around it to find the vocab in.
    members = [
        {
            "trial_id": c.trial_id,
            "family": c.family,
            "val_acc": c.val_acc,
            "checkpoint": str(export_checkpoint(c.checkpoint, target / c.trial_id, data.vocab)),
        }
        for c in ranked[:k]
    ]
    return {
        "k": k,
        "members": members,
        "val_acc": by_k[k],
        "test_acc": accuracy(sum(scores.test(c) for c in ranked[:k]), data.test.labels),
        "n_test": len(data.test),
        "val_acc_by_k": {str(n): acc for n, acc in by_k.items()},
    }

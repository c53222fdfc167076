"""The ensemble's choices: k on validation, and which checkpoints the sweep keeps for it."""

from __future__ import annotations

import numpy as np
from ray.tune import Checkpoint

from tune.outcome.ensemble import choose_k
from tune.sweep.pruning import CheckpointPruner


def one_hot(preds: list[int], classes: int = 3) -> np.ndarray:
    return np.eye(classes)[preds] * 0.9 + 0.1 / classes


def test_k_is_chosen_on_validation_and_a_tie_goes_to_more_members():
    labels = np.array([0, 1, 2, 0])
    # trial 1: 3/4 right; trials 2 and 3 fix its last error by majority.
    probs = [one_hot([0, 1, 2, 1]), one_hot([0, 1, 1, 0]), one_hot([0, 2, 2, 0])]
    k, by_k = choose_k(probs, labels)
    assert by_k[1] == 0.75 and by_k[3] == 1.0 and k == 3
    k, by_k = choose_k([one_hot([0, 1, 2, 0]), one_hot([0, 1, 2, 0])], labels)
    assert by_k == {1: 1.0, 2: 1.0} and k == 2


def test_pruner_keeps_each_familys_best_and_the_overall_top(tmp_path):
    def checkpoint(name: str) -> Checkpoint:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_bytes(b"x")
        return Checkpoint.from_directory(str(tmp_path / name))

    pruner = CheckpointPruner(keep=1, overall=3)
    finished = [("a", "lstm", 0.90), ("b", "lstm", 0.89), ("c", "lstm", 0.88), ("d", "gru", 0.70)]
    finished += [("e", "lstm", 0.87), ("f", "rnn", 0.60)]
    for trial, family, acc in finished:
        pruner.finish(trial, family, [(acc, checkpoint(trial))])
    kept = {tid for fam in ("lstm", "gru", "rnn") for _, tid, _ in pruner.kept(fam)}
    assert kept == {"a", "b", "c", "d", "f"}  # top 3 overall, and each family's best
    assert {p.name for p in tmp_path.iterdir()} == kept
    assert pruner.family_kept("lstm") == {"a"} and pruner.family_kept("rnn") == {"f"}

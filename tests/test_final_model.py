"""The final model (tune/outcome/final.py): its options are chosen on validation only, the paired
guard never lets a significantly worse model be recommended, and `rnn-tune predict RUN_DIR` serves
whatever was chosen, the linear model included."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from data.ag_news import read_ag_news_csv
from data.prepare import prepare_data
from models.linear import LinearTextModel
from results.stats import mcnemar_p
from tune.config import read_config_json
from tune.outcome.final import Option, blend_weight, choose, greedy_weights
from tune.train.checkpoint import load_checkpoint
from tune.train.inference import probabilities


def onehot(classes: np.ndarray, n: int = 3, sure: float = 0.9) -> np.ndarray:
    probs = np.full((len(classes), n), (1 - sure) / (n - 1))
    probs[np.arange(len(classes)), classes] = sure
    return probs


def test_greedy_selection_takes_complementary_models_and_leaves_a_useless_one():
    labels = np.arange(300) % 3
    wrong = (labels + 1) % 3
    half = np.arange(300) < 150
    a = onehot(np.where(half, labels, wrong), sure=0.6)  # right on the first half
    b = onehot(np.where(half, wrong, labels), sure=0.6)  # right on the second half
    c = onehot(labels, sure=0.4)  # right everywhere, unsure
    noise = onehot(wrong, sure=0.9)  # always wrong
    counts = greedy_weights({"a": a, "b": b, "c": c, "noise": noise}, labels, rounds=10)
    assert "noise" not in counts and sum(counts.values()) == 10
    assert counts.get("c", 0) >= 1


def test_the_blend_weight_is_the_one_with_the_lowest_validation_log_loss():
    labels = np.arange(200) % 4
    first = np.arange(200) < 100
    # The RNN is sure where it is right (first half), the linear model where it is (second half).
    rnn = np.where(first[:, None], onehot(labels, 4, 0.9), onehot((labels + 1) % 4, 4, 0.4))
    linear = np.where(first[:, None], onehot((labels + 2) % 4, 4, 0.4), onehot(labels, 4, 0.9))
    w, by_w = blend_weight(rnn, linear, labels)
    assert by_w[f"{w:.1f}"] == 1.0 > max(by_w["0.0"], by_w["1.0"]) and 0 < w < 1
    same = onehot(labels, n=4, sure=0.9)
    w_same, by_same = blend_weight(same, onehot(labels, n=4, sure=0.5), labels)
    assert set(by_same.values()) == {1.0} and w_same == 1.0  # equally right: the surer one


class ByName:
    """A pool stand-in: fixed test probabilities per base-model name."""

    def __init__(self, test: dict[str, np.ndarray]):
        self.test = test.__getitem__


def test_validation_log_loss_chooses_not_accuracy_and_a_tie_goes_to_the_simpler():
    labels = np.arange(1000) % 4
    same = onehot(labels, n=4)
    test = ByName({"a": same, "b": same, "c": same})
    found = [
        Option("trial", {"a": 1.0}, 0.88, 0.40, {}),
        Option("linear", {"b": 1.0}, 0.90, 0.35, {}),  # the highest accuracy
        Option("greedy", {"c": 1.0}, 0.89, 0.32, {}),  # the lowest log loss
    ]
    assert choose(found, [], test, labels)[:2] == (2, "validation")
    tied = [*found[:2], Option("greedy", {"c": 1.0}, 0.89, 0.35, {})]
    assert choose(tied, [], test, labels)[:2] == (1, "validation")


def test_the_paired_guard_overrides_a_validation_choice_that_is_significantly_worse():
    labels = np.arange(1000) % 4
    good = onehot(np.where(np.arange(1000) < 900, labels, (labels + 1) % 4), n=4)
    bad = onehot(np.where(np.arange(1000) < 800, labels, (labels + 1) % 4), n=4)
    close = onehot(np.where(np.arange(1000) < 795, labels, (labels + 1) % 4), n=4)
    found = [
        Option("trial", {"good": 1.0}, 0.80, 0.50, {}),
        Option("linear", {"bad": 1.0}, 0.85, 0.40, {}),  # validation prefers it
    ]
    index, how, right = choose(found, [], ByName({"good": good, "bad": bad}), labels)
    assert (index, how) == (0, "paired test") and mcnemar_p(100, 0) < 0.05
    assert [r.mean() for r in right] == [0.9, 0.8]
    found = [
        Option("trial", {"close": 1.0}, 0.80, 0.50, {}),
        Option("linear", {"bad": 1.0}, 0.85, 0.40, {}),
    ]
    index, how, _ = choose(found, [], ByName({"close": close, "bad": bad}), labels)
    assert (index, how) == (1, "validation")  # 5 rows apart: not significant, validation stands
    held = [Option("trial", {"good": 1.0}, 0.70, 0.60, {})]  # a family's best, never chosen on val
    index, how, _ = choose(found, held, ByName({"close": close, "bad": bad, "good": good}), labels)
    assert (index, how) == (2, "paired test")


@pytest.mark.slow
def test_real_quick_sweep_recommends_no_significantly_worse_model_and_predict_serves_it(
    real_ag_news, tmp_path
):
    """A quick-preset sweep on 1,500 real train rows (where the linear model is strong): the final
    model includes the linear model; no option or family best is significantly better on test;
    `predict RUN_DIR` on the raw test texts gives the classes of the final model's test scoring."""
    done = subprocess.run(
        ["rnn-tune", "sweep", "--preset", "quick", "--data-dir", str(real_ag_news),
         "--max-train-samples", "1500", "--num-samples", "6", "--epochs", "2",
         "--storage", str(tmp_path), "--name", "q", "--no-dashboard", "--quiet"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "q"
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["final"]
    data = prepare_data(read_config_json(run_dir / "config.json").data)
    assert "linear" in {m["family"] for m in final["members"]}, final

    def test_probs(member: dict) -> np.ndarray:
        if member["family"] == "linear":
            model = LinearTextModel.load(member["checkpoint"])
            return model.probabilities(data.test.ids, data.test.offsets)
        return probabilities(load_checkpoint(member["checkpoint"]).model, data.test)

    weights = np.array([m["weight"] for m in final["members"]])
    probs = sum(w * test_probs(m) for w, m in zip(weights, final["members"])) / weights.sum()
    final_right = probs.argmax(1) == data.test.labels
    assert final_right.mean() == pytest.approx(final["test_acc"])
    if final["chosen_by"] == "validation":  # the lowest validation log loss, the simpler on a tie
        lowest = min(final["options"], key=lambda o: o["val_loss"])
        assert lowest["chosen"] and lowest["kind"] == final["kind"], final["options"]
    others = {o["kind"]: o["vs_final"] for o in final["options"]}
    for family, best in summary["by_family"].items():  # rescored from best/FAMILY
        right = test_probs({"family": family, "checkpoint": best["checkpoint"]}).argmax(1)
        right = right == data.test.labels
        others[family] = {
            "option_only_right": int(np.sum(right & ~final_right)),
            "final_only_right": int(np.sum(final_right & ~right)),
        }
    for name, vs in others.items():
        better = vs["option_only_right"] > vs["final_only_right"]
        p = mcnemar_p(vs["option_only_right"], vs["final_only_right"])
        assert not (better and p < 0.05), (name, vs, final["kind"])

    texts, labels = read_ag_news_csv(real_ag_news / "test.csv")
    assert np.array_equal(np.array(labels), data.test.labels)
    rows = list(range(0, len(texts), 76))  # 100 rows across the split
    out = subprocess.run(
        ["rnn-tune", "predict", str(run_dir), "--json", *[texts[i] for i in rows]],
        capture_output=True, text=True, timeout=600, env={**os.environ},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    predicted = [json.loads(line)["label"] for line in out.stdout.splitlines()]
    names = list(data.class_names)
    assert predicted == [names[probs[i].argmax()] for i in rows]
    assert Path(run_dir / "linear" / "model.npz").is_file()

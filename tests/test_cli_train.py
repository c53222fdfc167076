"""The installed `rnn-tune` console script, run as a user would."""

import json
import subprocess

import pytest
import torch

from tune.train.checkpoint import load_checkpoint


def rnn_tune(*args, cwd=None):
    return subprocess.run(["rnn-tune", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_train_then_predict_on_synthetic(tmp_path):
    out = tmp_path / "run"
    result = rnn_tune(
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "800",
        "--epochs",
        "2",
        "--embed-dim",
        "16",
        "--hidden-dim",
        "16",
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2" in result.stdout and "samples/s" in result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"val_acc", "test_acc", "train_samples_per_s", "epochs", "checkpoint"} <= summary.keys()
    assert (
        summary["epochs"] == 2
        and 0 <= summary["test_acc"] <= 1
        and summary["train_samples_per_s"] > 0
    )
    payload = torch.load(out / "model.pt", weights_only=True)
    assert payload["config"]["train"]["embed_dim"] == 16
    assert json.loads((out / "config.json").read_text())["data"]["dataset"] == "synthetic"
    assert payload["vocab"][:2] == ["<pad>", "<unk>"] and "optimizer_state" not in payload
    loaded = load_checkpoint(out / "model.pt")
    assert loaded.class_names[0] == "alpha<beta gamma<delta"

    predicted = rnn_tune(
        "predict",
        str(out / "model.pt"),
        "w1 alpha w2 beta gamma delta",
        "never seen words",
        "--json",
    )
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(rows) == 2 and all(r["label"] in loaded.class_names for r in rows)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--train-file", "/nonexistent.csv"], "no such file: /nonexistent.csv"),
        (["train", "--dataset", "synthetic", "--lr", "-1"], "lr must be > 0"),
        (
            ["train", "--dataset", "synthetic", "--config", "/nonexistent.toml"],
            "does not exist; check --config",
        ),
        (["train", "--data-dir", "/tmp"], "--data-dir /tmp lacks"),
        (["predict", "/nonexistent/model.pt", "text"], "no checkpoint at"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    result = rnn_tune(*args)
    assert result.returncode == 2
    assert (
        message in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
        and "Traceback" not in result.stderr
    )


def test_unknown_toml_key_is_rejected(tmp_path):
    (tmp_path / "c.toml").write_text("[train]\nnhid = 3\n")
    result = rnn_tune("train", "--dataset", "synthetic", "--config", str(tmp_path / "c.toml"))
    assert result.returncode == 2 and "unknown setting train.nhid" in result.stderr


@pytest.mark.slow
def test_lstm_defaults_reach_84_percent_on_real_ag_news(real_ag_news, tmp_path):
    """Two seeds, since one moves test accuracy by a point or more either way (docs/benchmarks.md:
    85.64/82.96/84.54% before the fast step, 83.76/85.20/84.04% after, seeds 0/1/2)."""
    scores = []
    for seed in (0, 1):
        result = rnn_tune(
            "train",
            "--model",
            "lstm",
            "--data-dir",
            str(real_ag_news),
            "--seed",
            str(seed),
            "--output",
            str(tmp_path / f"r{seed}"),
            "--json",
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["epochs"] <= 3 and summary["test_acc"] >= 0.83
        scores.append(summary["test_acc"])
    assert sum(scores) / len(scores) >= 0.84

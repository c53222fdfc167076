"""--objective accuracy,latency: a real sweep whose Optuna study weighs both, and the report's
front of trials, checked against the raw records."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from browser import chromium_page, needs_chromium

from data.encode import EncodedSplit
from models.classifier import RNNClassifier
from results.tables import pareto_front
from tune.train.inference import request_latency_ms


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "s.toml").write_text(
        "[train]\nepochs = 2\n[sweep]\nreduction_factor = 2\n[sweep.search]\n"
        'model = {choice = ["rnn", "gru", "lstm"]}\nlr = {loguniform = [1e-3, 3e-2]}\n'
        "hidden_dim = {choice = [8, 64, 256]}\nnum_layers = {choice = [1, 2]}\n"
    )
    result = subprocess.run(
        [
            "rnn-tune",
            "sweep",
            "--config",
            str(root / "s.toml"),
            "--objective",
            "accuracy,latency",
            "--dataset",
            "synthetic",
            "--synthetic-samples",
            "600",
            "--embed-dim",
            "16",
            "--num-samples",
            "9",
            "--storage",
            str(root),
            "--name",
            "mo",
            "--no-dashboard",
            "--quiet",
            "--cache-dir",
            str(root / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "RNN_TUNE_FAULT": "nan:gru"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "mo"


def per_trial(run_dir: Path) -> dict[str, dict]:
    """Each trial's last reported metrics and best val_acc, from trials.jsonl."""
    out: dict[str, dict] = {}
    for line in (run_dir / "trials.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["event"] == "result":
            best = max(out.get(r["trial_id"], {}).get("best", 0.0), r["metrics"]["val_acc"])
            out[r["trial_id"]] = {**r["metrics"], "best": best}
    return out


@pytest.mark.slow
def test_the_study_holds_both_objectives_as_the_trials_reported_them(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sweep"]["objective"] == "accuracy,latency"
    (name,) = optuna.get_all_study_names(f"sqlite:///{run_dir / 'optuna.db'}")
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{run_dir / 'optuna.db'}")
    assert study.directions == [
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MINIMIZE,
    ]
    trials = per_trial(run_dir)
    states = {t.user_attrs["ray_trial_id"]: t for t in study.trials}
    assert set(states) == set(trials)
    for tid, t in states.items():
        last = trials[tid]
        if last["model"] == "gru":  # its loss went NaN before latency_ms was measured
            assert t.state == optuna.trial.TrialState.FAIL and last["latency_ms"] is None
            continue
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.values == pytest.approx([last["val_acc"], last["latency_ms"]])
        assert last["latency_ms"] > 0


@pytest.mark.slow
@needs_chromium
def test_the_report_shows_the_front_of_the_trials(run_dir):
    measured = {t: m for t, m in per_trial(run_dir).items() if m.get("latency_ms")}
    ids = list(measured)
    on_front = pareto_front(
        [measured[t]["latency_ms"] for t in ids], [measured[t]["best"] for t in ids]
    )
    front = sorted(
        (t for t, on in zip(ids, on_front) if on), key=lambda t: measured[t]["latency_ms"]
    )
    assert front
    with chromium_page(1280, 900) as page:
        page.goto((run_dir / "report.html").as_uri(), wait_until="load")
        headline = page.locator("ul.headline").inner_text()
        assert f"The search weighed latency too: {len(front)} trial" in headline
        assert f"from {front[0]} (" in headline
        rows = page.locator(
            "xpath=//h2[text()='Search trade']/following-sibling::div[1]//tbody/tr"
        ).all_inner_texts()
        assert [r.split("\t")[0] for r in rows] == front
        for row, tid in zip(rows, front):
            cells = row.split("\t")
            assert f"{measured[tid]['best']:.2%}" in cells
            assert f"{measured[tid]['latency_ms']:.2f}" in cells
        figure = page.locator('figure.trade[aria-label^="What the search found"]')
        tips = figure.locator("svg title").all_text_contents()
        assert len(tips) == len(measured)
        assert sum("on the Pareto front" in t for t in tips) == len(front)
        assert page.errors == []


def test_request_latency_leaves_the_model_and_threads_as_they_were():
    threads = torch.get_num_threads()
    model = RNNClassifier(vocab_size=20, embed_dim=8, hidden_dim=8, num_classes=4)
    model.train()
    lengths = np.array([3, 5, 2, 4])
    split = EncodedSplit(
        ids=np.arange(lengths.sum()) % 18 + 2,
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        labels=np.zeros(4, dtype=np.int64),
    )
    ms = request_latency_ms(model, split)
    assert 0 < ms < 1000
    assert model.training and torch.get_num_threads() == threads

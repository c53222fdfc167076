"""End-to-end sweeps with a real local Ray runtime and a real Optuna SQLite study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from data.vocab import Vocab
from tune.sweep.optuna_study import open_storage
from tune.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

TINY = ["--embed-dim", "16", "--hidden-dim", "16", "--no-dashboard", "--no-report", "--quiet"]


def sweep(*args, env=None, timeout=600):
    return subprocess.run(
        ["rnn-tune", "sweep", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_toml(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_real_subset_sweep_asha_and_optuna_agree(real_ag_news, tmp_path):
    config = write_toml(
        tmp_path / "s.toml",
        """
[train]
epochs = 4
[sweep]
grace_period = 1
reduction_factor = 2
[sweep.search]
model = {choice = ["rnn", "lstm"]}
lr = {loguniform = [1e-3, 3e-2]}
embed_dim = {choice = [16, 32]}
hidden_dim = {choice = [16, 32]}
""",
    )
    result = sweep(
        "--config",
        config,
        "--data-dir",
        str(real_ag_news),
        "--max-train-samples",
        "800",
        "--num-samples",
        "6",
        "--keep-checkpoints",
        "2",
        "--storage",
        str(tmp_path),
        "--name",
        "e2e",
        *TINY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr, result.stderr[-3000:]
    assert "Failed to fetch metrics" not in result.stderr  # Ray's trial logs are off, on purpose
    run_dir = tmp_path / "e2e"
    assert not [p for p in run_dir.glob("e2e_*/*") if p.is_file()]  # trials.jsonl is the history
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 6 and summary["errored"] == 0
    assert summary["completed"] + summary["stopped_early"] == 6 and summary["stopped_early"] >= 1
    assert set(summary["by_family"]) == {"rnn", "lstm"}
    for best in summary["by_family"].values():
        assert 0 <= best["test_acc"] <= 1 and Path(best["checkpoint"]).is_file()
    assert summary["best"]["val_acc"] == max(b["val_acc"] for b in summary["by_family"].values())

    study = optuna.load_study(study_name=summary["optuna_study"], storage=summary["optuna_storage"])
    assert len(study.trials) == summary["trials"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    results = [r for r in records(run_dir) if r["event"] == "result"]
    sampled = {json.dumps(r["config"], sort_keys=True) for r in results}
    assert sampled == {json.dumps(t.params, sort_keys=True) for t in study.trials}
    for t in study.trials:  # every epoch's val_acc, the last one included, as Optuna sees it
        mine = [r for r in results if r["config"] == t.params]
        curve = {r["metrics"]["epoch"]: r["metrics"]["val_acc"] for r in mine}
        assert len(curve) == len(mine) and t.intermediate_values == pytest.approx(curve)
    best_seen = max(r["metrics"]["val_acc"] for r in results)
    assert summary["best"]["val_acc"] == pytest.approx(best_seen)
    assert {r["metrics"]["threads"] for r in results} == {1}  # the trial's CPUs, no --threads
    assert len({r["metrics"]["actor_id"] for r in results}) == 6  # one actor per trial
    assert all(r["metrics"]["startup_cpu_s"] > 0 for r in results)
    assert {r["metrics"]["device"] for r in results} == {"cpu"} and all(
        r["metrics"]["node_id"] for r in results
    )
    stopped = [
        tid
        for tid in {r["trial_id"] for r in results}
        if max(x["metrics"]["epoch"] for x in results if x["trial_id"] == tid) < 4
    ]
    assert len(stopped) == summary["stopped_early"]

    # Lean checkpoints: no optimizer state once trials end; per family the best went to best/FAMILY
    # (standalone) and the runner-up stays in its trial directory, readable through the run's vocab.
    assert not list(run_dir.rglob("optimizer.pt"))
    left = sorted(p for p in run_dir.glob("e2e_*/checkpoint_*/model.pt"))
    families = [torch.load(p, weights_only=True)["config"]["train"]["model"] for p in left]
    trials_per_family = {
        f: len({r["trial_id"] for r in results if r["config"]["model"] == f})
        for f in ("rnn", "lstm")
    }
    assert sorted(families) == sorted(f for f, n in trials_per_family.items() if n >= 2)
    for family in ("rnn", "lstm"):
        standalone = torch.load(run_dir / "best" / family / "model.pt", weights_only=True)
        assert standalone["vocab"][:2] == ["<pad>", "<unk>"]
    loaded = load_checkpoint(left[0] if left else run_dir / "best" / "rnn" / "model.pt")
    assert loaded.vocab == Vocab.load(run_dir / "vocab.json") and loaded.class_names[0] == "World"


def test_injected_crash_is_retried_from_checkpoint(tmp_path):
    marker = tmp_path / "crashed"
    result = sweep(
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "400",
        "--num-samples",
        "1",
        "--epochs",
        "3",
        "--storage",
        str(tmp_path),
        "--name",
        "crash",
        *TINY,
        env={"RNN_TUNE_FAULT": f"crash_once:2:{marker}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker.exists()
    summary = json.loads((tmp_path / "crash" / "summary.json").read_text())
    assert summary["completed"] == 1 and summary["errored"] == 0
    epochs = [
        (r["metrics"]["epoch"], r["metrics"]["resumed_from_epoch"])
        for r in records(tmp_path / "crash")
        if r["event"] == "result"
    ]
    assert epochs == [(1, 0), (2, 1), (3, 1)]


def test_nan_trial_fails_alone(tmp_path):
    config = write_toml(tmp_path / "s.toml", '[sweep.search]\nmodel = {choice = ["gru", "lstm"]}\n')
    result = sweep(
        "--config",
        config,
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "400",
        "--num-samples",
        "2",
        "--epochs",
        "2",
        "--storage",
        str(tmp_path),
        "--name",
        "nan",
        *TINY,
        env={"RNN_TUNE_FAULT": "nan:gru"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "nan" / "summary.json").read_text())
    assert summary["trials"] == 2 and summary["errored"] == 1 and summary["completed"] == 1
    assert list(summary["by_family"]) == ["lstm"]
    (error,) = summary["errors"].values()
    assert error.startswith("NonFiniteLossError: loss became nan")


@pytest.mark.parametrize(
    "stop, study_args",
    [(signal.SIGKILL, []), (signal.SIGINT, []), (signal.SIGKILL, ["--optuna-storage", "journal"])],
    ids=["killed", "ctrl-c", "killed-journal"],
)
def test_interrupted_driver_resumes_without_rerunning_finished_trials(tmp_path, stop, study_args):
    # One trial at a time, epochs of a few seconds: the kill below lands mid-epoch of the third
    # trial, after Ray's once-a-second snapshot has recorded its start (a start or completion in
    # the last second before a SIGKILL is not in Ray's snapshot, and Optuna's database would be
    # ahead of it).
    args = [
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "20000",
        "--num-samples",
        "6",
        "--epochs",
        "3",
        "--grace-period",
        "3",
        "--max-concurrent",
        "1",
        "--storage",
        str(tmp_path),
        "--name",
        "resume",
        *study_args,
        *TINY,
    ]
    driver = subprocess.Popen(
        ["rnn-tune", "sweep", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    run_dir = tmp_path / "resume"
    deadline = time.time() + 300
    while time.time() < deadline and sum(r["event"] == "complete" for r in records(run_dir)) < 2:
        time.sleep(0.5)
    time.sleep(2)  # the experiment state is snapshotted every second (TUNE_GLOBAL_CHECKPOINT_S=1)
    driver.send_signal(stop)
    _, err = driver.communicate(timeout=120)
    if stop == signal.SIGINT:
        assert driver.returncode == 130 and f"rnn-tune sweep --resume {run_dir}" in err, err[-3000:]
        assert not (run_dir / "summary.json").exists()
    before = records(run_dir)
    finished = {r["trial_id"] for r in before if r["event"] == "complete"}
    assert 2 <= len(finished) < 6
    if stop == signal.SIGKILL:  # as if the kill had landed while Ray copied its searcher state
        searcher_state = next(run_dir.glob("searcher-state-*.pkl"))
        searcher_state.write_bytes(searcher_state.read_bytes()[:10])

    result = sweep("--resume", str(run_dir), "--quiet", "--no-report")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("repaired searcher-state-" in result.stdout) == (stop == signal.SIGKILL)
    after = records(run_dir)[len(before) :]
    assert not finished & {r["trial_id"] for r in after if r["event"] == "start"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 6 and summary["completed"] == 6
    storage = open_storage(summary["optuna_storage"])
    study = optuna.load_study(study_name=summary["optuna_study"], storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert (run_dir / "optuna.journal").is_file() == bool(study_args)
    assert (run_dir / "optuna.db").is_file() != bool(study_args)


def test_time_budget_stops_starting_trials(tmp_path):
    result = sweep(
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "3000",
        "--num-samples",
        "40",
        "--epochs",
        "2",
        "--time-budget",
        "12s",
        "--storage",
        str(tmp_path),
        "--name",
        "budget",
        *TINY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "budget" / "summary.json").read_text())
    assert 1 <= summary["trials"] < 40 and summary["wall_s"] < 120


def test_reused_actors_run_trial_after_trial_each_from_its_own_start(tmp_path):
    result = sweep(
        "--dataset", "synthetic", "--synthetic-samples", "1500", "--num-samples", "5",
        "--epochs", "2", "--max-concurrent", "1", "--reuse-actors",
        "--storage", str(tmp_path), "--name", "reuse", *TINY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "reuse" / "summary.json").read_text())
    assert summary["trials"] == 5 and summary["errored"] == 0
    results = [r for r in records(tmp_path / "reuse") if r["event"] == "result"]
    assert len({r["metrics"]["actor_id"] for r in results}) == 1  # one actor ran all five
    for trial in {r["trial_id"] for r in results}:
        mine = [r["metrics"] for r in results if r["trial_id"] == trial]
        assert [m["epoch"] for m in mine] == list(range(1, len(mine) + 1))
        assert {m["resumed_from_epoch"] for m in mine} == {0}  # no state from the trial before
    # The first trial's start counts the actor's process start (Ray's worker, imports); a later
    # trial in the same actor counts from its own start.
    in_order = sorted(results, key=lambda r: r["time"])
    first = in_order[0]["metrics"]["startup_cpu_s"]
    later = {
        r["metrics"]["startup_cpu_s"] for r in in_order if r["trial_id"] != in_order[0]["trial_id"]
    }
    assert len(later) == 4 and 0 < max(later) < first
    assert json.loads((tmp_path / "reuse" / "config.json").read_text())["sweep"]["reuse_actors"]


def test_gpu_request_without_gpus_fails_early(tmp_path):
    result = sweep(
        "--dataset",
        "synthetic",
        "--gpus-per-trial",
        "0.25",
        "--storage",
        str(tmp_path),
        "--name",
        "gpu",
        *TINY,
    )
    assert result.returncode == 2 and "no node has 1 CPUs and 0.25 GPUs" in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_of_a_foreign_directory_is_a_clear_error(tmp_path):
    result = sweep("--resume", str(tmp_path))
    assert result.returncode == 2 and "not an rnn-tune sweep directory" in result.stderr


def test_sweep_starts_every_trial_from_the_vectors_file(tmp_path):
    """--vectors fixes embed_dim to the file's size and takes it out of the search; each trial's
    model (its best checkpoint) has that size, and the run's config.json says so."""
    path = tmp_path / "vectors.txt"
    words = ["alpha", "beta", "gamma", "delta"]
    path.write_text("".join(f"{w} {i} 0.5 -0.5 1 0\n" for i, w in enumerate(words)))
    result = sweep(
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "300",
        "--num-samples",
        "2",
        "--epochs",
        "1",
        "--vectors",
        str(path),
        "--storage",
        str(tmp_path),
        "--name",
        "vec",
        "--hidden-dim",
        "8",
        "--no-dashboard",
        "--no-report",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"vectors {path}: 4 of 56 vocab words (7%) found in" in result.stdout
    config = json.loads((tmp_path / "vec" / "config.json").read_text())
    assert config["train"]["embed_dim"] == 5 and "embed_dim" not in config["sweep"]["search"]
    summary = json.loads((tmp_path / "vec" / "summary.json").read_text())
    for best in summary["by_family"].values():
        assert load_checkpoint(Path(best["checkpoint"])).model.embedding.embedding_dim == 5


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-x", "-q"]))


def test_a_time_budget_ends_trials_at_epoch_boundaries_and_counts_agree(tmp_path):
    result = sweep(
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "8000",
        "--num-samples",
        "40",
        "--epochs",
        "4",
        "--grace-period",
        "1",
        "--time-budget",
        "25s",
        "--storage",
        str(tmp_path),
        "--name",
        "edge",
        *TINY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "edge"
    summary = json.loads((run_dir / "summary.json").read_text())
    budget = summary["budget"]
    assert budget["budget_s"] == 25 and budget["used_s"] >= 25
    assert budget["stopped_trials"] + budget["refused_starts"] >= 1
    events = records(run_dir)
    started = {r["trial_id"] for r in events if r["event"] == "start"}
    ended = {r["trial_id"] for r in events if r["event"] in ("complete", "error")}
    reported = {r["trial_id"] for r in events if r["event"] == "result"}
    assert started == ended == reported and summary["trials"] == len(started)
    epoch_s = [r["metrics"]["time_this_iter_s"] for r in events if r["event"] == "result"]
    assert budget["overrun_s"] <= max(epoch_s) + 5

"""From a small sweep to more data: `rnn-tune promote` and `rnn-tune sweep --warm-start`, on real
rows, with a real Ray runtime and the runs' real Optuna studies."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import optuna
import pytest
from conftest import ag_news_dir

from results.load import read_records
from tune.config import Config, merge, write_config_json
from tune.sweep.optuna_search import startup_trials
from tune.sweep.warm_start import SOURCE_ATTR, ranked_trials, start_points

SEARCH = """
[train]
epochs = 2
[sweep]
grace_period = 2
max_concurrent = 2
[sweep.search]
model = {choice = ["rnn", "gru"]}
lr = {loguniform = [1e-3, 1e-2]}
embed_dim = {choice = [16, 32]}
hidden_dim = {choice = [16, 32]}
"""
QUIET = ["--no-dashboard", "--quiet"]


def rnn_tune(*args, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["rnn-tune", *args], capture_output=True, text=True, timeout=900, env=env)


def records(run_dir: Path) -> list[dict]:
    return read_records(run_dir / "trials.jsonl")


def started_configs(run_dir: Path, keys) -> list[dict]:
    """Each trial's searched settings, in start order."""
    starts = sorted((r for r in records(run_dir) if r["event"] == "start"), key=lambda r: r["time"])
    return [{k: r["config"][k] for k in keys} for r in starts]


def same_configs(a: list[dict], b: list[dict]) -> bool:
    def key(config: dict) -> str:
        return json.dumps(config, sort_keys=True)

    return sorted(map(key, a)) == sorted(map(key, b))


def random_startup_trials(run_dir: Path, num_samples: int, families: int) -> int:
    """Trials TPE sampled at random: neither enqueued nor started with n_startup_trials finished
    trials (copied ones included) in the study. Read from the study's own timestamps."""
    study = optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir}/optuna.db")
    trials = study.get_trials(deepcopy=False)
    needed = startup_trials(num_samples, families)
    count = 0
    for t in trials:
        if SOURCE_ATTR in t.user_attrs or "fixed_params" in t.system_attrs:
            continue
        done_before = sum(
            o.state == optuna.trial.TrialState.COMPLETE
            and (SOURCE_ATTR in o.user_attrs or o.datetime_complete < t.datetime_start)
            for o in trials
        )
        count += done_before < needed
    return count


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """One small sweep on 3,000 real rows, shared by the tests that start from it."""
    real_ag_news = ag_news_dir()
    if real_ag_news is None:
        pytest.skip("real AG_NEWS rows not found (set RNN_TUNE_TEST_DATA)")
    root = tmp_path_factory.mktemp("warm")
    env = {**os.environ, "RNN_TUNE_CACHE_DIR": str(root / "cache")}
    (root / "search.toml").write_text(SEARCH)
    result = rnn_tune(
        "sweep", "--config", str(root / "search.toml"), "--data-dir", str(real_ag_news),
        "--max-train-samples", "3000", "--num-samples", "6", "--storage", str(root),
        "--name", "small", "--no-report", *QUIET, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return root, env


@pytest.mark.slow
def test_promote_retrains_the_top_configurations_on_every_row(source):
    root, env = source
    small = root / "small"
    keys = ["model", "lr", "embed_dim", "hidden_dim"]
    top = ranked_trials(small, keys)[:2]
    result = rnn_tune(
        "promote", str(small), "--top", "2", "--all-rows", "--name", "all", *QUIET, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = root / "all"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["max_train_samples"] is None and config["sweep"]["warm_start"] == str(
        small
    )
    assert [p["trial_id"] for p in config["sweep"]["start_points"]["points"]] == [
        t["trial_id"] for t in top
    ]
    assert same_configs(started_configs(run_dir, keys), [t["config"] for t in top])
    ends = [r for r in records(run_dir) if r["event"] == "complete"]
    results = [r for r in records(run_dir) if r["event"] == "result"]
    assert len(ends) == 2 and max(r["metrics"]["epoch"] for r in results) == 2
    assert len(results) == 4  # ASHA stopped neither: both ran the source's 2 epochs
    summary = json.loads((run_dir / "summary.json").read_text())
    points = summary["warm_start"]["points"]
    assert [p["source_trial"] for p in points] == [t["trial_id"] for t in top]
    assert all(p["trial_id"] and 0 < p["val_acc"] <= 1 and 0 < p["test_acc"] <= 1 for p in points)
    first = (run_dir / "report.md").read_text()
    assert all(f"trial {t['trial_id']}" in first for t in top)


@pytest.mark.slow
def test_a_warm_started_sweep_runs_the_source_top_first_and_skips_random_startup(source):
    root, env = source
    small = root / "small"
    keys = ["model", "lr", "embed_dim", "hidden_dim"]
    result = rnn_tune(
        "sweep", "--config", str(root / "search.toml"), "--data-dir",
        json.loads((small / "config.json").read_text())["data"]["data_dir"],
        "--max-train-samples", "3000", "--num-samples", "4", "--warm-start", str(small),
        "--top", "2", "--storage", str(root), "--name", "warm", "--no-report",
        "--no-dashboard", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f"warm start from {small}: its top 2 configurations first; TPE starts from its 6 "
        "finished trials" in result.stdout
    )
    warm = root / "warm"
    top = ranked_trials(small, keys)[:2]
    # The first two trials run side by side (max_concurrent 2): either may start first.
    assert same_configs(started_configs(warm, keys)[:2], [t["config"] for t in top])
    study = optuna.load_study(study_name="warm", storage=f"sqlite:///{warm}/optuna.db")
    assert sum(SOURCE_ATTR in t.user_attrs for t in study.trials) == 6
    cold = random_startup_trials(small, 6, 2)
    assert random_startup_trials(warm, 4, 2) == 0 < cold


@pytest.mark.slow
def test_start_points_skip_configurations_outside_the_new_space(source):
    root, _ = source
    small = root / "small"
    ranked = ranked_trials(small, ["model", "lr", "embed_dim", "hidden_dim"])
    source_cfg = Config.from_dict(json.loads((small / "config.json").read_text()))
    families = sorted({t["config"]["model"] for t in ranked[:4]})
    keep = families[0]
    narrower = merge(
        source_cfg,
        {"sweep": {"top": 4, "search": {**source_cfg.sweep.search, "model": {"choice": [keep]}}}},
    )
    found = start_points(narrower, small, source_cfg)
    expected = [t for t in ranked[:4] if t["config"]["model"] == keep]
    assert [p["trial_id"] for p in found["points"]] == [t["trial_id"] for t in expected]
    assert found["skipped"] == 4 - len(expected)


def test_promote_refuses_bad_sources_in_one_line(tmp_path):
    env = dict(os.environ)
    not_a_run = rnn_tune("promote", str(tmp_path), env=env)
    assert not_a_run.returncode == 2 and "is not an rnn-tune sweep directory" in not_a_run.stderr
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    write_config_json(Config(), run_dir / "config.json")
    (run_dir / "tuner.pkl").write_bytes(b"")
    start = {"event": "start", "trial_id": "a", "time": 1, "config": {}}
    (run_dir / "trials.jsonl").write_text(json.dumps(start) + "\n")
    for args, message in (
        ([], "has no trial with a validation score yet"),
        (["--top", "0"], "top must be >= 1"),
        (["--ngrams", "2"], "--ngrams differs from the source run's"),
    ):
        result = rnn_tune("promote", str(run_dir), *args, env=env)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

"""The end phase (tune/outcome/end_phase.py) from plain records and checkpoint folders, with no
Ray runtime: each family's best exported and scored, the spent checkpoints named, the baseline
paired with the final model, the warm start's points matched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from base.run_dir import BEST_DIR, LINEAR_DIR, LINEAR_FILE
from data.config import DataConfig
from data.prepare import PreparedData, prepare_data
from results.limits import rechoose
from results.stats import accuracy
from tune.config import Config
from tune.outcome.baseline import fit_baseline
from tune.outcome.end_phase import finish
from tune.outcome.serving import load_member, split_texts, weighted_probabilities
from tune.train.checkpoint import load_checkpoint, save_checkpoint
from tune.train.inference import probabilities
from tune.train.loop import model_for

REPO = Path(__file__).resolve().parents[1]
# trial id, family, val_acc: two LSTMs and two GRUs, so one of each is outranked.
TRIALS = [("a", "gru", 0.71), ("b", "lstm", 0.69), ("c", "gru", 0.66), ("d", "rnn", 0.60)]
TRIALS += [("e", "lstm", 0.55)]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> PreparedData:
    cache = tmp_path_factory.mktemp("cache")
    return prepare_data(
        DataConfig(dataset="synthetic", synthetic_samples=600, cache_dir=str(cache))
    )


def trial_rows(data: PreparedData, root: Path) -> list[dict]:
    """One untrained model per trial (different seeds), saved as a trial saves its checkpoint."""
    rows = []
    for i, (tid, family, val_acc) in enumerate(TRIALS):
        torch.manual_seed(i)
        train = {"model": family, "embed_dim": 8, "hidden_dim": 8, "vectors": "none"}
        cfg = Config.from_dict({"train": train})
        model = model_for(cfg.train, len(data.vocab), len(data.class_names))
        folder = root / f"trial_{tid}" / "checkpoint_000000"
        save_checkpoint(
            folder,
            model,
            cfg,
            data.class_names,
            epoch=1,
            metrics={"val_acc": val_acc},
            vocab=data.vocab,
            val_probs=probabilities(model, data.val),
        )
        config = {"model": family, "lr": 1e-3 * (i + 1)}
        rows.append(
            {"trial_id": tid, "family": family, "config": config, "val_acc": val_acc,
             "checkpoint": str(folder), "status": "completed", "error": None}
        )  # fmt: skip
    return rows


def run_end_phase(data: PreparedData, run_dir: Path, keep_sources: bool = False, **kwargs):
    rows = trial_rows(data, run_dir)
    linear_path = run_dir / LINEAR_DIR / LINEAR_FILE
    linear_path.parent.mkdir(parents=True)
    end = finish(
        rows,
        data,
        run_dir,
        lambda: fit_baseline(data, 0, 1, linear_path),
        ensemble_candidates=3,
        family_kept={"a", "b", "d"},
        keep_sources=keep_sources,
        **kwargs,
    )
    return rows, end


def test_each_familys_best_is_exported_scored_and_its_sources_spent(data, tmp_path):
    rows, end = run_end_phase(data, tmp_path)
    assert set(end.best_by_family) == {"rnn", "lstm", "gru"}
    assert {f: r["trial_id"] for f, r in end.best_by_family.items()} == {
        "gru": "a",
        "lstm": "b",
        "rnn": "d",
    }
    for family, row in end.best_by_family.items():
        exported = Path(row["checkpoint"])
        assert exported.parent == tmp_path / BEST_DIR / family and exported.is_file()
        model = load_checkpoint(exported.parent, vocab=data.vocab).model
        assert row["test_acc"] == accuracy(probabilities(model, data.test), data.test.labels)
        assert sum(map(sum, row["test_confusion"])) == len(data.test)
    # Outranked (c, e: not kept by their family) and copied to best/ (a, b, d): all spent.
    assert end.spent == {"a", "b", "c", "d", "e"}
    # The ensemble and final model came from the top three by val_acc only.
    assert {m["trial_id"] for m in end.ensemble["members"]} <= {"a", "b", "c"}
    assert end.final is not None and "test_correct" not in end.final
    paired = end.baseline["vs_final"]
    final_right = round(end.final["test_acc"] * len(data.test))
    baseline_right = round(end.baseline["test_acc"] * len(data.test))
    assert (
        paired["final_only_right"] - paired["baseline_only_right"] == final_right - baseline_right
    )
    assert "test_correct" not in end.baseline and "val_probs" not in end.baseline


def test_with_cloud_storage_no_source_is_spent(data, tmp_path):
    _, end = run_end_phase(data, tmp_path, keep_sources=True)
    assert end.spent == set() and set(end.best_by_family) == {"rnn", "lstm", "gru"}


def test_the_warm_starts_points_are_matched_to_this_runs_trials(data, tmp_path):
    warm = {
        "source": "runs/earlier",
        "points": [
            {"trial_id": "x1", "val_acc": 0.8, "config": {"model": "lstm", "lr": 2e-3}},
            {"trial_id": "x2", "val_acc": 0.7, "config": {"model": "rnn", "lr": 0.5}},
        ],
        "skipped": 1,
        "known_trials": 4,
    }
    _, end = run_end_phase(data, tmp_path, warm_start=warm)
    first, second = end.warm_start["points"]
    assert first["trial_id"] == "b" and first["source_trial"] == "x1"
    assert 0 <= first["test_acc"] <= 1
    assert second["trial_id"] is None and second["test_acc"] is None
    assert (end.warm_start["skipped"], end.warm_start["known_trials"]) == (1, 4)


def test_the_end_phase_loads_neither_ray_nor_optuna():
    script = (
        "import json, sys\n"
        "import tune.outcome.end_phase\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'optuna'})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


COST_KEYS = {"latency_ms_p50", "latency_ms_p95", "rows_per_s", "size_mb", "parameters"}


def test_every_option_is_measured_and_predict_serves_it_as_the_end_phase_scored_it(data, tmp_path):
    _, end = run_end_phase(data, tmp_path)
    final = end.final
    assert final["measured_on"]["threads"] == 1 and final["measured_on"]["cpus"] >= 1
    texts = split_texts(data.test, data.vocab, len(data.test))
    for option in final["options"]:
        cost = option["cost"]
        assert set(cost) == COST_KEYS and 0 < cost["latency_ms_p50"] <= cost["latency_ms_p95"]
        files = [m["checkpoint"] for m in option["members"]]
        assert cost["size_mb"] == pytest.approx(sum(Path(f).stat().st_size for f in files) / 1e6)
        assert all(Path(f).is_file() for f in files)
        served = [(load_member(m["checkpoint"]), m["weight"]) for m in option["members"]]
        _, probs = weighted_probabilities(served, texts)
        assert accuracy(probs, data.test.labels) == option["test_acc"], option["kind"]
    assert final["cost"] == next(o["cost"] for o in final["options"] if o["chosen"])
    for row in end.best_by_family.values():
        assert set(row["cost"]) == COST_KEYS
        parameters = sum(
            p.numel() for p in load_checkpoint(Path(row["checkpoint"])).model.parameters()
        )
        assert row["cost"]["parameters"] == parameters


def test_under_a_latency_limit_the_final_is_the_best_option_within_it(data, tmp_path):
    _, free = run_end_phase(data, tmp_path / "free")
    latencies = sorted(o["cost"]["latency_ms_p50"] for o in free.final["options"])
    limit = latencies[len(latencies) // 2]  # about half the options within it
    _, end = run_end_phase(data, tmp_path / "limited", limits=(limit, None))
    final, found = end.final, end.final["options"]
    fits = [o for o in found if o["cost"]["latency_ms_p50"] <= limit]
    if fits:
        best = min(fits, key=lambda o: o["val_loss"])
        assert final["kind"] == best["kind"] and final["chosen_by"] == "validation, within limits"
        assert final["limits"]["excluded"] == [o["kind"] for o in found if o not in fits]
    # `rnn-tune report --max-latency-ms` chooses the same from summary.json alone.
    again = rechoose({"final": final, "baselines": {}}, limit, None)["final"]
    assert again["kind"] == final["kind"] and again["members"] == final["members"]
    # No option is that fast: the fastest is recommended, and the limits say none fitted.
    _, none = run_end_phase(data, tmp_path / "none", limits=(1e-6, None))
    fastest = min(none.final["options"], key=lambda o: o["cost"]["latency_ms_p50"])
    assert none.final["kind"] == fastest["kind"] and none.final["limits"]["fits"] is False
    assert "no option within limits" in none.final["chosen_by"]

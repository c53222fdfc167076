"""Reports from a real small sweep (real Ray, real Optuna), checked against the raw records."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import chromium_page, needs_chromium

from base.run_dir import final_model
from data.prepare import prepare_data
from models.linear import LinearTextModel
from results.headline import describe_final
from results.load import load_run
from results.tables import family_comparison, leaderboard
from tune.config import read_config_json
from tune.outcome.baseline import fit_baseline, paired_with_final
from tune.train.checkpoint import load_checkpoint
from tune.train.inference import probabilities

pytestmark = pytest.mark.slow


def rnn_tune(*args, env=None):
    return subprocess.run(
        ["rnn-tune", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "s.toml").write_text(
        "[train]\nepochs = 3\n[sweep]\nreduction_factor = 2\n[sweep.search]\n"
        'model = {choice = ["rnn", "gru", "lstm"]}\nlr = {loguniform = [1e-3, 2e-2]}\n'
        "hidden_dim = {choice = [16, 32]}\n"
    )
    result = rnn_tune(
        "sweep",
        "--config",
        str(root / "s.toml"),
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "600",
        "--embed-dim",
        "16",
        "--num-samples",
        "15",
        "--storage",
        str(root),
        "--name",
        "rep",
        "--no-dashboard",
        "--quiet",
        "--cache-dir",
        str(root / "cache"),
        env={"RNN_TUNE_FAULT": "nan:rnn"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "rep"


def raw_results(run_dir: Path) -> pd.DataFrame:
    lines = [json.loads(x) for x in (run_dir / "trials.jsonl").read_text().splitlines()]
    return pd.DataFrame(
        [{"trial_id": r["trial_id"], **r["metrics"]} for r in lines if r["event"] == "result"]
    )


def test_sweep_writes_report_and_tables_match_raw_results(run_dir):
    for name in ("report.md", "report.html", "trials.csv"):
        assert (run_dir / name).is_file()
    trials = pd.read_csv(run_dir / "trials.csv")
    raw = raw_results(run_dir)
    good = raw[raw["error"].isna()]
    assert len(trials) == 15 == raw["trial_id"].nunique()
    for _, row in trials.iterrows():
        mine = good[good["trial_id"] == row["trial_id"]]
        if len(mine):
            assert row["best_val_acc"] == pytest.approx(mine["val_acc"].max())
            assert row["final_val_acc"] == pytest.approx(
                mine.sort_values("epoch")["val_acc"].iloc[-1]
            )
            assert row["epochs"] == mine["epoch"].max()
    failed = trials[trials["status"] == "errored"]
    assert (
        set(failed["family"]) == {"rnn"}  # every rnn trial NaNs; how many TPE tries is its call
        and failed["error"].str.contains("NonFiniteLossError").all()
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert int((trials["status"] == "stopped_early").sum()) == summary["stopped_early"]

    run = load_run(run_dir)
    board = leaderboard(run.trials)
    assert board["best_val_acc"].is_monotonic_decreasing and board["best_val_acc"].iloc[
        0
    ] == pytest.approx(summary["best"]["val_acc"])
    families = family_comparison(
        run.trials, {("rep", f): b["test_acc"] for f, b in summary["by_family"].items()}
    )
    for _, row in families.iterrows():
        mine = trials[trials["family"] == row["family"]]
        assert row["trials"] == len(mine)
        if row["family"] in summary["by_family"]:
            assert row["best_val_acc"] == pytest.approx(
                summary["by_family"][row["family"]]["val_acc"]
            )
            assert row["test_acc_of_best"] == summary["by_family"][row["family"]]["test_acc"]
    md = (run_dir / "report.md").read_text()
    for heading in (
        "Leaderboard",
        "Model families",
        "Hyperparameter effects",
        "Confusion matrix",
        "Failed trials",
        "NonFiniteLossError",
    ):
        assert heading in md
    best, final = summary["best"], summary["final"]
    first = md.split("\n## ")[0]
    lines = first.split("\n- ")
    assert lines[1].startswith(f"**Use the {describe_final(final)[0]}**")
    assert f"**{final['test_acc']:.2%} (95% CI" in lines[1]
    assert "Chosen on validation log loss among: best single trial" in lines[1]
    assert lines[2].startswith(
        f"The RNNs alone (their ensemble): test {final['rnn']['test_acc']:.2%}"
    )
    assert "only by the RNNs" in lines[2]
    assert f"`rnn-tune predict {run_dir} " in first
    single = f"Best single trial: the {best['family'].upper()} of trial {best['trial_id']}"
    assert single in first
    assert f"{best['test_acc']:.2%} (95% CI" in first
    assert "## Final model" in md
    baseline = summary["baselines"]["tfidf_linear_svm"]
    against = f"Against TF-IDF + linear SVM (baseline) on the same splits (C {baseline['C']:g}"
    assert against in first
    assert "| TF-IDF + linear SVM (baseline) | — | — | — |" in md
    assert (
        f"{summary['trials']} trials ({summary['completed']} completed, "
        f"{summary['stopped_early']} stopped early" in first
    )
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("report.md", "report.html", "trials.csv", "summary.json", "effects.png"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o666 & ~umask, name


def test_in_progress_run_and_side_by_side(run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(
        run_dir, partial, ignore=shutil.ignore_patterns("summary.json", "report.*", "*.png")
    )
    lines = (partial / "trials.jsonl").read_text().splitlines()
    (partial / "trials.jsonl").write_text(
        "\n".join(lines[: len(lines) // 2]) + "\n" + lines[len(lines) // 2][:20]
    )
    result = rnn_tune("report", str(run_dir), str(partial), "--out", str(tmp_path / "both"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "both" / "report.md").read_text()
    assert "in progress or interrupted" in md and "| partial |" in md and "| rep |" in md
    assert set(pd.read_csv(tmp_path / "both" / "trials.csv")["run"]) == {"rep", "partial"}


def test_empty_or_foreign_directory_is_a_clear_error(tmp_path):
    result = rnn_tune("report", str(tmp_path))
    assert result.returncode == 2 and "not an rnn-tune run directory" in result.stderr
    assert "Traceback" not in result.stderr


@needs_chromium
def test_html_report_renders_in_headless_chromium(run_dir, tmp_path):
    with chromium_page(1280, 900) as page:
        page.goto((run_dir / "report.html").as_uri(), wait_until="load")
        summary = json.loads((run_dir / "summary.json").read_text())
        headline = page.locator("ul.headline").inner_text()
        final = summary["final"]
        assert f"Use the {describe_final(final)[0]}" in headline
        assert f"test accuracy {final['test_acc']:.2%} (95% CI" in headline
        for family, row in summary["by_family"].items():
            assert f"{family.upper()} {row['test_acc']:.2%}" in headline
        assert f"{summary['trials']} trials" in headline
        assert f"rnn-tune predict {run_dir}" in headline
        # Every table and the page itself fit a 1280 px window: nothing to scroll sideways.
        widths = page.eval_on_selector_all(
            "div.table", "els => els.map(e => [e.scrollWidth, e.clientWidth])"
        )
        assert len(widths) >= 4 and all(scroll <= client for scroll, client in widths), widths
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth])"
        )
        assert len(images) == 2 and all(done and width > 100 for done, width in images)
        # The effects plot names each point's trial and settings on hover (SVG <title>).
        tips = page.locator("figure.effects svg title").all_text_contents()
        trials = pd.read_csv(run_dir / "trials.csv").dropna(subset=["best_val_acc"])
        ranked = list(
            trials.sort_values(["best_val_acc", "epochs"], ascending=[False, True])["trial_id"]
        )
        assert tips
        for tip in tips:
            rank, family, trial_id = tip.split(":")[0].split()
            row = trials[trials["trial_id"] == trial_id].iloc[0]
            assert rank == f"#{ranked.index(trial_id) + 1}" and family == row["family"]
            assert f"val {row['best_val_acc']:.2%}" in tip and f"lr {row['lr']:.2e}" in tip
        assert page.locator("h2", has_text="Leaderboard").count() == 1
        assert page.locator("figcaption").count() == 0
        assert page.errors == []


def test_report_reads_only_the_runs_own_study_and_writes_no_database(run_dir, tmp_path):
    victim = tmp_path / "elsewhere.db"
    with sqlite3.connect(victim) as con:
        con.execute("create table keep (x)")
    before = victim.read_bytes()
    copy = tmp_path / "rep"
    shutil.copytree(run_dir, copy)
    summary = json.loads((copy / "summary.json").read_text())
    summary["optuna_storage"] = f"sqlite:///{tmp_path / 'created.db'}"
    (copy / "summary.json").write_text(json.dumps(summary))
    config = json.loads((copy / "config.json").read_text())
    config["sweep"]["optuna_storage"] = f"sqlite:///{victim}"
    (copy / "config.json").write_text(json.dumps(config))
    study = (copy / "optuna.db").read_bytes()

    result = rnn_tune("report", str(copy))
    assert result.returncode == 0, result.stderr
    assert victim.read_bytes() == before and not (tmp_path / "created.db").exists()
    assert (copy / "optuna.db").read_bytes() == study
    assert "Optuna's importances (PED-ANOVA)" in (copy / "report.md").read_text()

    (copy / "optuna.db").unlink()  # a run without a study: the report says less, creates none
    assert rnn_tune("report", str(copy)).returncode == 0
    assert not (copy / "optuna.db").exists()
    assert "Optuna's importances" not in (copy / "report.md").read_text()


def final_test_probs(summary: dict, data) -> np.ndarray:
    """The final model rescored from its files: each member's test probabilities (an RNN
    checkpoint, or the linear model's arrays), averaged with the members' weights."""
    total = 0.0
    members = final_model(summary).members
    for m in members:
        if m["family"] == "linear":
            probs = LinearTextModel.load(m["checkpoint"]).probabilities(
                data.test.ids, data.test.offsets
            )
        else:
            probs = probabilities(load_checkpoint(m["checkpoint"]).model, data.test)
        total = total + m["weight"] * probs
    return total / sum(m["weight"] for m in members)


def test_paired_test_against_the_baseline_is_rescored_row_by_row(run_dir):
    """summary.json's paired test is the final model's and the baseline's test rows, aligned."""
    summary = json.loads((run_dir / "summary.json").read_text())
    cfg = read_config_json(run_dir / "config.json")
    data = prepare_data(cfg.data)
    final_correct = final_test_probs(summary, data).argmax(1) == data.test.labels
    assert final_correct.mean() == pytest.approx(summary["final"]["test_acc"])
    baseline = fit_baseline(data, cfg.train.seed)
    expected = paired_with_final(baseline.pop("test_correct"), final_correct)
    assert summary["baselines"]["tfidf_linear_svm"]["vs_final"] == expected
    assert 0 < expected["final_only_right"] + expected["baseline_only_right"] < len(data.test)
    first = (run_dir / "report.md").read_text().split("\n## ")[0]
    assert f"only by the baseline: McNemar p = {expected['p_value']:.2g})" in first


def test_ensemble_is_chosen_on_validation(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    ensemble = summary["ensemble"]
    by_k = {int(k): v for k, v in ensemble["val_acc_by_k"].items()}
    assert ensemble["val_acc"] == max(by_k.values()) and ensemble["k"] == max(
        k for k, v in by_k.items() if v == ensemble["val_acc"]
    )
    assert len(by_k) >= 2 and ensemble["val_acc"] >= by_k[1]
    trials = pd.read_csv(run_dir / "trials.csv").dropna(subset=["best_val_acc"])
    top = trials.sort_values("best_val_acc", ascending=False)["best_val_acc"].head(ensemble["k"])
    members = [m["val_acc"] for m in ensemble["members"]]
    assert members == pytest.approx(list(top)) and members[0] == summary["best"]["val_acc"]
    for member in ensemble["members"]:
        assert Path(member["checkpoint"]).is_file()
        assert Path(member["checkpoint"]).parent == run_dir / "ensemble" / member["trial_id"]


def test_predict_run_dir_serves_the_final_model_with_its_weights(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["final"]
    assert final["val_acc"] == max(o["val_acc"] for o in final["options"]) or (
        final["chosen_by"] == "paired test"
    )
    text = "a text to classify"
    combined = json.loads(rnn_tune("predict", str(run_dir), text, "--json").stdout)
    alone = [
        json.loads(rnn_tune("predict", m["checkpoint"], text, "--json").stdout)["probabilities"]
        for m in final["members"]
    ]
    total = sum(m["weight"] for m in final["members"])
    for name, p in combined["probabilities"].items():
        expected = sum(m["weight"] * a[name] for m, a in zip(final["members"], alone)) / total
        assert p == pytest.approx(expected, abs=1e-6)
    assert combined["label"] == max(combined["probabilities"], key=combined["probabilities"].get)
    linear = json.loads(
        rnn_tune("predict", str(run_dir / "linear" / "model.npz"), text, "--json").stdout
    )
    assert sum(linear["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


@needs_chromium
def test_the_serving_costs_on_the_page_are_the_measured_ones(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["final"]
    entries = [(o["kind"], o) for o in final["options"]]
    entries += list(summary["by_family"].items())
    with chromium_page(1280, 900) as page:
        page.goto((run_dir / "report.html").as_uri(), wait_until="load")
        headline = page.locator("ul.headline").inner_text()
        assert f"Serving it costs {final['cost']['latency_ms_p50']:.1f} ms per request" in headline
        rows = page.locator(
            "xpath=//h2[text()='Serving cost']/following-sibling::div[1]//tbody/tr"
        ).all_inner_texts()
        assert len(rows) == len(entries)
        for label, entry in entries:
            row = next(r for r in rows if r.startswith(label + "\t"))
            cost = entry["cost"]
            for shown in (
                f"{entry['test_acc']:.2%}",
                f"{cost['latency_ms_p50']:.2f}",
                f"{cost['latency_ms_p95']:.2f}",
                f"{cost['size_mb']:.2f}",
                str(cost["parameters"]),
            ):
                assert shown in row.split("\t"), (label, shown, row)
        tips = page.locator("figure.trade svg title").all_text_contents()
        assert len(tips) == len(entries)
        for label, entry in entries:
            tip = next(t for t in tips if t.split(":")[0].split(" (")[0] == label)
            assert f"test {entry['test_acc']:.2%}, {entry['cost']['latency_ms_p50']:.2f} ms" in tip
        assert sum("on the Pareto front" in t for t in tips) >= 1
        assert page.errors == []


def test_report_rechooses_under_a_latency_limit_without_training(run_dir, tmp_path):
    summary = json.loads((run_dir / "summary.json").read_text())
    found = summary["final"]["options"]
    latencies = sorted(o["cost"]["latency_ms_p50"] for o in found)
    limit = latencies[0] * 1.01  # the fastest option fits, at least
    before = sorted(p.name for p in run_dir.rglob("model.pt"))
    done = rnn_tune("report", str(run_dir), "--out", str(tmp_path), "--max-latency-ms", f"{limit}")
    assert done.returncode == 0, done.stderr[-2000:]
    best = min(
        (o for o in found if o["cost"]["latency_ms_p50"] <= limit), key=lambda o: o["val_loss"]
    )
    first = (tmp_path / "report.md").read_text().split("\n## ")[0]
    name = describe_final({**best, "members": best["members"]})[0]
    assert f"**Use the {name}**" in first and f"at most {limit:g} ms per request" in first
    assert sorted(p.name for p in run_dir.rglob("model.pt")) == before  # nothing trained
    bad = rnn_tune("report", str(run_dir), "--out", str(tmp_path), "--max-latency-ms", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_predict_serves_each_option_with_its_members(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    text = "a text to classify"
    for option in [o["kind"] for o in summary["final"]["options"]] + ["gru"]:
        served = rnn_tune("predict", str(run_dir), text, "--option", option, "--json")
        assert served.returncode == 0, served.stderr[-2000:]
        members = (
            [{"checkpoint": summary["by_family"]["gru"]["checkpoint"], "weight": 1.0}]
            if option == "gru"
            else next(o for o in summary["final"]["options"] if o["kind"] == option)["members"]
        )
        alone = [
            json.loads(rnn_tune("predict", m["checkpoint"], text, "--json").stdout) for m in members
        ]
        total = sum(m["weight"] for m in members)
        for name, p in json.loads(served.stdout)["probabilities"].items():
            expected = sum(m["weight"] * a["probabilities"][name] for m, a in zip(members, alone))
            assert p == pytest.approx(expected / total, abs=1e-6), option
    bad = rnn_tune("predict", str(run_dir), text, "--option", "cnn")
    assert bad.returncode == 2 and "has no option 'cnn'" in bad.stderr

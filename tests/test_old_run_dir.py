"""A run directory written by the code before the tune/train, tune/sweep, tune/outcome layout:
Ray's tuner.pkl and the searcher's state pickle classes by their old module paths
(tune/moved.py). A sweep killed on that code resumes and reports on this one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from common import checkout_before
from processes import kill_tree

REPO = Path(__file__).resolve().parents[1]
BEFORE_LAYOUT = "4b8b367"  # main before the layout change
OLD_PATHS = (b"tune.optuna_search", b"tune.records", b"tune.pruning", b"tune.ray_state")

pytestmark = pytest.mark.slow


def old_tree(rev: str = BEFORE_LAYOUT) -> Path:
    """`rev` checked out beside this tree (benchmarks/common.py), or a skip where the checkout
    has no history (a shallow clone, an unpacked archive)."""
    known = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True
    )
    if known.returncode != 0:
        pytest.skip(f"commit {rev} is not in this checkout's history")
    return checkout_before(rev)


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def killed_old_sweep(old: Path, storage: Path, name: str, *args: str) -> Path:
    """A 4-trial synthetic sweep run on the `old` tree, its driver killed once two trials have
    finished (the sweep half done); returns its run directory."""
    driver = subprocess.Popen(
        [sys.executable, "-m", "tune.cli.main", "sweep", "--dataset", "synthetic",
         "--synthetic-samples", "12000", "--num-samples", "4", "--epochs", "3",
         "--grace-period", "3", "--max-concurrent", "1", *args, "--hidden-dim", "16",
         "--no-dashboard", "--no-report", "--quiet", "--storage", str(storage), "--name", name],
        cwd=old,
        env={**os.environ, "PYTHONPATH": str(old)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    run_dir = storage / name
    deadline = time.time() + 300
    while time.time() < deadline and sum(r["event"] == "complete" for r in records(run_dir)) < 2:
        assert driver.poll() is None, driver.stderr.read().decode()[-3000:]
        time.sleep(0.5)
    time.sleep(2)  # Ray snapshots its experiment state every second
    kill_tree(driver)
    return run_dir


def resume(run_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """`rnn-tune sweep --resume RUN_DIR ARGS` on this tree, which must succeed: its result and
    the trials it started."""
    before = len(records(run_dir))
    done = subprocess.run(
        ["rnn-tune", "sweep", "--resume", str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, {r["trial_id"] for r in records(run_dir)[before:] if r["event"] == "start"}


def test_a_sweep_killed_on_the_old_layout_resumes_and_reports_on_the_new(tmp_path):
    run_dir = killed_old_sweep(old_tree(), tmp_path, "old", "--embed-dim", "16")
    finished = {r["trial_id"] for r in records(run_dir) if r["event"] == "complete"}
    assert 2 <= len(finished) < 4 and not (run_dir / "summary.json").exists()
    pickled = (run_dir / "tuner.pkl").read_bytes()
    assert all(path in pickled for path in OLD_PATHS), "the old code pickled other paths"
    searcher = max(run_dir.glob("searcher-state-*.pkl"), key=lambda p: p.stat().st_mtime)
    assert b"tune.optuna_search" in searcher.read_bytes()
    _, rerun = resume(run_dir, "--quiet", "--no-report")
    assert not finished & rerun
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["completed"] == 4

    report = subprocess.run(
        ["rnn-tune", "report", str(run_dir)], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stderr[-3000:]
    first = (run_dir / "report.md").read_text().split("\n## ")[0]
    assert "**Use the " in first and "Against TF-IDF + linear SVM" in first


BEFORE_NAMED_VECTORS = "d8f5edd"  # main before named vectors: --vectors was a file path only


def test_a_sweep_with_a_vectors_file_killed_before_named_vectors_resumes_and_reports(tmp_path):
    """config.json from before `vectors` was searchable (no embed_lr_scale, no vector_files)
    still loads; the file is read again, each resumed trial starts from it, and the report
    names it."""
    old = old_tree(BEFORE_NAMED_VECTORS)
    vectors = tmp_path / "vectors.txt"
    words = ["alpha", "beta", "gamma", "delta"]
    vectors.write_text("".join(f"{w} {i} 0.5 -0.5 1 0\n" for i, w in enumerate(words)))
    run_dir = killed_old_sweep(old, tmp_path, "oldvec", "--vectors", str(vectors))
    config = json.loads((run_dir / "config.json").read_text())
    assert "vector_files" not in config["train"] and config["train"]["embed_dim"] == 5
    before = len(records(run_dir))

    resumed = subprocess.run(
        ["rnn-tune", "sweep", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"vectors {vectors}: 4 of" in resumed.stdout
    assert any(r["event"] == "start" for r in records(run_dir)[before:])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["completed"] == 4
    report = (run_dir / "report.md").read_text()
    assert "Pre-trained vectors" in report and str(vectors) in report


BEFORE_ROOMS = "fa1f6b0"  # main before the driver's rooms and the ground floor (base/)


def test_a_sweep_killed_before_the_driver_rooms_resumes_and_reports(tmp_path):
    """Its tuner.pkl names the trial namer in tune.sweep.driver (now tune/sweep/tuner.py)."""
    run_dir = killed_old_sweep(old_tree(BEFORE_ROOMS), tmp_path, "rooms", "--embed-dim", "16")
    finished = {r["trial_id"] for r in records(run_dir) if r["event"] == "complete"}
    assert b"tune.sweep.driver" in (run_dir / "tuner.pkl").read_bytes()
    _, rerun = resume(run_dir)
    assert not finished & rerun
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["completed"] == 4
    assert summary["final"] is not None and set(summary["by_family"]) <= {"rnn", "lstm", "gru"}
    first = (run_dir / "report.md").read_text().split("\n## ")[0]
    assert "**Use the " in first and "Against TF-IDF + linear SVM" in first

"""A driver killed in the end phase of a sweep, with the three records made to disagree the ways a
kill leaves them (benchmarks/kill_soak.py finds them at random moments): `--resume` repairs each,
says so in one line each, reruns no finished trial, and finishes the end phase."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from processes import kill_tree

from tune.sweep.reconcile import RAY_TRIAL_ATTR

pytestmark = pytest.mark.slow

ARGS = [
    "--dataset", "synthetic", "--synthetic-samples", "20000", "--num-samples", "3",
    "--epochs", "1", "--grace-period", "1", "--max-concurrent", "1",
    "--embed-dim", "16", "--hidden-dim", "16", "--no-dashboard", "--no-report", "--quiet",
]  # fmt: skip


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]


def test_resume_after_a_kill_in_the_end_phase_repairs_every_disagreement(tmp_path):
    run_dir = tmp_path / "run"
    driver = subprocess.Popen(
        ["rnn-tune", "sweep", "--storage", str(tmp_path), "--name", "run", *ARGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RNN_TUNE_FAULT": "end_pause:120"},
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (run_dir / "best").exists():
        time.sleep(0.02)
    kill_tree(driver)  # mid end phase: ensemble built, best of each family next
    assert not (run_dir / "summary.json").exists()
    before = records(run_dir)
    finished = {r["trial_id"] for r in before if r["event"] == "complete"}
    assert len(finished) == 3

    # Ray's snapshot behind the records: a finished trial still RUNNING there.
    state_path = sorted(run_dir.glob("experiment_state-*.json"))[-1]
    state = json.loads(state_path.read_text())
    trial = json.loads(state["trial_data"][0][0])
    trial["status"] = "RUNNING"
    state["trial_data"][0][0] = json.dumps(trial)
    state_path.write_text(json.dumps(state))
    # A trial that started as the driver died: in the records and the study, unknown to Ray.
    start = {**before[0], "trial_id": "deadbeef", "time": time.time()}
    study = optuna.load_study(study_name="run", storage=f"sqlite:///{run_dir}/optuna.db")
    orphan = study.ask()
    orphan.set_user_attr(RAY_TRIAL_ATTR, "deadbeef")
    (run_dir / "run_deadbeef" / "checkpoint_000000").mkdir(parents=True)
    with open(run_dir / "trials.jsonl", "a") as f:
        f.write(json.dumps(start) + "\n")
        f.write('{"event": "result", "trial_id": "dead')  # cut mid-line by the kill
    with_orphan = len(records_text := (run_dir / "trials.jsonl").read_text().splitlines())
    assert with_orphan == len(before) + 2 and records_text[-1].endswith('"dead')

    result = subprocess.run(
        ["rnn-tune", "sweep", "--resume", str(run_dir), "--quiet", "--no-report"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    repaired = [line for line in result.stdout.splitlines() if line.startswith("repaired: ")]
    assert any("a record cut short by the kill was removed" in line for line in repaired)
    assert any(f"trial {trial['trial_id']} had ended (complete)" in line for line in repaired)
    assert any("trial deadbeef started as the driver was killed" in line for line in repaired)
    assert any(f"Optuna trial {orphan.number} (deadbeef)" in line for line in repaired)
    assert len(repaired) == 4, repaired

    after = records(run_dir)
    assert after[: len(before)] == before  # nothing of the finished trials was rewritten
    assert not [r for r in after[len(before) :] if r["event"] == "start"]  # none ran again
    assert "deadbeef" not in {r["trial_id"] for r in after}
    assert not (run_dir / "run_deadbeef").exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 3 and summary["completed"] == 3 and summary["ensemble"]
    assert all(Path(row["checkpoint"]).is_file() for row in summary["by_family"].values())
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and len(states) == 4
    report = subprocess.run(
        ["rnn-tune", "report", str(run_dir)], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stderr[-2000:]

"""Faults injected into real sweeps: a trial process killed mid-epoch, two drivers on one run
directory, a disk that fills up. Each ends as a user would expect, losing nothing finished."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TINY = ["--embed-dim", "16", "--hidden-dim", "16", "--no-dashboard", "--no-report", "--quiet"]


def sweep_args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return [
        "rnn-tune",
        "sweep",
        "--dataset",
        "synthetic",
        "--storage",
        str(tmp_path),
        "--name",
        name,
        *TINY,
        *extra,
    ]


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run(args: list[str], env: dict | None = None, timeout: int = 600):
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_trial_process_killed_mid_epoch_is_retried_from_its_last_checkpoint(tmp_path):
    marker = tmp_path / "killed"
    args = sweep_args(
        tmp_path, "kill", "--synthetic-samples", "2000", "--num-samples", "1", "--epochs", "3"
    )
    result = run(args, env={"RNN_TUNE_FAULT": f"kill_once:2:{marker}"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker.exists()  # the process did die, halfway through epoch 2
    summary = json.loads((tmp_path / "kill" / "summary.json").read_text())
    assert summary["completed"] == 1 and summary["errored"] == 0
    epochs = [
        (r["metrics"]["epoch"], r["metrics"]["resumed_from_epoch"])
        for r in records(tmp_path / "kill")
        if r["event"] == "result"
    ]
    assert epochs == [(1, 0), (2, 1), (3, 1)]  # epoch 2 ran again from epoch 1's checkpoint


def test_a_second_sweep_on_a_busy_run_directory_refuses_at_once(tmp_path):
    args = sweep_args(
        tmp_path,
        "busy",
        "--synthetic-samples",
        "20000",
        "--num-samples",
        "3",
        "--epochs",
        "2",
        "--grace-period",
        "2",
        "--max-concurrent",
        "1",
    )
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = tmp_path / "busy"
    deadline = time.time() + 300
    while time.time() < deadline and not any(r["event"] == "result" for r in records(run_dir)):
        time.sleep(0.5)
    config_before = (run_dir / "config.json").read_bytes()
    for second in (args, ["rnn-tune", "sweep", "--resume", str(run_dir), "--quiet"]):
        started = time.time()
        result = run(second, timeout=120)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "is in use by another rnn-tune sweep" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and time.time() - started < 30
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert (run_dir / "config.json").read_bytes() == config_before
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 3 and summary["completed"] == 3
    starts = [r["trial_id"] for r in records(run_dir) if r["event"] == "start"]
    assert len(starts) == len(set(starts)) == 3
    assert not (run_dir / ".sweep.lock").exists()


def test_a_sweep_that_fails_inside_ray_init_leaves_no_run_directory(tmp_path):
    # Ray makes its session folder under $RAY_TMPDIR first thing in ray.init: a file there fails it.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    storage = tmp_path / "runs"
    result = run(
        sweep_args(storage, "never", "--num-samples", "1"), env={"RAY_TMPDIR": str(blocker / "ray")}
    )
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("rnn-tune sweep: error: Not a directory"), last
    assert f"removed {storage / 'never'}: the sweep stopped before its first trial" in result.stdout
    assert not (storage / "never").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MiB file system (tmpfs): needs root, skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_ends_the_sweep_with_one_line_and_the_report_reads_every_finished_trial(
    small_disk, tmp_path
):
    args = sweep_args(
        small_disk,
        "full",
        "--synthetic-samples",
        "2000",
        "--num-samples",
        "20",
        "--epochs",
        "3",
        "--embed-dim",
        "64",
        "--hidden-dim",
        "64",
        "--max-concurrent",
        "1",
    )
    result = run(args)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "no space left on the device holding" in last and "--resume" in last, last
    run_dir = small_disk / "full"
    finished = {r["trial_id"] for r in records(run_dir) if r["event"] == "complete"}
    assert finished, "the disk filled before any trial finished: make the disk larger"
    report = run(["rnn-tune", "report", str(run_dir), "--out", str(tmp_path / "report")])
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "trials.csv").read_text()
    assert all(trial_id in table for trial_id in finished)

"""A real two-node Ray cluster on this machine (two raylets): sweeps across nodes, Ray Jobs, the
dashboard, and losing a worker node mid-sweep."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium_page, sign_in_to_dashboard

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster

    port, client_port = free_port(), free_port()
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": True,
            "dashboard_host": "127.0.0.1",
            "dashboard_port": port,
            "ray_client_server_port": client_port,
        },
    )
    worker = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    c.dashboard_port, c.client_port, c.worker = port, client_port, worker
    yield c
    c.shutdown()


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def sweep_args(
    storage: Path, name: str, samples: int = 4, epochs: int = 2, rows: int = 600
) -> list[str]:
    return [
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        str(rows),
        "--num-samples",
        str(samples),
        "--epochs",
        str(epochs),
        "--grace-period",
        str(epochs),
        "--embed-dim",
        "16",
        "--hidden-dim",
        "16",
        "--storage",
        str(storage),
        "--name",
        name,
        "--no-report",
        "--quiet",
    ]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_sweep_spans_both_nodes_with_dashboard(cluster, tmp_path):
    api = f"http://127.0.0.1:{cluster.dashboard_port}"
    # Trials long enough (15,000 rows) that the second node gets some before the first has run
    # them all.
    proc = subprocess.Popen(
        [
            "rnn-tune",
            "sweep",
            "--address",
            cluster.address,
            *sweep_args(tmp_path, "two", rows=15000),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    while not records(tmp_path / "two") and proc.poll() is None:
        time.sleep(0.5)
    version = get_json(f"{api}/api/version")
    nodes = get_json(f"{api}/nodes?view=summary")
    assert version["ray_version"] and len(nodes["data"]["summary"]) == 2
    jobs = get_json(f"{api}/api/jobs/")
    assert any((j.get("metadata") or {}).get("rnn_tune_sweep") == "two" for j in jobs)
    actors = dashboard_actors_text(api)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    node_ids = {
        r["metrics"]["node_id"] for r in records(tmp_path / "two") if r["event"] == "result"
    }
    assert len(node_ids) == 2
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["completed"] == 4
    if actors is not None:
        started = {r["trial_id"] for r in records(tmp_path / "two") if r["event"] == "start"}
        assert any(f"two trial {trial_id} " in actors for trial_id in started), actors[-2000:]


def dashboard_actors_text(url: str) -> str | None:
    """The dashboard's Actors view as a user reads it (signed in where the token is asked)."""
    if CHROMIUM is None:
        return None
    with chromium_page() as page:
        sign_in_to_dashboard(page, url)
        page.goto(f"{url}/#/actors", wait_until="networkidle")
        page.wait_for_function("document.body.innerText.includes('RNNTuneTrial')", timeout=30_000)
        return page.inner_text("body")


def test_ray_job_runs_a_sweep(cluster, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(f"http://127.0.0.1:{cluster.dashboard_port}")
    entrypoint = "rnn-tune sweep " + " ".join(sweep_args(tmp_path, "job", samples=2)).replace(
        "--quiet", ""
    )
    job = client.submit_job(
        entrypoint=entrypoint,
        runtime_env={
            "working_dir": str(REPO),
            "excludes": [".venv", ".git", "runs", "*.egg-info", "__pycache__", ".pytest_cache"],
        },
    )
    deadline = time.time() + 600
    while (
        client.get_job_status(job) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED)
        and time.time() < deadline
    ):
        time.sleep(1)
    logs = client.get_job_logs(job)
    assert client.get_job_status(job) == JobStatus.SUCCEEDED, logs[-3000:]
    assert (
        f"summary: {tmp_path / 'job' / 'summary.json'}" in logs and "trials 2: completed 2" in logs
    )
    assert (tmp_path / "job" / "summary.json").is_file()


def test_ray_client_address(cluster, tmp_path):
    result = subprocess.run(
        [
            "rnn-tune",
            "sweep",
            "--address",
            f"ray://127.0.0.1:{cluster.client_port}",
            *sweep_args(tmp_path, "client", samples=2),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "client" / "summary.json").read_text())["completed"] == 2


def test_losing_the_worker_node_retries_trials_on_the_head(cluster, tmp_path):
    proc = subprocess.Popen(
        [
            "rnn-tune",
            "sweep",
            "--address",
            cluster.address,
            *sweep_args(tmp_path, "kill", samples=2, epochs=4, rows=15000),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker_id = cluster.worker.node_id
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        on_worker = [
            r
            for r in records(tmp_path / "kill")
            if r["event"] == "result" and r["metrics"]["node_id"] == worker_id
        ]
        if on_worker:
            break
        time.sleep(0.2)
    assert on_worker, "no trial reported from the worker node"
    cluster.remove_node(cluster.worker)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    summary = json.loads((tmp_path / "kill" / "summary.json").read_text())
    assert summary["completed"] == 2 and summary["errored"] == 0
    moved = {
        r["trial_id"]
        for r in records(tmp_path / "kill")
        if r["event"] == "result" and r["metrics"]["node_id"] == worker_id
    }
    resumed = [
        r
        for r in records(tmp_path / "kill")
        if r["event"] == "result"
        and r["trial_id"] in moved
        and r["metrics"]["node_id"] != worker_id
    ]
    assert resumed and all(r["metrics"]["resumed_from_epoch"] >= 1 for r in resumed)

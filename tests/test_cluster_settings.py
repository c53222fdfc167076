"""Cluster settings: run storage on a cloud URI (a real S3 API: moto on 127.0.0.1, via pyarrow)
and dashboard binding."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from tune.config import Config
from tune.sweep.cluster import dashboard_warning
from tune.sweep.tuner import experiment_location

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def test_experiment_location_for_paths_and_uris(tmp_path):
    local = Config.from_dict({"sweep": {"storage": str(tmp_path), "name": "a"}})
    assert experiment_location(local, tmp_path / "a") == (str(tmp_path), str(tmp_path / "a"))
    remote = Config.from_dict(
        {"sweep": {"storage": "s3://bucket/runs/?endpoint_override=h:1&scheme=http", "name": "a"}}
    )
    assert experiment_location(remote, tmp_path / "a") == (
        "s3://bucket/runs/?endpoint_override=h:1&scheme=http",
        "s3://bucket/runs/a?endpoint_override=h:1&scheme=http",
    )


def test_dashboard_binds_loopback_unless_told_and_warns():
    assert Config().sweep.dashboard_host == "127.0.0.1" and dashboard_warning(Config()) is None
    exposed = Config.from_dict({"sweep": {"dashboard_host": "0.0.0.0"}})
    assert "CVE-2023-48022" in dashboard_warning(exposed) and "0.0.0.0:8265" in dashboard_warning(
        exposed
    )
    assert (
        dashboard_warning(
            Config.from_dict({"sweep": {"dashboard_host": "0.0.0.0", "dashboard": False}})
        )
        is None
    )


@pytest.fixture
def s3_endpoint():
    if not shutil.which("moto_server"):
        pytest.skip("moto_server not installed (pip install -e '.[dev]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.slow
def test_sweep_and_promote_keep_checkpoints_in_s3(s3_endpoint, tmp_path):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        **{k.lower(): v for k, v in CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"},
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="runs")
    uri = f"s3://runs/sweeps?endpoint_override={s3_endpoint.removeprefix('http://')}&scheme=http&region=us-east-1"
    env = {**os.environ, **CREDENTIALS, "RNN_TUNE_LOCAL_RUNS": str(tmp_path)}
    result = subprocess.run(
        [
            "rnn-tune",
            "sweep",
            "--dataset",
            "synthetic",
            "--synthetic-samples",
            "400",
            "--num-samples",
            "2",
            "--epochs",
            "2",
            "--embed-dim",
            "16",
            "--hidden-dim",
            "16",
            "--storage",
            uri,
            "--name",
            "s3run",
            "--no-dashboard",
            "--no-report",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="runs")["Contents"]]
    assert any(k.startswith("sweeps/s3run/") and k.endswith("/model.pt") for k in keys)
    assert not any(p.name.startswith("checkpoint_") for p in tmp_path.rglob("*"))
    summary = json.loads((tmp_path / "s3run" / "summary.json").read_text())
    assert summary["completed"] + summary["stopped_early"] == 2
    predicted = subprocess.run(
        ["rnn-tune", "predict", summary["best"]["checkpoint"], "w1 alpha beta gamma delta"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert predicted.returncode == 0, predicted.stderr
    promoted = subprocess.run(  # a run started from a cloud-storage run, into the same bucket
        ["rnn-tune", "promote", str(tmp_path / "s3run"), "--top", "2", "--name", "promoted",
         "--no-dashboard", "--no-report", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="runs")["Contents"]]
    assert any(k.startswith("sweeps/promoted/") and k.endswith("/model.pt") for k in keys)
    points = json.loads((tmp_path / "promoted" / "summary.json").read_text())["warm_start"]
    assert len(points["points"]) == 2 and all(p["test_acc"] for p in points["points"])

"""The live view without a sweep: the monitor's state from a run directory's plain files, its
server and command, and the terminal progress bar."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from results.live import live_state
from results.live_server import StateCache, make_server
from tune.config import Config, write_config_json
from tune.progress import sweep_line
from tune.sweep.records import LiveProgress

T0 = 1_800_000_000.0


def record(event: str, trial: str, t: float, **extra) -> dict:
    return {"event": event, "trial_id": trial, "time": T0 + t, "config": {"lr": 0.01}, **extra}


def epoch(trial: str, t: float, n: int, acc: float, model: str = "lstm") -> dict:
    metrics = {
        "epoch": n,
        "val_acc": acc,
        "model": model,
        "device": "cpu",
        "node_ip": "10.0.0.7",
        "actor_id": f"actor-{trial}",
        "epoch_s": 1.0,
        "train_samples_per_s": 100.0,
        "parameters": 10,
        "cpus": 1.0,
        "error": None,
    }
    return record("result", trial, t, metrics=metrics)


def write_run(tmp_path: Path, records: list[dict], driver: dict | None = None) -> Path:
    """A run directory as a sweep of 4 trials within 10 minutes writes it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = Config.from_dict(
        {
            "sweep": {
                "num_samples": 4,
                "time_budget_s": 600,
                "search": {"lr": {"loguniform": [1e-3, 1e-1]}},
            }
        }
    )
    write_config_json(cfg, run_dir / "config.json")
    (run_dir / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if driver is not None:
        (run_dir / "driver.json").write_text(json.dumps(driver))
    return run_dir


RECORDS = [
    record("start", "a", 0),
    record("start", "b", 1),
    epoch("a", 10, 1, 0.50),
    epoch("b", 11, 1, 0.60),
    epoch("a", 20, 2, 0.70),
    record("complete", "a", 21),
    epoch("b", 22, 2, 0.65),
]


def test_a_running_sweep_shows_leaderboard_running_trials_and_time_left(tmp_path):
    driver = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": T0,
        "dashboard": "http://127.0.0.1:8265",
        "token_auth": True,
        "metrics": ["http://10.0.0.7:9000/metrics"],
    }
    state = live_state(write_run(tmp_path, RECORDS, driver), now=T0 + 120)
    assert state["state"] == "running" and state["epochs_reported"] == 4
    assert [(r["trial_id"], r["best_val_acc"]) for r in state["leaderboard"]] == [
        ("a", 0.70),
        ("b", 0.65),
    ]
    assert state["leaderboard"][0]["status"] == "stopped_early"  # 2 of the default 6 epochs
    assert state["running"] == [
        {
            "trial_id": "b",
            "family": "lstm",
            "epoch": 2,
            "val_acc": 0.65,
            "node": "10.0.0.7",
            "device": "cpu",
            "link": "http://127.0.0.1:8265/#/actors/actor-b",
        }
    ]
    assert state["budget"] == "1 of 4 trials finished, time left 8m00s of 10m00s"
    assert [(p["val_acc"], p["trial_id"]) for p in state["best_over_time"]] == [
        (0.5, "a"),
        (0.6, "b"),
        (0.7, "a"),
    ]
    curves = {c["trial_id"]: c for c in state["curves"]}
    assert curves["b"]["epoch"] == [1, 2] and curves["b"]["val_acc"] == [0.6, 0.65]
    assert "lr=0.01" in curves["a"]["config"] and "model=lstm" in curves["a"]["config"]
    assert state["dashboard"] == "http://127.0.0.1:8265" and state["token_auth"]


def test_a_run_whose_driver_is_gone_reads_as_stopped_with_no_time_left(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    driver = {"host": socket.gethostname(), "pid": gone.pid, "started": T0}
    state = live_state(write_run(tmp_path, RECORDS, driver), now=T0 + 120)
    assert state["state"] == "stopped" and state["elapsed_s"] == pytest.approx(22)
    assert state["budget"].endswith("time left 0m00s of 10m00s")


def test_a_run_copied_off_a_cluster_needs_no_driver_file(tmp_path):
    state = live_state(write_run(tmp_path, RECORDS), now=T0 + 999)
    assert state["state"] == "stopped" and state["dashboard"] is None
    assert [r["trial_id"] for r in state["leaderboard"]] == ["a", "b"]


def test_a_sweep_before_its_first_trial_is_waiting(tmp_path):
    state = live_state(write_run(tmp_path, []))
    assert state["state"] == "waiting" and "no trial records yet" in state["message"]


@pytest.fixture
def server(tmp_path):
    run_dir = write_run(tmp_path, RECORDS)
    httpd = make_server(run_dir, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield run_dir, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_server_answers_the_page_its_state_and_plotly_only(server):
    run_dir, url = server
    status, page = get(url + "/")
    assert status == 200 and b'src="plotly.min.js"' in page and b"state.json" in page
    status, body = get(url + "/state.json")
    assert status == 200 and json.loads(body)["leaderboard"][0]["trial_id"] == "a"
    status, script = get(url + "/plotly.min.js")
    assert status == 200 and b"Plotly" in script[:5000] and len(script) > 1_000_000
    assert get(url + "/config.json")[0] == 404 and get(url + "/../../etc/passwd")[0] == 404
    with open(run_dir / "trials.jsonl", "a") as f:
        f.write('{"event": "result", "trial_id": 5}\n')
    status, body = get(url + "/state.json")
    assert status == 500 and "line 8 is not a trial record" in json.loads(body)["error"]


def test_monitor_refuses_a_folder_that_is_no_run_and_a_busy_port(tmp_path):
    result = subprocess.run(
        ["rnn-tune", "monitor", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "is not an rnn-tune run directory" in result.stderr
    run_dir = write_run(tmp_path, RECORDS)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            ["rnn-tune", "monitor", str(run_dir), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_progress_bar_follows_what_ends_the_sweep_first():
    trials_first = sweep_line({"completed": 6, "running": 2}, 300, 24, 3600, (0.881, "lstm", "x"))
    assert trials_first.startswith("[######" + "." * 18 + "] 6/24 trials  running 2")
    assert "best 88.10% (lstm)" in trials_first and "ETA 15m00s" in trials_first
    budget_first = sweep_line({"stopped_early": 1, "running": 2}, 900, 100, 1200, None)
    assert budget_first.startswith("[" + "#" * 18 + "." * 6 + "]") and "ETA 5m00s" in budget_first
    assert "ETA" not in sweep_line({"completed": 24}, 500, 24, None, None)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal_and_prints_lines_elsewhere():
    tty, log = Terminal(), io.StringIO()
    for stream in (tty, log):
        progress = LiveProgress(6, num_samples=24, time_budget_s=600, stream=stream)
        progress.started = time.time() - 60
        progress.on_step_end(0, [])
        progress.on_experiment_end([])
    assert tty.getvalue().startswith("\r[") and "0/24 trials" in tty.getvalue()
    assert tty.getvalue().endswith("\n") and "running 0  pending 0" not in tty.getvalue()
    assert (
        log.getvalue().startswith("[  1m00s] running 0  pending 0") and "\r" not in log.getvalue()
    )


def test_progress_holds_no_open_file_so_ray_client_can_ship_it():
    import pickle

    restored = pickle.loads(pickle.dumps(LiveProgress(6, num_samples=4)))
    assert restored.num_samples == 4


def test_state_json_is_built_once_per_change_of_the_run_files_not_per_viewer(tmp_path):
    run_dir = write_run(tmp_path, RECORDS)
    (run_dir / "summary.json").write_text(json.dumps({"by_family": {}, "trials": 2}))
    cache = StateCache(run_dir)
    first = cache.reply()
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(cache.reply())) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert first[0] == 200 and all(body is first[1] for _, body in replies)  # the same bytes
    with open(run_dir / "trials.jsonl", "a") as f:
        f.write(json.dumps(epoch("b", 30, 3, 0.9)) + "\n")
    status, body = cache.reply()
    assert status == 200 and body is not first[1]
    assert json.loads(body)["leaderboard"][0]["trial_id"] == "b"  # epoch 3 of b: 90%

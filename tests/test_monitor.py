"""Watching a real running sweep: the dashboard hint, named trials in Ray's Actors view, the
trials' log lines and metrics, and the live page, each checked as a user meets it (Chromium)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from browser import chromium_page, needs_chromium, ray_token, save_screenshot, sign_in_to_dashboard

pytestmark = pytest.mark.slow

SWEEP = "live"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def running_trials(run_dir: Path) -> dict[str, str]:
    """trial id -> family of the trials that have reported an epoch and not ended."""
    ended = {r["trial_id"] for r in records(run_dir) if r["event"] in ("complete", "error")}
    return {
        r["trial_id"]: r["metrics"]["model"]
        for r in records(run_dir)
        if r["event"] == "result" and r["trial_id"] not in ended
    }


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def live_sweep(tmp_path_factory):
    """A sweep of two concurrent trials with many short epochs, stopped (Ctrl-C) at the end."""
    storage = tmp_path_factory.mktemp("monitor")
    port = free_port()
    proc = subprocess.Popen(
        [
            "rnn-tune",
            "sweep",
            "--dataset",
            "synthetic",
            "--num-samples",
            "3",
            "--max-concurrent",
            "2",
            "--epochs",
            "1000",
            "--grace-period",
            "1000",
            "--time-budget",
            "10m",
            "--embed-dim",
            "16",
            "--hidden-dim",
            "16",
            "--storage",
            str(storage),
            "--name",
            SWEEP,
            "--no-report",
            "--dashboard-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    run_dir = storage / SWEEP
    try:
        wait_for(
            lambda: len(running_trials(run_dir)) == 2 or proc.poll() is not None,
            180,
            "two trials reporting epochs",
        )
        assert proc.poll() is None, "".join(lines)[-3000:]
        yield SimpleNamespace(
            run_dir=run_dir, dashboard=f"http://127.0.0.1:{port}", lines=lines, proc=proc
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_sweep_output_says_how_to_sign_in_and_where_the_live_page_is(live_sweep):
    out = "".join(live_sweep.lines)
    line = next(x for x in out.splitlines() if x.startswith("dashboard: "))
    assert line.startswith(f"dashboard: {live_sweep.dashboard}")
    assert "ray get-auth-token" in line and "~/.ray/auth_token" in line
    assert f"live page: rnn-tune monitor {live_sweep.run_dir}" in out
    driver = json.loads((live_sweep.run_dir / "driver.json").read_text())
    assert driver["dashboard"] == live_sweep.dashboard and driver["token_auth"] is True
    assert driver["pid"] == live_sweep.proc.pid


@needs_chromium
def test_dashboard_actors_view_names_each_running_trial(live_sweep):
    with chromium_page() as page:
        sign_in_to_dashboard(page, live_sweep.dashboard)
        assert page.get_by_placeholder("Enter your authentication token").count() == 0 or (
            not page.get_by_placeholder("Enter your authentication token").is_visible()
        )
        page.goto(f"{live_sweep.dashboard}/#/actors", wait_until="networkidle")
        expected = {
            f"{SWEEP} trial {tid} {fam}" for tid, fam in running_trials(live_sweep.run_dir).items()
        }

        loaded = [time.time()]

        def listed() -> str | None:
            text = page.inner_text("body")
            if all(e in text for e in expected):
                return text
            if time.time() - loaded[0] > 10:  # under load (CI) the view can miss an update
                page.reload(wait_until="networkidle")
                loaded[0] = time.time()
            return None

        text = wait_for(listed, 90, f"{expected} in the Actors view")
        assert "RNNTuneTrial" in text and "ImplicitFunc" not in text
        save_screenshot(page, "dashboard-actors.png")


def test_each_trial_logs_one_line_per_epoch_in_its_own_log(live_sweep):
    """The dashboard's log API (what its Logs page and an actor's Log link show)."""
    trial_id, family = next(iter(running_trials(live_sweep.run_dir).items()))
    actor = next(
        r["metrics"]["actor_id"]
        for r in records(live_sweep.run_dir)
        if r["event"] == "result" and r["trial_id"] == trial_id
    )
    request = urllib.request.Request(
        f"{live_sweep.dashboard}/api/v0/logs/file?actor_id={actor}&suffix=out&lines=10000",
        headers={"Authorization": f"Bearer {ray_token()}"},
    )

    def fetch() -> str | None:
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:  # a 500 seen once in CI under load: ask again
            if exc.code != 500:
                raise
            return None

    log = wait_for(fetch, 60, "the dashboard's log API to serve the trial's log")
    epochs = re.findall(rf"\[{SWEEP} trial {trial_id} {family}\] epoch (\d+)/1000 val_acc", log)
    assert epochs and [int(e) for e in epochs] == list(range(1, len(epochs) + 1)), log[-2000:]


def test_trial_metrics_reach_the_node_metrics_endpoint(live_sweep):
    driver = json.loads((live_sweep.run_dir / "driver.json").read_text())
    assert driver["metrics"], driver
    running = running_trials(live_sweep.run_dir)

    def scraped() -> str | None:
        text = ""
        for url in driver["metrics"]:
            with urllib.request.urlopen(url, timeout=10) as reply:
                text += reply.read().decode()
        wanted = [
            f"ray_{name}{{"
            for name in ("rnn_tune_epoch", "rnn_tune_val_acc", "rnn_tune_train_loss")
        ]
        return text if all(w in text for w in wanted) and any(t in text for t in running) else None

    text = wait_for(scraped, 60, "rnn_tune metrics on the nodes' metrics endpoints")
    samples = [
        line
        for line in text.splitlines()
        if line.startswith("ray_rnn_tune_val_acc{") and f'sweep="{SWEEP}"' in line
    ]
    tagged = {
        (re.search(r'trial="([^"]+)"', s).group(1), re.search(r'family="([^"]+)"', s).group(1))
        for s in samples
    }
    assert tagged & set(running.items()), samples
    assert all(0.0 <= float(s.rsplit(" ", 1)[1]) <= 1.0 for s in samples)
    assert "ray_rnn_tune_train_samples_per_s{" in text


@needs_chromium
def test_live_page_shows_new_epochs_without_a_reload(live_sweep):
    port = free_port()
    server = subprocess.Popen(
        ["rnn-tune", "monitor", str(live_sweep.run_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().startswith(f"monitor: http://127.0.0.1:{port}/")
        with chromium_page(1300, 1150) as page:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            page.wait_for_function(
                "document.getElementById('status').textContent.includes('epochs reported')"
            )
            first = int(re.search(r"epochs reported: (\d+)", page.inner_text("#status")).group(1))
            page.wait_for_function(
                f"Number(/epochs reported: (\\d+)/.exec(document.getElementById('status')"
                f".textContent)[1]) > {first}",
                timeout=10_000,
            )
            status = page.inner_text("#status")
            assert status.startswith("running for ") and "running 2" in status
            assert re.search(
                r"Budget: 0 of 3 trials finished, time left \d+m\d\ds of 10m00s",
                page.inner_text("#budget"),
            )
            running = running_trials(live_sweep.run_dir)
            rows = page.locator("#running tbody tr")
            assert rows.count() == 2
            table = page.inner_text("#running")
            for trial_id, family in running.items():
                assert trial_id in table and family in table
            assert table.count("cpu") == 2 and re.search(r"\d+\.\d+\.\d+\.\d+", table)
            links = page.eval_on_selector_all("#running a", "els => els.map(e => e.href)")
            assert len(links) == 2 and all(
                href.startswith(f"{live_sweep.dashboard}/#/actors/") for href in links
            )
            leaders = page.inner_text("#leaderboard")
            assert all(trial_id in leaders for trial_id in running)

            def hover_label() -> str:
                point = page.locator("#curves-plot .scatterlayer .trace .point").first
                box = point.bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                return (page.locator("#curves-plot .hoverlayer").text_content() or "").strip()

            hover = wait_for(hover_label, 10, "a hover label on a learning curve")
            assert re.search(r"trial \w+", hover) and "lr=" in hover, hover
            assert page.get_by_text("Ray dashboard").count() >= 1
            save_screenshot(page, "live-page.png")
            assert page.errors == []
    finally:
        server.terminate()
        server.wait(timeout=30)

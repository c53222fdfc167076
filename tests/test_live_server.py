"""The live page's server under hostile and heavy use, as a local user could aim it: paths outside
its three, oversized requests, clients that stall or vanish, a crowd, run files rewritten while it
reads them. Each case talks to a real `rnn-tune monitor` process on 127.0.0.1 only, bounded in
requests and time; after each the server still answers and has printed no traceback."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from synthetic_run import T0, write_synthetic_run

pytestmark = pytest.mark.slow

TIMEOUT_S = 20  # what a viewer waits for an answer before giving up


@dataclass
class Monitor:
    run_dir: Path
    port: int
    process: subprocess.Popen
    stderr: Path

    def get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def raw(self, data: bytes) -> bytes:
        """What the server answers to these exact bytes (no client-side path cleaning)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S) as s:
            s.sendall(data)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def printed(self) -> str:
        return self.stderr.read_text()


@pytest.fixture
def monitor(tmp_path):
    """A monitor on a run of 300 trials whose driver is alive (this test process), so state.json
    keeps its clock: the costlier case for the server."""
    run_dir = write_synthetic_run(tmp_path / "run", trials=300, finished=False)
    driver = {"host": socket.gethostname(), "pid": os.getpid(), "started": T0}
    (run_dir / "driver.json").write_text(json.dumps(driver))
    stderr = tmp_path / "monitor.err"
    with open(stderr, "w") as err:
        process = subprocess.Popen(
            ["rnn-tune", "monitor", str(run_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    line = process.stdout.readline()
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
    yield Monitor(run_dir, port, process, stderr)
    process.terminate()
    process.wait(timeout=30)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def assert_still_serving(monitor: Monitor) -> None:
    status, body = monitor.get("/state.json")
    assert status == 200 and len(json.loads(body)["leaderboard"]) == 10
    assert "Traceback" not in monitor.printed(), monitor.printed()[-3000:]


def test_paths_outside_its_three_are_404_and_nothing_outside_the_run_is_read(monitor, tmp_path):
    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE-THE-RUN")
    targets = [
        "/../secret.txt",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/state.json/../../secret.txt",
        "//etc/passwd",
        "/config.json",
        "/trials.jsonl",
        f"http://127.0.0.1:{monitor.port}/../secret.txt",
        "http://example.com/etc/passwd",
    ]
    for target in targets:
        reply = monitor.raw(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert status_of(reply) == 404, (target, reply[:200])
        assert b"SECRET" not in reply and b"root:" not in reply
    assert status_of(monitor.raw(b"POST /state.json HTTP/1.1\r\nHost: x\r\n\r\n")) == 501
    garbage = monitor.raw(b"garbage\r\n\r\n")  # one word: HTTP/0.9, answered without a status line
    assert b"Error code: 400" in garbage
    assert_still_serving(monitor)


def test_oversized_request_lines_and_headers_get_an_error_status(monitor):
    long_line = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"
    assert status_of(monitor.raw(long_line)) == 414
    big_header = b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"
    assert status_of(monitor.raw(big_header)) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    assert status_of(monitor.raw(many)) == 431
    assert_still_serving(monitor)


def test_slow_clients_do_not_block_the_next_request_and_are_dropped(monitor):
    stalled = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", monitor.port), timeout=TIMEOUT_S)
        s.sendall(b"GET /state.json HTTP/1.1\r\nHost: x\r\n")  # never finished
        stalled.append(s)
    assert_still_serving(monitor)
    try:
        for s in stalled:  # the server gives up on each after its 10 s timeout and closes it
            assert s.recv(1024) == b""
    finally:
        for s in stalled:
            s.close()
    assert_still_serving(monitor)


def test_clients_that_go_away_mid_reply_print_nothing(monitor):
    for _ in range(20):  # reads a little of the 4.6 MB script, then hangs up
        s = socket.create_connection(("127.0.0.1", monitor.port), timeout=TIMEOUT_S)
        s.sendall(b"GET /plotly.min.js HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1024)
        s.close()
    for _ in range(20):  # asks and resets the connection at once (RST, not FIN)
        s = socket.create_connection(("127.0.0.1", monitor.port), timeout=TIMEOUT_S)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"GET /state.json HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    time.sleep(1)  # let the server reach the writes that fail
    assert_still_serving(monitor)


def test_a_crowd_of_200_viewers_is_answered_and_memory_stays_flat(monitor):
    def fetch(_):
        try:
            status, body = monitor.get("/state.json")
            return status == 200 and "leaderboard" in json.loads(body)
        except OSError:
            return False

    rounds = []
    for _ in range(3):  # 400 requests from 200 concurrent clients, three times
        with ThreadPoolExecutor(200) as pool:
            answered = sum(pool.map(fetch, range(400)))
        rounds.append((answered, monitor.rss_kb()))
    assert all(answered >= 396 for answered, _ in rounds), rounds  # 99% within 20 s each
    growth_mb = (rounds[2][1] - rounds[0][1]) / 1024
    assert growth_mb < 20, rounds  # the first round warms up; after it memory stays flat
    assert_still_serving(monitor)


def test_run_files_rewritten_or_cut_while_read_get_an_answer_each(monitor):
    files = {
        name: (monitor.run_dir / name).read_bytes() for name in ("trials.jsonl", "config.json")
    }
    stop = threading.Event()

    def vandal():
        rng = random.Random(0)
        while not stop.is_set():
            name = rng.choice(list(files))
            data = files[name]
            with open(monitor.run_dir / name, "wb") as f:  # in place, as a careless writer would
                f.write(data[: rng.randrange(len(data))])
                f.flush()
                time.sleep(0.005)
                f.write(data[f.tell() :] if rng.random() < 0.7 else b"\x00garbage")
            if rng.random() < 0.2:
                (monitor.run_dir / "summary.json").write_bytes(b'{"by_family": ')
            else:
                (monitor.run_dir / "summary.json").unlink(missing_ok=True)

    writer = threading.Thread(target=vandal)
    writer.start()
    try:
        statuses = []
        for _ in range(150):
            status, body = monitor.get("/state.json")
            json.loads(body)  # an answer is always a JSON document: the state or {"error": ...}
            statuses.append(status)
    finally:
        stop.set()
        writer.join()
    assert set(statuses) <= {200, 500} and 200 in statuses and 500 in statuses, statuses
    for name, data in files.items():
        (monitor.run_dir / name).write_bytes(data)
    (monitor.run_dir / "summary.json").unlink(missing_ok=True)
    assert_still_serving(monitor)

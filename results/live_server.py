"""A small HTTP server for the monitor page: the page, its state.json and Plotly's script.

Binds 127.0.0.1 (reach it from elsewhere with `ssh -L`); serves nothing but those three paths, and
only reads the run directory. Built for a room of viewers and a hostile one: state.json is built
once per change of the run's files whoever asks (`StateCache`), a client that goes away or never
finishes its request costs one quiet thread for at most `Handler.timeout` seconds, and nothing a
client sends prints a traceback.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import plotly

from base.run_dir import CONFIG_FILE, DRIVER_FILE, RECORDS_FILE, SUMMARY_FILE
from results.live import live_state
from results.live_page import PAGE
from results.load import ReportError

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
WATCHED = (CONFIG_FILE, RECORDS_FILE, DRIVER_FILE, SUMMARY_FILE)  # summary.json last


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    return value


@functools.cache
def _plotly_js() -> bytes:
    return PLOTLY_JS.read_bytes()


class StateCache:
    """state.json's status and bytes, built once per change of the run's files (and at most once
    a second while the run has no summary.json, for its clock), however many viewers ask: a
    build takes a good part of a second on a large run, so 200 viewers each building their own
    would queue behind each other. Concurrent askers wait for the one build in progress."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._reply: tuple[int, bytes] = (500, b"{}")

    def reply(self) -> tuple[int, bytes]:
        key = self._files_key()
        with self._lock:
            if key != self._key:
                self._reply, self._key = self._build(), key
            return self._reply

    def _files_key(self) -> tuple:
        stats = []
        for name in WATCHED:
            try:
                st = (self.run_dir / name).stat()
                stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                stats.append(None)
        return tuple(stats), None if stats[-1] is not None else int(time.time())

    def _build(self) -> tuple[int, bytes]:
        try:
            return 200, json.dumps(_json_safe(live_state(self.run_dir))).encode()
        except ReportError as exc:
            error = str(exc)
        except Exception as exc:  # a file rewritten while read: say so; the next change rebuilds
            error = f"could not read {self.run_dir} ({type(exc).__name__}: {exc}); retrying"
        return 500, json.dumps({"error": error}).encode()


class MonitorServer(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C ends the server even while slow clients hold threads
    request_queue_size = 1024  # a crowd connecting at once waits in the backlog, not refused

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the client went away or stalled: nothing for the user watching the terminal
        print(
            f"rnn-tune monitor: a request from {client_address[0]} failed "
            f"({type(exc).__name__}: {exc}); still serving",
            file=sys.stderr,
        )


def make_server(run_dir: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The monitor's server (not yet serving); port 0 picks a free one (`server.server_port`)."""
    state = StateCache(run_dir)

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # seconds a client may stay silent mid-request before it is dropped

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", PAGE.encode())
            elif path == "/state.json":
                status, body = state.reply()
                self._send(status, "application/json", body)
            elif path == "/plotly.min.js":
                self._send(200, "text/javascript", _plotly_js(), cache=True)
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, kind: str, body: bytes, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a request line every two seconds would bury the terminal

    return MonitorServer((host, port), Handler)

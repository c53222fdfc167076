"""A small HTTP server for the monitor page: the page, its state.json and Plotly's script.

Binds 127.0.0.1 (reach it from elsewhere with `ssh -L`); serves nothing but those three paths, and
only reads the run directory.
"""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import plotly

from results.live import live_state
from results.live_page import PAGE
from results.load import ReportError

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


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


def make_server(run_dir: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The monitor's server (not yet serving); port 0 picks a free one (`server.server_port`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", PAGE.encode())
            elif path == "/state.json":
                try:
                    body, status = _json_safe(live_state(run_dir)), 200
                except ReportError as exc:
                    body, status = {"error": str(exc)}, 500
                self._send(status, "application/json", json.dumps(body).encode())
            elif path == "/plotly.min.js":
                self._send(200, "text/javascript", PLOTLY_JS.read_bytes(), cache=True)
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

    return ThreadingHTTPServer((host, port), Handler)

"""Shared fixtures: the real AG_NEWS rows (skipped where absent) and a local HTTP file server."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ag_news_dir() -> Path | None:
    candidate = Path(
        os.environ.get("RNN_TUNE_TEST_DATA", REPO.parent / "shared" / "data" / "ag_news_csv")
    )
    return (
        candidate
        if (candidate / "train.csv").is_file() and (candidate / "test.csv").is_file()
        else None
    )


@pytest.fixture
def real_ag_news() -> Path:
    path = ag_news_dir()
    if path is None:
        pytest.skip(
            "real AG_NEWS rows not found (set RNN_TUNE_TEST_DATA or provide "
            "../shared/data/ag_news_csv)"
        )
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets its own encode/download cache so tests never share state, and never
    reaches the network for named vectors (the download tests serve them on 127.0.0.1)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNN_TUNE_CACHE_DIR", str(cache))
    monkeypatch.setenv("RNN_TUNE_OFFLINE", "1")
    return cache


class FileServer:
    """Serves a directory on 127.0.0.1 and records every GET path."""

    def __init__(self, root: Path, delay_s: float = 0.0):
        requests: list[str] = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                requests.append(self.path)
                if delay_s:
                    threading.Event().wait(delay_s)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.requests = requests
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server(tmp_path):
    servers = []

    def start(root: Path, delay_s: float = 0.0) -> FileServer:
        server = FileServer(root, delay_s)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()

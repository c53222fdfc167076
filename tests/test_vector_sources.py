"""Named vectors fetched once over real HTTP (a local server serving a real archive built from the
shared GloVe file): a good download, a wrong checksum, a body cut short, an HTML page with status
200, a dropped connection resumed, two processes at once, offline. Each ends in a usable cache
entry or one clear line, and never in a partial file that a later run trusts."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import multiprocessing
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_glove

from data import vector_sources
from data.download import OFFLINE_ENV
from data.vector_sources import (
    MIRROR_ENV,
    SOURCES,
    VectorsUnavailable,
    cached,
    fetch,
    load_vectors,
    register,
)
from data.vectors import read_vectors
from data.vocab import Vocab

NAME = "glove.6B.50d"
VOCAB = Vocab(["<pad>", "<unk>", "the", "news", "stocks", "football", "qwxzv"])


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """gensim-data's format (word2vec text: `COUNT DIM`, then GloVe's lines), gzipped, made from
    the first 5,000 words of the shared GloVe file."""
    lines = []
    with gzip.open(shared_glove(), "rt", encoding="utf-8") as f:
        for line in f:
            lines.append(line)
            if len(lines) == 5000:
                break
    text = f"{len(lines)} 50\n" + "".join(lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)


class Server:
    """127.0.0.1 HTTP serving `payload` at any path, honouring Range; `mode` makes it misbehave:
    html (a web page, status 200), short (half the body, then a clean close, no length), drop
    (Content-Length of the whole, half sent, then the socket closed), slow (a pause first)."""

    def __init__(self, payload: bytes):
        self.payload, self.mode, self.requests = payload, "ok", []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body, status = server.payload, 200
                start = 0
                if self.headers.get("Range") and server.mode == "ok":
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    body, status = body[start:], 206
                if server.mode == "html":
                    page = b"<html><body>Rate limit exceeded</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                if server.mode == "slow":
                    threading.Event().wait(1.0)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                if server.mode == "short":
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.mode == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def full_gets(self) -> int:
        return sum(1 for _, byte_range in self.requests if byte_range is None)


@pytest.fixture
def server(archive, monkeypatch):
    """The server, the source pointed at it (mirror URL) with the archive's real size and MD5."""
    served = Server(archive)
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.setenv(MIRROR_ENV, served.url)
    source = replace(SOURCES[NAME], md5=hashlib.md5(archive).hexdigest(), size=len(archive))
    monkeypatch.setitem(vector_sources.SOURCES, NAME, source)
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def leftovers(cache: Path) -> list[str]:
    entry = cache / "vectors" / NAME
    return sorted(p.name for p in entry.iterdir()) if entry.exists() else []


def test_a_good_download_is_verified_kept_and_read_once(server, isolated_cache, archive):
    record = fetch(NAME, isolated_cache)
    assert record["official"] and record["md5"] == hashlib.md5(archive).hexdigest()
    assert Path(record["path"]).read_bytes() == archive
    assert leftovers(isolated_cache) == ["source.json", "vectors.txt.gz"]
    vectors = load_vectors(NAME, VOCAB, "k" * 16, isolated_cache)
    expected = read_vectors(Path(record["path"]), VOCAB)
    np.testing.assert_array_equal(vectors.matrix, expected.matrix)
    assert vectors.found == 4 and vectors.sha256 == record["sha256"]  # qwxzv is not a word
    again = load_vectors(NAME, VOCAB, "k" * 16, isolated_cache)
    np.testing.assert_array_equal(again.matrix, vectors.matrix)
    assert server.full_gets() == 1


def test_a_wrong_checksum_leaves_nothing(server, isolated_cache, monkeypatch):
    bad = replace(SOURCES[NAME], md5="0" * 32)
    monkeypatch.setitem(vector_sources.SOURCES, NAME, bad)
    with pytest.raises(VectorsUnavailable, match="checksum mismatch.*the download was removed"):
        fetch(NAME, isolated_cache)
    assert leftovers(isolated_cache) == [] and cached(NAME, isolated_cache) is None


def test_an_html_page_with_status_200_is_refused(server, isolated_cache):
    server.mode = "html"
    with pytest.raises(VectorsUnavailable, match="served a web page .*text/html"):
        fetch(NAME, isolated_cache)
    assert leftovers(isolated_cache) == []


@pytest.mark.parametrize("mode", ["short", "drop"])
def test_a_body_cut_short_is_resumed_on_the_next_run(server, isolated_cache, archive, mode):
    server.mode = mode
    with pytest.raises(VectorsUnavailable, match="run again to resume") as caught:
        fetch(NAME, isolated_cache)
    assert "\n" not in str(caught.value)
    assert cached(NAME, isolated_cache) is None  # the .part file is not an entry
    part = isolated_cache / "vectors" / NAME / "vectors.txt.gz.part"
    assert 0 < part.stat().st_size < len(archive)
    server.mode = "ok"
    record = fetch(NAME, isolated_cache)
    assert Path(record["path"]).read_bytes() == archive
    assert server.requests[-1][1] == f"bytes={len(archive) // 2}-"  # resumed, not restarted
    assert leftovers(isolated_cache) == ["source.json", "vectors.txt.gz"]


def _fetch_in_child(cache: str, out) -> None:
    try:
        out.put(fetch(NAME, Path(cache))["md5"])
    except Exception as exc:  # reported to the parent, which asserts on it
        out.put(repr(exc))


def test_two_processes_asking_at_once_download_once(server, isolated_cache, archive):
    server.mode = "slow"
    context = multiprocessing.get_context("fork")  # keeps the test's source and mirror settings
    out = context.Queue()
    children = [
        context.Process(target=_fetch_in_child, args=(str(isolated_cache), out)) for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [out.get(timeout=5) for _ in children] == [hashlib.md5(archive).hexdigest()] * 2
    assert server.full_gets() == 1


def test_offline_is_one_line_naming_the_file_and_the_fix(isolated_cache, monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    with pytest.raises(VectorsUnavailable) as caught:
        fetch(NAME, isolated_cache)
    message = str(caught.value)
    assert "\n" not in message and SOURCES[NAME].url in message
    assert f"rnn-tune vectors add {NAME} FILE" in message and "(offline)" in message
    assert leftovers(isolated_cache) == []


def test_plain_http_is_refused_off_this_machine(isolated_cache, monkeypatch):
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.setenv(MIRROR_ENV, "http://example.invalid/mirror")
    with pytest.raises(VectorsUnavailable, match="only https downloads are verified"):
        fetch(NAME, isolated_cache)


def test_register_a_local_copy_and_read_it(isolated_cache):
    record = register(NAME, shared_glove(), isolated_cache)
    assert not record["official"] and record["origin"].startswith("local copy of")
    vectors = load_vectors(NAME, VOCAB, "k" * 16, isolated_cache)
    assert vectors.dim == 50 and vectors.found == 4
    np.testing.assert_allclose(vectors.matrix[VOCAB["the"]][:3], [0.418, 0.24968, -0.41242])


def test_a_damaged_cached_file_is_refused_with_the_fix(isolated_cache):
    record = register(NAME, shared_glove(), isolated_cache)
    path = Path(record["path"])
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(Exception, match="is damaged .*remove"):
        load_vectors(NAME, VOCAB, "k" * 16, isolated_cache)


def test_register_refuses_vectors_of_another_size(isolated_cache, tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("the 1 2 3\n")
    with pytest.raises(Exception, match="holds 3-dimensional vectors; glove.6B.50d has 50"):
        register(NAME, path, isolated_cache)


def test_vectors_cli_lists_adds_and_says_offline_in_one_line(isolated_cache):
    done = subprocess.run(
        ["rnn-tune", "vectors", "fetch", NAME], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    added = subprocess.run(
        ["rnn-tune", "vectors", "add", NAME, str(shared_glove())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    listing = subprocess.run(
        ["rnn-tune", "vectors", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    assert any(
        line.split()[:4] == [NAME, "50", "69", "MB"] and "own" in line
        for line in listing.splitlines()
    )
    source = json.loads((isolated_cache / "vectors" / NAME / "source.json").read_text())
    assert source["official"] is False and len(source["sha256"]) == 64

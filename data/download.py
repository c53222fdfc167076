"""One verified download: streamed to a `.part` file beside the target, resumed where a dropped
connection left it, checked against the publisher's size and MD5, then renamed into place.

Nothing half-downloaded is ever read: the target exists only once its checksum matched, and a
`.part` file is only ever appended to and then verified as a whole. TLS certificates are checked
(Python's default context); plain http is refused except on this machine's loopback (tests).
Progress (size, rate, ETA) goes to stderr.
"""

from __future__ import annotations

import http.client
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from base.files import file_digest, file_lock
from data.errors import DataError

OFFLINE_ENV = "RNN_TUNE_OFFLINE"
CHUNK = 1 << 20
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class DownloadFailed(DataError):
    """The file could not be had (offline, refused, cut short, or not the published bytes)."""


def offline() -> bool:
    """$RNN_TUNE_OFFLINE set to anything but 0/empty: never touch the network."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def download(
    url: str,
    target: Path,
    md5: str,
    size: int,
    label: str,
    timeout: float = 30.0,
    stream=sys.stderr,
) -> Path:
    """`target`, downloaded from `url` unless it is already there; one process per node fetches
    (the others wait on the lock and find it done). Raises DownloadFailed with one line."""
    if target.is_file():
        return target
    if offline():
        raise DownloadFailed(f"{label}: not downloaded (${OFFLINE_ENV} is set)")
    scheme, host = urlparse(url).scheme, urlparse(url).hostname or ""
    if scheme != "https" and not (scheme == "http" and host in LOOPBACK):
        raise DownloadFailed(f"{label}: refusing {url}: only https downloads are verified")
    part = target.with_name(target.name + ".part")
    with file_lock(target.with_name(target.name + ".lock")):
        if target.is_file():
            return target
        _fetch(url, part, size, label, timeout, stream)
        got = file_digest(part, "md5")
        if got != md5:
            part.unlink(missing_ok=True)
            raise DownloadFailed(
                f"{label}: checksum mismatch for {url} (md5 {got}, expected {md5}); the download "
                "was removed: retry, or download it yourself and register it"
            )
        os.replace(part, target)
    return target


def _fetch(url: str, part: Path, size: int, label: str, timeout: float, stream) -> None:
    """Append the rest of `url` to `part` (a Range request from what it holds)."""
    have = part.stat().st_size if part.is_file() else 0
    if have > size:
        part.unlink()
        have = 0
    if have == size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "rnn-tune"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(
            request, timeout=timeout, context=ssl.create_default_context()
        )
    except urllib.error.HTTPError as exc:
        raise DownloadFailed(f"{label}: {url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadFailed(f"{label}: cannot reach {url} ({reason})") from None
    with response:
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("text/html"):
            raise DownloadFailed(
                f"{label}: {url} served a web page ({kind}), not the file; nothing was saved"
            )
        if response.status != 206:
            have = 0  # the server ignored the Range request: start over
        progress = _Progress(label, size, have, stream)
        try:
            with open(part, "ab" if have else "wb") as f:
                while block := response.read(CHUNK):
                    f.write(block)
                    have += len(block)
                    progress(have)
        except (OSError, http.client.HTTPException) as exc:
            progress.close()
            raise DownloadFailed(
                f"{label}: the connection dropped at {have / 1e6:.1f} of {size / 1e6:.1f} MB "
                f"({exc}); run again to resume"
            ) from None
        progress.close()
    if have < size:
        raise DownloadFailed(
            f"{label}: the download stopped at {have / 1e6:.1f} of {size / 1e6:.1f} MB; run again "
            "to resume"
        )
    if have > size:
        part.unlink(missing_ok=True)
        raise DownloadFailed(
            f"{label}: {url} sent {have:,} bytes, expected {size:,}; nothing was saved"
        )


class _Progress:
    """`label: 12.3 / 69.2 MB  5.1 MB/s  ETA 11s`, redrawn in place on a terminal (every 10% in a
    log)."""

    def __init__(self, label: str, size: int, start: int, stream):
        self.label, self.size, self.start, self.stream = label, size, start, stream
        self.began = self.last = time.perf_counter()
        self.tty = stream.isatty()
        self.decile = start * 10 // max(size, 1)

    def __call__(self, have: int) -> None:
        now = time.perf_counter()
        decile = have * 10 // max(self.size, 1)
        if self.tty and now - self.last < 0.25 and have < self.size:
            return
        if not self.tty and decile == self.decile:
            return
        self.last, self.decile = now, decile
        rate = (have - self.start) / max(now - self.began, 1e-6)
        eta = (self.size - have) / rate if rate > 0 else float("inf")
        line = (
            f"{self.label}: {have / 1e6:.1f} / {self.size / 1e6:.1f} MB  {rate / 1e6:.1f} MB/s  "
            f"ETA {eta:.0f}s"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

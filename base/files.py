"""File-system edges: atomic writes, content hashes and cross-process locks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; a written file gets the umask
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LockBusy(Exception):
    """Another process holds the lock and the caller chose not to wait."""


@contextmanager
def file_lock(path: Path, timeout: float = 3600.0, wait: bool = True) -> Iterator[None]:
    """An exclusive lock for every process on this node (parallel trials prepare data once).

    The lock file is removed on release, success or failure, so nothing is left behind. A
    process that waited on a file its holder removed locks again, on the file now at `path`.
    With `wait=False` a held lock raises LockBusy at once.
    """
    import portalocker  # here, not at the top: 0.2 CPU-s that trial processes never need

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        lock = portalocker.Lock(
            str(path),
            mode="a",
            timeout=timeout if wait else 0,
            check_interval=0.2,
            fail_when_locked=not wait,
        )
        try:
            handle = lock.acquire()
        except portalocker.exceptions.AlreadyLocked:
            raise LockBusy(str(path)) from None
        try:
            current = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        lock.release()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        lock.release()

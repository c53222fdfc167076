"""File-system edges: atomic writes, content hashes and cross-process locks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import portalocker


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


def file_lock(path: Path, timeout: float = 3600.0) -> portalocker.Lock:
    """An exclusive lock for every process on this node (parallel trials prepare data once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return portalocker.Lock(str(path), mode="a", timeout=timeout, check_interval=0.2)

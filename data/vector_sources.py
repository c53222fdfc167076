"""Named pre-trained word vectors (`--vectors glove.6B.50d`): where each comes from, and the
per-node cache entry that holds it once fetched or registered.

The GloVe 6B vectors (Stanford, Wikipedia 2014 + Gigaword 5, 400,000 uncased words, PDDL) come
from gensim-data's release assets: one gzipped text file per size (69 MB for 50d, against
Stanford's 822 MB zip of all four), with the MD5 and size gensim-data publishes in its
`list.json`. A cache entry is `CACHE/vectors/NAME/` holding `vectors.txt.gz` and `source.json`
(where it came from, its size, MD5 and SHA-256); it exists only once the file checked out.
Offline, `rnn-tune vectors add NAME FILE` registers a copy the user already has.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from base.files import (
    atomic_write_bytes,
    atomic_write_text,
    current_umask,
    file_digest,
    file_lock,
)
from data.download import DownloadFailed, download, offline
from data.errors import DataError
from data.vectors import WordVectors, read_vectors, vectors_dim
from data.vocab import Vocab

MIRROR_ENV = "RNN_TUNE_VECTORS_URL"  # a folder holding the same files (a mirror, or a test server)
GENSIM_DATA = "https://github.com/RaRe-Technologies/gensim-data/releases/download"
FILE = "vectors.txt.gz"
SOURCE_FILE = "source.json"


@dataclass(frozen=True)
class VectorSource:
    name: str
    dim: int
    file_name: str
    md5: str
    size: int
    words: int
    about: str

    @property
    def url(self) -> str:
        mirror = os.environ.get(MIRROR_ENV)
        if mirror:
            return f"{mirror.rstrip('/')}/{self.file_name}"
        return f"{GENSIM_DATA}/{self.file_name.removesuffix('.gz')}/{self.file_name}"


_GLOVE = "GloVe 6B (Wikipedia 2014 + Gigaword 5), 400,000 uncased words, PDDL"
# (dimension, MD5, bytes) of gensim-data's glove-wiki-gigaword-DIM.gz, as its list.json gives them
_GLOVE_FILES = (
    (50, "c289bc5d7f2f02c6dc9f2f9b67641813", 69_182_535),
    (100, "40ec481866001177b8cd4cb0df92924f", 134_300_434),
    (200, "59652db361b7a87ee73834a6c391dfc1", 264_336_934),
    (300, "29e9329ac2241937d55b852e8284e89b", 394_362_229),
)
SOURCES: dict[str, VectorSource] = {
    f"glove.6B.{dim}d": VectorSource(
        f"glove.6B.{dim}d", dim, f"glove-wiki-gigaword-{dim}.gz", md5, size, 400_000, _GLOVE
    )
    for dim, md5, size in _GLOVE_FILES
}


class VectorsUnavailable(DataError):
    """A named source is neither in the cache nor downloadable now; the message says how to get
    it."""


def is_named(spec: str) -> bool:
    return spec in SOURCES


def entry_dir(cache_dir: Path, name: str) -> Path:
    return Path(cache_dir) / "vectors" / name


def cached(name: str, cache_dir: Path) -> dict[str, Any] | None:
    """The entry's source.json (with `path`), or None when `name` is not in the cache (a file of
    the wrong size, or none, counts as absent)."""
    entry = entry_dir(cache_dir, name)
    try:
        record = json.loads((entry / SOURCE_FILE).read_text())
        if (entry / FILE).stat().st_size != record["bytes"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**record, "path": str(entry / FILE)}


def fetch(name: str, cache_dir: Path) -> dict[str, Any]:
    """The cache entry of `name`, downloaded first if need be (lock, resume, MD5 checked)."""
    record = cached(name, cache_dir)
    if record:
        return record
    source = SOURCES[name]
    entry = entry_dir(cache_dir, name)
    try:
        path = download(
            source.url, entry / FILE, source.md5, source.size, f"{name} ({source.file_name})"
        )
    except DownloadFailed as exc:
        raise VectorsUnavailable(_how_to_get(source, cache_dir, str(exc))) from None
    record = {"name": name, "origin": source.url, "official": True}
    return _write_record(entry, path, record, md5=source.md5)  # download() checked it


def register(name: str, path: Path, cache_dir: Path) -> dict[str, Any]:
    """Copy a local file of `name`'s vectors into the cache (checked: readable vectors of the
    source's size). A file with the published MD5 is marked official; any other (a subset, a
    copy in another format) is recorded as the user's own, with its SHA-256."""
    if name not in SOURCES:
        raise DataError(f"unknown vectors {name!r}: known are {', '.join(SOURCES)}")
    source, path = SOURCES[name], Path(path).expanduser().resolve()
    dim = vectors_dim(path)
    if dim != source.dim:
        raise DataError(f"{path} holds {dim}-dimensional vectors; {name} has {source.dim}")
    entry = entry_dir(cache_dir, name)
    entry.mkdir(parents=True, exist_ok=True)
    with file_lock(entry / f"{FILE}.lock"):
        fd, tmp = tempfile.mkstemp(dir=entry, prefix=f".{FILE}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~current_umask())
        os.close(fd)
        try:
            if path.suffix == ".gz":
                shutil.copyfile(path, tmp)
            else:
                with open(path, "rb") as f, gzip.open(tmp, "wb", compresslevel=6) as g:
                    shutil.copyfileobj(f, g)
            md5 = file_digest(Path(tmp), "md5")
            official = md5 == source.md5
            os.replace(tmp, entry / FILE)
        finally:
            Path(tmp).unlink(missing_ok=True)
    origin = source.url if official else f"local copy of {path}"
    record = {"name": name, "origin": origin, "official": official}
    return _write_record(entry, entry / FILE, record, md5=md5)


def _write_record(entry: Path, path: Path, record: dict[str, Any], md5: str) -> dict[str, Any]:
    """source.json for the file at `path`, whose MD5 the caller has already computed."""
    record = {
        **record,
        "bytes": path.stat().st_size,
        "md5": md5,
        "sha256": file_digest(path),
    }
    atomic_write_text(entry / SOURCE_FILE, json.dumps(record, indent=2))
    return {**record, "path": str(path)}


def _how_to_get(source: VectorSource, cache_dir: Path, reason: str) -> str:
    why = "offline" if offline() else reason
    return (
        f"vectors {source.name} are not in the cache and cannot be downloaded ({why}): download "
        f"{source.url} ({source.size / 1e6:.0f} MB) and run `rnn-tune vectors add {source.name} "
        f"FILE` (cache {Path(cache_dir) / 'vectors'}), or pass --vectors none"
    )


def load_vectors(
    spec: str, vocab: Vocab, vocab_key: str, cache_dir: Path, seed: int = 0
) -> WordVectors:
    """`spec` (a name from SOURCES or a file) lined up with `vocab`: (V, D) rows.

    The lined-up matrix is cached under the source file's SHA-256 and the vocab's key (the encode
    cache's), so only the first run with a vocab reads the 400,000-word file; later runs load a
    V x D array. Raises VectorsUnavailable for a named source that cannot be had.
    """
    if is_named(spec):
        record = fetch(spec, Path(cache_dir))
        path, sha256 = Path(record["path"]), record["sha256"]
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise DataError(f"no such word-vectors file: {path}; check --vectors")
        sha256 = file_digest(path)
    aligned = Path(cache_dir) / "vectors" / "aligned" / f"{sha256[:16]}-{vocab_key[:16]}-{seed}.npz"
    try:
        with np.load(aligned, allow_pickle=False) as saved:
            matrix, found = saved["matrix"], int(saved["found"])
        if matrix.shape[0] == len(vocab):
            return WordVectors(matrix, found, str(path), spec, sha256)
    except (OSError, ValueError, KeyError, EOFError):
        pass
    if is_named(spec) and file_digest(path) != sha256:
        raise DataError(
            f"the cached {spec} file {path} is damaged (SHA-256 differs from its source.json); "
            f"remove {path.parent} and run again"
        )
    vectors = read_vectors(path, vocab, seed)
    buffer = io.BytesIO()
    np.savez(buffer, matrix=vectors.matrix, found=np.int64(vectors.found))
    try:
        atomic_write_bytes(aligned, buffer.getvalue())
    except OSError:
        pass  # a read-only cache only costs the next run the same read
    return WordVectors(vectors.matrix, vectors.found, str(path), spec, sha256)

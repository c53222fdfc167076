"""AG_NEWS: the download torchtext used (URL + MD5), a per-node cache, and the CSV format.

Users normally download once into the cache; `--data-dir DIR` holding train.csv and test.csv
skips the network (offline machines, the shared test data).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from base.files import atomic_write_bytes, file_lock
from data.errors import DataError
from data.tables import csv_rows

BASE_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv"
MD5 = {"train": "b1a00f826fdfbd249f79597b59e1dc12", "test": "d52ea96a97a2d943681189a97654912d"}
CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")


def ag_news_files(
    cache_dir: Path,
    data_dir: Path | None = None,
    base_url: str | None = None,
    md5: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Return {"train": path, "test": path}, downloading into `cache_dir/ag_news` once per node.

    A portalocker lock makes concurrent callers (parallel trials) wait for one download; each
    file is verified against its MD5 before it is renamed into place, so a bad download leaves
    nothing behind. `$RNN_TUNE_AG_NEWS_URL` points at a mirror holding the same two files.
    """
    if data_dir is not None:
        files = {split: Path(data_dir) / f"{split}.csv" for split in ("train", "test")}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise DataError(
                f"--data-dir {data_dir} lacks {', '.join(missing)}: it must hold AG_NEWS's "
                "train.csv and test.csv"
            )
        return files
    md5 = MD5 if md5 is None else md5
    base_url = base_url or os.environ.get("RNN_TUNE_AG_NEWS_URL", BASE_URL)
    target = Path(cache_dir) / "ag_news"
    files = {split: target / f"{split}.csv" for split in ("train", "test")}
    with file_lock(target / ".download.lock"):
        for split, path in files.items():
            if not path.is_file():
                _download(f"{base_url}/{split}.csv", path, md5[split], timeout)
    return files


def _download(url: str, path: Path, expected_md5: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"cannot download {url} ({reason}); offline, pass --data-dir DIR holding train.csv "
            "and test.csv"
        ) from None
    digest = hashlib.md5(payload).hexdigest()
    if digest != expected_md5:
        raise DataError(
            f"checksum mismatch for {url}: got md5 {digest}, expected {expected_md5}; nothing was "
            "saved, retry or use --data-dir"
        )
    atomic_write_bytes(path, payload)


def read_ag_news_csv(path: Path) -> tuple[list[str], list[int]]:
    """Parse AG_NEWS's CSV (no header; class 1-4, title, description) into texts and labels 0-3.

    The text is `title + " " + description`, as torchtext joined them.
    """
    texts: list[str] = []
    labels: list[int] = []
    for line, row in csv_rows(path, hint="check --data-dir"):
        if len(row) < 2 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= len(CLASS_NAMES):
            raise DataError(
                f"{path}:{line}: not an AG_NEWS row (class 1-4, title, description); check "
                "--data-dir"
            )
        labels.append(int(row[0]) - 1)
        texts.append(" ".join(row[1:]))
    return texts, labels

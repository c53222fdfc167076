import hashlib
import subprocess
import sys
import time

import pytest

from data.ag_news import CLASS_NAMES, ag_news_files, read_ag_news_csv
from data.errors import DataError

ROWS = (
    '"3","Wall St. Bears","Short-sellers, Wall Street\'s ""dwindling"" band."\n'
    '"2","Game on","Yankees win."\n'
)


def mirror(tmp_path, train=ROWS, test=ROWS):
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "train.csv").write_text(train)
    (root / "test.csv").write_text(test)
    md5 = {s: hashlib.md5((root / f"{s}.csv").read_bytes()).hexdigest() for s in ("train", "test")}
    return root, md5


def test_parse_format(tmp_path):
    (tmp_path / "x.csv").write_text(ROWS)
    texts, labels = read_ag_news_csv(tmp_path / "x.csv")
    assert labels == [2, 1]
    assert texts[0] == 'Wall St. Bears Short-sellers, Wall Street\'s "dwindling" band.'
    assert CLASS_NAMES[labels[0]] == "Business"


def test_parse_rejects_bad_row_with_line(tmp_path):
    (tmp_path / "x.csv").write_text(ROWS + '"7","bad","class"\n')
    with pytest.raises(DataError, match=r"x.csv:3"):
        read_ag_news_csv(tmp_path / "x.csv")


def test_real_files_parse(real_ag_news):
    texts, labels = read_ag_news_csv(real_ag_news / "test.csv")
    assert len(texts) == 7600 and sorted(set(labels)) == [0, 1, 2, 3]
    assert (
        hashlib.md5((real_ag_news / "test.csv").read_bytes()).hexdigest()
        == "d52ea96a97a2d943681189a97654912d"
    )


def test_download_verifies_and_caches(tmp_path, file_server):
    root, md5 = mirror(tmp_path)
    server = file_server(root)
    files = ag_news_files(tmp_path / "cache", base_url=server.url, md5=md5)
    assert files["train"].read_text() == ROWS
    assert ag_news_files(tmp_path / "cache", base_url=server.url, md5=md5) == files
    assert sorted(server.requests) == ["/test.csv", "/train.csv"]


def test_checksum_failure_leaves_no_file(tmp_path, file_server):
    root, md5 = mirror(tmp_path)
    server = file_server(root)
    with pytest.raises(DataError, match="checksum mismatch"):
        ag_news_files(tmp_path / "cache", base_url=server.url, md5={**md5, "train": "0" * 32})
    assert [p.name for p in (tmp_path / "cache" / "ag_news").iterdir()] == []  # no lock litter


def test_offline_fails_fast_naming_url_and_data_dir(tmp_path):
    start = time.monotonic()
    with pytest.raises(DataError, match=r"http://127.0.0.1:9/train.csv.*--data-dir"):
        ag_news_files(tmp_path / "cache", base_url="http://127.0.0.1:9", timeout=5)
    assert time.monotonic() - start < 10


def test_data_dir_missing_file_is_clear(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        ag_news_files(tmp_path / "cache", data_dir=tmp_path)


def test_two_processes_download_once(tmp_path, file_server):
    root, md5 = mirror(tmp_path)
    server = file_server(root, delay_s=1.0)
    code = (
        "import sys; from pathlib import Path; from data.ag_news import ag_news_files; "
        f"ag_news_files(Path(sys.argv[1]), base_url={server.url!r}, md5={md5!r})"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "cache")]) for _ in range(2)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert sorted(server.requests) == ["/test.csv", "/train.csv"]

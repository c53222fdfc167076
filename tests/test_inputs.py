"""Input files and the encode cache, tried as a careless or hostile user would: real files, real
processes. Each case either loads exactly what was asked or ends with one line naming the file."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.config import DataConfig
from data.errors import DataError
from data.prepare import prepare_data

ROWS = [("the cat sat", "a"), ("dogs bark loudly", "b"), ("a cat purrs", "a"), ("dog runs", "b")]


def csv_text(rows, header="text,label") -> str:
    return header + "\n" + "".join(f'"{t}",{label}\n' for t, label in rows)


def write_rows(path, rows, **kw) -> str:
    path.write_text(csv_text(rows, **kw), encoding="utf-8")
    return str(path)


def rnn_tune(*args, cwd=None):
    return subprocess.run(["rnn-tune", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def files_config(train, test=None, **kw) -> DataConfig:
    return DataConfig(dataset="files", train_file=str(train), test_file=test and str(test), **kw)


@pytest.mark.parametrize(
    "payload, message",
    [
        (csv_text(ROWS * 5).encode("utf-16"), "UTF-16 text, not UTF-8"),
        (b"text,label\n\x00\x01\x02binary,\x00\n" * 5, "binary data (NUL bytes)"),
        (b"text,label\n\xff\xfe\xfa broken,a\n", "not UTF-8 text"),
    ],
    ids=["utf-16", "binary", "latin-bytes"],
)
def test_files_that_are_not_utf8_text_are_one_line(tmp_path, payload, message):
    (tmp_path / "train.csv").write_bytes(payload)
    result = rnn_tune("train", "--train-file", str(tmp_path / "train.csv"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "train.csv" in lines[0], result.stderr


def test_long_texts_and_a_byte_order_mark_load(tmp_path):
    long_text = "word " * 60_000  # 300 KB, beyond csv's default 128 KB field limit
    rows = [(long_text, "a"), *ROWS] * 3
    path = tmp_path / "train.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(rows).encode("utf-8"))
    data = prepare_data(files_config(path, val_fraction=0.2))
    assert data.class_names == ("a", "b")
    assert int(data.train.lengths.max()) >= 60_000 or int(data.val.lengths.max()) >= 60_000


def test_missing_labels_are_skipped_and_counted_never_a_class(tmp_path, capsys):
    rows = ROWS * 5 + [("x", "nan"), ("y", "None"), ("z", "NaN"), ("w", "")]
    data = prepare_data(files_config(write_rows(tmp_path / "t.csv", rows)))
    assert data.class_names == ("a", "b") and data.malformed_rows == 4
    assert "missing label" in capsys.readouterr().err


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0.5, 1.5] * 10, "holds fractions"),
        ([[1], [2]] * 10, "holds list values"),
    ],
    ids=["fractions", "lists"],
)
def test_parquet_labels_that_are_not_classes_are_refused(tmp_path, labels, message):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["some words"] * len(labels), "label": labels}), path)
    with pytest.raises(DataError, match=message):
        prepare_data(files_config(path))


def test_parquet_integral_float_labels_and_nulls(tmp_path):
    path = tmp_path / "t.parquet"
    labels = [1.0, 2.0] * 10 + [float("nan"), None]
    pq.write_table(pa.table({"text": ["a b c", "d e f"] * 11, "label": labels}), path)
    data = prepare_data(files_config(path))
    assert data.class_names == ("1", "2") and data.malformed_rows == 2


def test_one_class_and_unseen_test_labels_are_refused(tmp_path):
    one = write_rows(tmp_path / "one.csv", [("t", "a")] * 20)
    with pytest.raises(DataError, match="needs two or more classes"):
        prepare_data(files_config(one))
    train = write_rows(tmp_path / "train.csv", ROWS * 5)
    test = write_rows(tmp_path / "test.csv", [("t", "a"), ("u", "c"), ("v", "d")])
    with pytest.raises(DataError, match="labels the training file never has: 'c', 'd'"):
        prepare_data(files_config(train, test))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "ag_news", "--train-file", "x.csv"], "--train-file is given but --dataset"),
        (["--dataset", "synthetic", "--max-vocab-size", "-1"], "max_vocab_size must be >= 1"),
        (["--dataset", "synthetic", "--threads", "0"], "threads must be >= 1"),
        (["--dataset", "synthetic", "--grad-clip", "-1"], "grad_clip must be >= 0"),
        (["--dataset", "synthetic", "--lr", "nan"], "lr must be a finite number"),
        (["--dataset", "synthetic", "--pooling", "sum"], "invalid choice: 'sum'"),
        (["--dataset", "synthetic", "--embed-dim", "many"], "invalid int value: 'many'"),
        (["--dataset", "synthetic", "--embed-dim", "2000000000"], "GiB to train; this machine"),
    ],
)
def test_settings_a_run_would_ignore_or_break_on_are_refused(tmp_path, args, message):
    result = rnn_tune("train", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_max_train_samples_is_exact():
    for n in (299, 300, 301):
        cfg = DataConfig(dataset="synthetic", synthetic_samples=2000, max_train_samples=n)
        assert len(prepare_data(cfg).train) == n


def entry(cache) -> os.PathLike:
    (found,) = (cache / "encoded").iterdir()
    return found


@pytest.mark.parametrize("damage", ["truncate", "garbage", "swap", "meta"])
def test_a_damaged_cache_entry_is_rebuilt_not_used(isolated_cache, capsys, damage):
    cfg = DataConfig(dataset="synthetic", synthetic_samples=400)
    good = prepare_data(cfg)
    other = prepare_data(DataConfig(dataset="synthetic", synthetic_samples=400, split_seed=1))
    target = isolated_cache / "encoded" / good.key
    train = target / "train.npz"
    if damage == "truncate":
        train.write_bytes(train.read_bytes()[:100])
    elif damage == "garbage":
        train.write_bytes(os.urandom(2000))
    elif damage == "swap":  # the same file name from another entry: valid, but not this data
        train.write_bytes((isolated_cache / "encoded" / other.key / "train.npz").read_bytes())
    else:
        (target / "meta.json").write_text('{"class_names": ')
    again = prepare_data(cfg)
    assert not again.cache_hit and np.array_equal(again.train.ids, good.train.ids)
    assert np.array_equal(again.train.labels, good.train.labels)
    err = capsys.readouterr().err
    assert "rebuilding cache entry" in err and "allow_pickle" not in err
    assert prepare_data(cfg).cache_hit


def test_failed_preparation_leaves_no_lock_and_entries_follow_the_umask(tmp_path, isolated_cache):
    old = os.umask(0o002)  # a team sharing one cache on a node
    try:
        prepare_data(DataConfig(dataset="synthetic", synthetic_samples=400))
    finally:
        os.umask(old)
    made = entry(isolated_cache)
    assert stat.S_IMODE(made.stat().st_mode) & 0o070 == 0o070
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o060 == 0o060 for p in made.iterdir())
    bad = write_rows(tmp_path / "one.csv", [("t", "a")] * 20)
    with pytest.raises(DataError):
        prepare_data(files_config(bad))
    assert not list((isolated_cache / "encoded").glob("*.lock"))
    assert not [p for p in (isolated_cache / "encoded").iterdir() if p.name.startswith(".")]


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = rnn_tune(
        "train", "--dataset", "synthetic", "--cache-dir", str(blocker / "cache"), cwd=tmp_path
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot write the data cache" in result.stderr and "--cache-dir" in result.stderr


def minimal_run(path, val_acc=0.5):
    """A run directory as a sweep writes it, by hand: config.json and two trials' records."""
    path.mkdir(parents=True)
    config = {"train": {"model": "lstm", "epochs": 2}, "sweep": {"optuna_storage": None}}
    (path / "config.json").write_text(json.dumps(config))
    lines = []
    for i, trial in enumerate(("t1", "t2")):
        cfg = {"model": "lstm", "lr": 0.001 * (i + 1)}
        lines.append({"event": "start", "trial_id": trial, "time": 1.0, "config": cfg})
        for epoch in (1, 2):
            metrics = {
                "epoch": epoch,
                "val_acc": val_acc + 0.1 * i + 0.01 * epoch,
                "error": None,
                "epoch_s": 1.0,
                "train_samples_per_s": 100.0,
                "parameters": 1000,
                "cpus": 1,
                "device": "cpu",
                "node_id": "n",
            }
            lines.append(
                {
                    "event": "result",
                    "trial_id": trial,
                    "time": 2.0,
                    "config": cfg,
                    "metrics": metrics,
                }
            )
        lines.append({"event": "complete", "trial_id": trial, "time": 3.0, "config": cfg})
    (path / "trials.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_a_minimal_run_reports(tmp_path):
    run = minimal_run(tmp_path / "rep")
    result = rnn_tune("report", str(run), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run / "report.md").is_file() and not (run / "optuna.db").exists()


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("summary.json", "[1, 2, 3]", "summary.json: not a JSON object"),
        ("summary.json", '{"by_family": {"lstm": {"val_acc": "high"}}}', "best-trial entry"),
        ("summary.json", "\x00\x01 not json", "summary.json: unreadable"),
        ("config.json", '{"train": {"epochs": "two"}}', "no [train] section"),
        ("trials.jsonl", '{"event": "result", "trial_id": 5}\n', "line 1 is not a trial record"),
        ("trials.jsonl", '[1, 2]\n{"x": 1}\n', "line 1 is not a trial record"),
    ],
)
def test_report_on_files_rnn_tune_did_not_write_is_one_line(tmp_path, file, content, message):
    run = minimal_run(tmp_path / "rep")
    (run / file).write_text(content)
    result = rnn_tune("report", str(run), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(run) in lines[0], result.stderr


def test_two_runs_with_the_same_name_are_kept_apart(tmp_path):
    a = minimal_run(tmp_path / "a" / "rep", 0.5)
    b = minimal_run(tmp_path / "b" / "rep", 0.6)
    result = rnn_tune("report", str(a), str(b), "--out", str(tmp_path / "both"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = pd.read_csv(tmp_path / "both" / "trials.csv")
    assert sorted(set(trials["run"])) == ["a/rep", "b/rep"] and len(trials) == 4
    best = trials.groupby("run")["best_val_acc"].max()
    assert best["a/rep"] == pytest.approx(0.62) and best["b/rep"] == pytest.approx(0.72)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--address", "127.0.0.1:1"], "nothing answers at --address 127.0.0.1:1"),
        (["--address", "ray://127.0.0.1:99999"], "is not HOST:PORT"),
        (["--cpus-per-trial", "4096"], "no node has 4096 CPUs"),
        (["--name", "../escape"], "must be one plain folder name"),
        (["--name", "."], "must be one plain folder name"),
        (["--dashboard-port", "0"], "dashboard_port must be >= 1"),
        (["--num-samples", "-3"], "num_samples must be >= 1"),
        (["--time-budget", "soon"], "invalid duration 'soon'"),
        (["--hidden-dim", "400000000"], "GiB to train; this machine has"),
    ],
)
def test_a_sweep_refuses_bad_settings_before_any_work(tmp_path, args, message):
    result = rnn_tune(
        "sweep", "--dataset", "synthetic", "--storage", str(tmp_path / "runs"), *args, cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()  # nothing written, Ray never started


def test_a_search_space_that_cannot_be_sampled_is_refused_before_any_work(tmp_path):
    (tmp_path / "s.toml").write_text("[sweep.search]\nlr = {loguniform = [0.0, 0.01]}\n")
    result = rnn_tune(
        "sweep",
        "--config",
        str(tmp_path / "s.toml"),
        "--storage",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "sweep.search.lr must be > 0" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_an_output_path_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    result = rnn_tune(
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "200",
        "--output",
        str(tmp_path / "taken"),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "taken" in result.stderr and "writable folder" in result.stderr
    assert (tmp_path / "taken").read_text() == "a file, not a folder"


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("kind", ["silent", "http/1"])
def test_an_address_that_is_not_ray_fails_in_one_line_not_after_minutes_of_retries(
    tmp_path, silent_port, kind
):
    if kind == "silent":
        address, message = f"127.0.0.1:{silent_port}", "(timed out)"
    else:
        server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(
            target=lambda: server.accept()[0].sendall(b"HTTP/1.0 400 Bad request\r\n\r\n"),
            daemon=True,
        ).start()
        address, message = f"127.0.0.1:{server.getsockname()[1]}", "answers, but not as Ray"
    started = time.monotonic()
    result = rnn_tune(
        "sweep",
        "--dataset",
        "synthetic",
        "--address",
        address,
        "--storage",
        str(tmp_path / "r"),
        "--quiet",
        cwd=tmp_path,
    )
    # Ray alone retries for minutes; the check gives up after 5 s (60 s leaves room for a
    # loaded machine's interpreter start-up).
    assert result.returncode == 2 and time.monotonic() - started < 60
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and message in lines[0], result.stderr
    assert not (tmp_path / "r").exists()

import json
import subprocess
import sys

import numpy as np
import pytest

from data.config import DataConfig
from data.errors import DataError
from data.prepare import prepare_data
from data.vocab import UNK_ID


def test_cache_hit_and_key(tmp_path):
    cfg = DataConfig(dataset="synthetic", synthetic_samples=400)
    first, second = prepare_data(cfg), prepare_data(cfg)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert first.key == second.key and np.array_equal(first.train.ids, second.train.ids)
    assert (
        prepare_data(DataConfig(dataset="synthetic", synthetic_samples=400, min_freq=2)).key
        != first.key
    )


def test_validation_split_is_stratified():
    data = prepare_data(DataConfig(dataset="synthetic", synthetic_samples=2000, val_fraction=0.1))
    assert abs(len(data.val) - 200) <= 4 and len(data.train) + len(data.val) == 2000
    val_share = np.bincount(data.val.labels) / len(data.val)
    train_share = np.bincount(data.train.labels) / len(data.train)
    assert np.abs(val_share - train_share).max() < 0.01


def test_vocab_from_training_split_only(tmp_path):
    (tmp_path / "train.csv").write_text(
        "text,label\n" + "".join(f"common words {i % 4},c{i % 2}\n" for i in range(100))
    )
    (tmp_path / "test.csv").write_text("text,label\nonlyintest common,c0\n")
    data = prepare_data(
        DataConfig(
            dataset="files",
            train_file=str(tmp_path / "train.csv"),
            test_file=str(tmp_path / "test.csv"),
        )
    )
    assert "onlyintest" not in data.vocab
    assert data.test.sequence(0)[0] == UNK_ID


def test_max_train_samples_and_ngrams():
    data = prepare_data(
        DataConfig(dataset="synthetic", synthetic_samples=1000, max_train_samples=100, ngrams=2)
    )
    assert len(data.train) == 100
    assert any(" " in token for token in data.vocab.itos)


def test_two_processes_build_once(tmp_path):
    code = (
        "import json, os; from data.config import DataConfig; from data.prepare import "
        "prepare_data; "
        "d = prepare_data(DataConfig(dataset='synthetic', synthetic_samples=20000)); "
        "print(json.dumps({'hit': d.cache_hit, 'pid': os.getpid(), 'key': d.key}))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(r["hit"] for r in results) == [False, True]
    builder = next(r for r in results if not r["hit"])
    meta = next((tmp_path / "cache" / "encoded").glob("*/meta.json"))
    assert json.loads(meta.read_text())["built_by_pid"] == builder["pid"]


def test_a_config_built_in_code_is_checked_against_its_declarations():
    with pytest.raises(DataError, match="max_train_samples must be >= 2"):
        prepare_data(DataConfig(dataset="synthetic", max_train_samples=1))
    with pytest.raises(DataError, match="unknown dataset 'imdb'"):
        prepare_data(DataConfig(dataset="imdb"))


def test_validation_holds_2000_rows_on_small_sets_and_5_percent_on_large_ones():
    from data.splits import validation_share

    assert validation_share(12_466, None) == 0.15  # AG_NEWS subset: 1,870 rows, not 623
    assert validation_share(30_000, None) == pytest.approx(2000 / 30_000)
    assert validation_share(120_000, None) == 0.05
    assert validation_share(12_466, 0.05) == 0.05  # --val-fraction wins
    data = prepare_data(DataConfig(dataset="synthetic", synthetic_samples=4000))
    assert len(data.val) == 600 and len(data.train) + len(data.val) == 4000

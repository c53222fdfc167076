"""Pre-trained word vectors from small files written here, in each text format users download."""

from __future__ import annotations

import gzip
import json
import subprocess

import numpy as np
import pytest
import torch

from data.errors import DataError
from data.vectors import read_vectors, vectors_dim
from data.vocab import PAD_ID, UNK_ID, Vocab
from tune.config import Config, TrainConfig
from tune.train.checkpoint import load_checkpoint
from tune.train.loop import model_for

VOCAB = Vocab(["<pad>", "<unk>", "alpha", "beta", "gamma", "paris"])


def glove_lines() -> list[str]:
    return [
        "alpha 1.0 2.0 3.0",
        "zeta 9.0 9.0 9.0",
        "Paris 4.0 5.0 6.0",
        "beta -1 -2 -3.5e0",
    ]


@pytest.mark.parametrize("form", ["glove", "word2vec", "gzip"])
def test_each_text_format_gives_the_same_rows(tmp_path, form):
    lines = glove_lines()
    if form == "word2vec":
        lines = [f"{len(lines)} 3", *lines]
    path = tmp_path / ("v.txt.gz" if form == "gzip" else "v.txt")
    text = "\n".join(lines) + "\n"
    if form == "gzip":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    vectors = read_vectors(path, VOCAB)
    assert vectors.dim == vectors_dim(path) == 3 and vectors.found == 3
    m = vectors.matrix
    assert m.shape == (6, 3) and m.dtype == np.float32
    np.testing.assert_allclose(m[VOCAB["alpha"]], [1, 2, 3])
    np.testing.assert_allclose(m[VOCAB["beta"]], [-1, -2, -3.5])
    np.testing.assert_allclose(m[VOCAB["paris"]], [4, 5, 6])  # "Paris" read as its lowercase
    assert not m[PAD_ID].any()
    assert m[VOCAB["gamma"]].any() and m[UNK_ID].any()  # missing words keep random rows


def test_an_exact_word_wins_over_its_capitalised_form(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("Paris 4 5 6\nparis 7 8 9\nPARIS 1 1 1\n")
    np.testing.assert_allclose(read_vectors(path, VOCAB).matrix[VOCAB["paris"]], [7, 8, 9])


@pytest.mark.parametrize(
    "content, message",
    [
        ("alpha 1 2 3\nbeta 1 2\n", r"v.txt:2: expected the word 'beta' and 3 numbers"),
        ("alpha 1 2 x\n", r"v.txt:1: expected the word 'alpha' and 3 numbers"),
        ("zeta 1 2 3\nomega 4 5 6\n", "none of the 6 vocab words is in"),
        ("", "holds no word vectors"),
    ],
)
def test_a_wrong_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "v.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_vectors(path, VOCAB)


def test_binary_word2vec_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 3\nalpha \x00\x80\xff\xfe\x01\x02\x03\x04\x05\x06\x07\x08\n")
    with pytest.raises(DataError, match="binary word2vec files are not read"):
        read_vectors(path, VOCAB)


def test_the_model_starts_from_the_vectors(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("\n".join(glove_lines()) + "\n")
    vectors = read_vectors(path, VOCAB)
    cfg = Config().with_embed_dim(vectors.dim)
    assert cfg.train.embed_dim == 3 and "embed_dim" not in cfg.sweep.search
    model = model_for(TrainConfig(embed_dim=3, hidden_dim=4), len(VOCAB), 4, vectors.matrix)
    torch.testing.assert_close(model.embedding.weight.detach(), torch.from_numpy(vectors.matrix))


def test_train_with_vectors_file(tmp_path):
    """`rnn-tune train --vectors FILE`: embed_dim comes from the file, the line says how many
    vocab words it held, and the checkpoint records the vectors' size."""
    path = tmp_path / "vectors.txt"
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", *(f"w{i}" for i in range(0, 50, 2))]
    path.write_text(
        "".join(f"{w} {' '.join(f'{x:.4f}' for x in rng.normal(size=6))}\n" for w in words)
    )
    out = tmp_path / "run"
    result = subprocess.run(
        [
            "rnn-tune",
            "train",
            "--dataset",
            "synthetic",
            "--synthetic-samples",
            "400",
            "--epochs",
            "1",
            "--hidden-dim",
            "8",
            "--vectors",
            str(path),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"vectors {path}: 29 of 56 vocab words (52%) found in" in result.stdout
    assert json.loads((out / "config.json").read_text())["train"]["embed_dim"] == 6
    assert load_checkpoint(out / "model.pt").model.embedding.embedding_dim == 6


def test_train_with_a_missing_vectors_file_is_one_line(tmp_path):
    result = subprocess.run(
        ["rnn-tune", "train", "--dataset", "synthetic", "--vectors", str(tmp_path / "no.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such word-vectors file" in result.stderr

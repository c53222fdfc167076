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


def test_the_conditional_space_asks_embed_dim_only_without_vectors():
    """TPE (grouped, as the driver builds it) never sees embed_dim on a trial with vectors, nor
    embed_lr_scale on one without; a trial with vectors gets their size as a constant."""
    import optuna

    from tune.sweep.optuna_search import make_sampler
    from tune.sweep.search_space import ConditionalSpace

    search = {
        "vectors": {"choice": ["none", "glove.6B.50d", "glove.6B.100d"]},
        "embed_dim": {"choice": [64, 128]},
        "embed_lr_scale": {"choice": [0.0, 1.0]},
        "lr": {"loguniform": [1e-3, 1e-2]},
    }
    space = ConditionalSpace(search, {"glove.6B.50d": 50, "glove.6B.100d": 100})
    study = optuna.create_study(direction="maximize", sampler=make_sampler(30, [], 0, True))
    kinds = set()
    for _ in range(30):
        trial = study.ask()
        constants = space(trial)
        vectors = trial.params["vectors"]
        kinds.add(vectors)
        if vectors == "none":
            assert constants == {} and "embed_dim" in trial.params
            assert "embed_lr_scale" not in trial.params
        else:
            assert constants == {"embed_dim": int(vectors.split(".")[-1].rstrip("d"))}
            assert "embed_dim" not in trial.params and "embed_lr_scale" in trial.params
        study.tell(trial, trial.params["lr"] * 10 + (vectors != "none"))
    assert kinds == set(search["vectors"]["choice"])


def prepared(tmp_path, search: dict | None, vectors: str | None = "glove.6B.50d"):
    from tune.train.prepare import prepare_run

    cfg = Config.from_dict(
        {
            "data": {"dataset": "synthetic", "synthetic_samples": 200},
            "train": {"vectors": vectors},
            "sweep": {"search": search or {}},
        }
    )
    return prepare_run(cfg, quiet=True)


def test_vectors_that_cannot_be_had_are_dropped_with_one_line(tmp_path, capsys):
    """Offline and not cached: the named choice goes, with one line naming the fix; the file
    stays and is read once; what was read is recorded in the config."""
    path = tmp_path / "v.txt"
    path.write_text("\n".join(glove_lines()) + "\n")
    search = {
        "vectors": {"choice": ["none", "glove.6B.50d", str(path)]},
        "embed_dim": {"choice": [8, 16]},
        "embed_lr_scale": {"choice": [0.0, 1.0]},
    }
    cfg, data = prepared(tmp_path, search)
    lines = [line for line in capsys.readouterr().out.splitlines() if "glove.6B.50d" in line]
    assert len(lines) == 1 and "rnn-tune vectors add glove.6B.50d FILE" in lines[0]
    assert lines[0].endswith("running without them")
    assert cfg.sweep.search["vectors"] == {"choice": ["none", str(path)]}
    assert set(data.vectors) == {str(path)} and data.vectors[str(path)].shape[1] == 3
    record = cfg.train.vector_files[str(path)]
    assert record["dim"] == 3 and record["words_found"] == 2 and len(record["sha256"]) == 64


def test_the_default_vectors_offline_train_from_scratch(tmp_path, capsys):
    cfg, data = prepared(
        tmp_path, {"embed_dim": {"choice": [8, 16]}, "embed_lr_scale": {"choice": [0.0, 1.0]}}
    )
    assert "running without them" in capsys.readouterr().out
    assert cfg.train.vectors is None and data.vectors == {} and cfg.train.vector_files == {}
    assert set(cfg.sweep.search) == {"embed_dim"}  # embed_lr_scale needs vectors


def test_registered_vectors_fix_embed_dim_and_leave_the_search(tmp_path, isolated_cache):
    from shared_data import shared_glove

    from data.vector_sources import register

    register("glove.6B.50d", shared_glove(), isolated_cache)
    cfg, data = prepared(tmp_path, {"embed_dim": {"choice": [8, 16]}})
    assert cfg.train.vectors == "glove.6B.50d" and cfg.train.embed_dim == 50
    assert "embed_dim" not in cfg.sweep.search
    assert data.for_training().vectors_for("glove.6B.50d").shape == (len(data.vocab), 50)
    assert cfg.train.vector_files["glove.6B.50d"]["words_found"] >= 4  # alpha, beta, gamma, delta


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_the_embedding_learns_at_its_own_rate_or_not_at_all(scale):
    """embed_lr_scale 0 freezes the embedding; 0.1 keeps its rate a tenth of the rest's under
    a schedule (each group's lr_scale)."""
    from tune.train.loop import lr_factor, make_optimizer

    cfg = TrainConfig(embed_dim=3, hidden_dim=4, embed_lr_scale=scale, lr_schedule="cosine")
    model = model_for(cfg, len(VOCAB), 2)
    before = model.embedding.weight.detach().clone()
    optimizer = make_optimizer(model, cfg)
    tokens = torch.tensor([[2, 3, 4], [5, 2, 0]])
    logits = model(tokens, torch.tensor([3, 2]))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
    loss.backward()
    for group in optimizer.param_groups:
        group["lr"] = cfg.lr * lr_factor(5, 10, "cosine") * group["lr_scale"]
    optimizer.step()
    changed = not torch.equal(model.embedding.weight.detach(), before)
    assert changed == (scale > 0)
    if scale:
        rates = sorted(group["lr"] for group in optimizer.param_groups)
        assert rates[0] == pytest.approx(0.1 * rates[1])


def test_vectors_none_on_the_command_line_fixes_no_vectors():
    """`--vectors none` is a value the user gave (not an absent flag): the sweep trains from
    scratch and vectors leave the search."""
    from tune.cli.main import build_parser
    from tune.cli.sweep import sweep_config

    cfg = sweep_config(build_parser().parse_args(["sweep", "--vectors", "none"]))
    assert cfg.train.vectors is None and "vectors" not in cfg.sweep.search
    default = sweep_config(build_parser().parse_args(["sweep"]))
    assert default.sweep.search["vectors"] == {"choice": ["glove.6B.50d", "glove.6B.100d"]}

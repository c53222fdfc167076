"""Checkpoints: standalone and run-directory ones, and format-1 files (before the layer split)."""

import subprocess

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from data.vocab import Vocab
from tune.config import Config, ConfigError
from tune.train.checkpoint import load_checkpoint, save_checkpoint
from tune.train.loop import model_for


def test_format_1_checkpoint_still_predicts_the_same(tmp_path):
    """A checkpoint from before (one bidirectional 2-layer nn.LSTM called `rnn`) loads into today's
    per-direction layers and gives the logits the old module gives."""
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>"] + [f"w{i}" for i in range(20)])
    embedding = nn.Embedding(len(vocab), 8, padding_idx=0)
    rnn = nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
    head = nn.Linear(32, 3)
    state = {
        **{f"embedding.{k}": v for k, v in embedding.state_dict().items()},
        **{f"rnn.{k}": v for k, v in rnn.state_dict().items()},
        **{f"head.{k}": v for k, v in head.state_dict().items()},
    }
    cfg = Config.from_dict(
        {
            "train": {
                "model": "lstm",
                "embed_dim": 8,
                "hidden_dim": 16,
                "num_layers": 2,
                "bidirectional": True,
                "pooling": "last",
                "dropout": 0.0,
            }
        }
    )
    torch.save(
        {
            "format": 1,
            "config": cfg.to_dict(),
            "model_state": state,
            "vocab": vocab.itos,
            "class_names": ["a", "b", "c"],
            "epoch": 2,
            "metrics": {},
            "optimizer_state": None,
        },
        tmp_path / "model.pt",
    )

    tokens = torch.tensor([[5, 6, 7, 8], [9, 3, 0, 0]])
    lengths = torch.tensor([4, 2])
    with torch.no_grad():
        _, (h_n, _) = rnn(
            pack_padded_sequence(embedding(tokens), lengths, batch_first=True, enforce_sorted=False)
        )
        expected = head(torch.cat([h_n[-2], h_n[-1]], dim=1))
        loaded = load_checkpoint(tmp_path / "model.pt")
        torch.testing.assert_close(loaded.model(tokens, lengths), expected, atol=1e-5, rtol=0)
    assert loaded.vocab == vocab and loaded.epoch == 2


def test_run_directory_checkpoint_needs_its_run_vocab(tmp_path):
    torch.manual_seed(0)
    cfg = Config.from_dict({"train": {"embed_dim": 4, "hidden_dim": 4}})
    vocab = Vocab(["<pad>", "<unk>", "x", "y"])
    model = model_for(cfg.train, len(vocab), 2)
    run = tmp_path / "run"
    save_checkpoint(run / "trial_1" / "checkpoint_000001", model, cfg, ["n", "p"], 1, {})
    lone = tmp_path / "lone"
    (run / "trial_1" / "checkpoint_000001" / "model.pt").parent.rename(lone)
    with pytest.raises(ConfigError, match="keeps its vocab in its run directory"):
        load_checkpoint(lone / "model.pt")
    lone.rename(run / "trial_1" / "checkpoint_000001")
    vocab.save(run / "vocab.json")
    (run / "config.json").write_text("{}")
    loaded = load_checkpoint(run / "trial_1" / "checkpoint_000001")
    assert loaded.vocab == vocab and loaded.class_names == ["n", "p"]


class Payload:
    """Any class: a pickle that names it is refused by weights_only=True."""


def standalone(tmp_path) -> dict:
    cfg = Config.from_dict({"train": {"embed_dim": 4, "hidden_dim": 4}})
    vocab = Vocab(["<pad>", "<unk>", "x", "y"])
    model = model_for(cfg.train, len(vocab), 2)
    path = save_checkpoint(tmp_path / "good", model, cfg, ["n", "p"], 1, {}, vocab=vocab)
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda p: {k: v for k, v in p.items() if k != "model_state"}, "'model_state' is missing"),
        (lambda p: {**p, "class_names": "np"}, "'class_names' is missing or not a list"),
        (lambda p: {**p, "config": {"train": {"model": "cnn"}}}, "its config is invalid"),
        (
            lambda p: {**p, "model_state": {"head.weight": torch.zeros(1)}},
            "its weights do not fit its config",
        ),
        (lambda p: {**p, "vocab": 7}, "its vocab is not a token list"),
        (lambda p: Payload(), "is not an rnn-tune checkpoint (UnpicklingError)"),
        (lambda p: [1, 2], "is not an rnn-tune checkpoint of format"),
    ],
    ids=["no-weights", "names", "config", "shapes", "vocab", "pickled-class", "a-list"],
)
def test_a_damaged_or_foreign_checkpoint_is_one_line_without_unsafe_advice(
    tmp_path, tamper, message
):
    bad = tmp_path / "bad.pt"
    torch.save(tamper(standalone(tmp_path)), bad)
    result = subprocess.run(
        ["rnn-tune", "predict", str(bad), "some text"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(bad) in lines[0], result.stderr
    assert "weights_only" not in result.stderr and "allow_pickle" not in result.stderr


def test_a_damaged_run_vocab_is_one_line(tmp_path):
    cfg = Config.from_dict({"train": {"embed_dim": 4, "hidden_dim": 4}})
    model = model_for(cfg.train, 4, 2)
    run = tmp_path / "run"
    save_checkpoint(run / "trial_1" / "checkpoint_000001", model, cfg, ["n", "p"], 1, {})
    (run / "config.json").write_text("{}")
    (run / "vocab.json").write_text('{"itos": 3')
    with pytest.raises(ConfigError, match="vocab.json: not a vocab rnn-tune wrote"):
        load_checkpoint(run / "trial_1" / "checkpoint_000001")

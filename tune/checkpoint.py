"""Self-contained checkpoints: weights, optimizer state, vocab, class names and the run config.

Everything is plain tensors, numbers, strings, lists and dicts, so `torch.load(...,
weights_only=True)` reads it and loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from data.files import atomic_write_bytes
from data.vocab import Vocab
from models import RecurrentClassifier
from tune.config import Config, ConfigError
from tune.training import model_for

FORMAT = 1


@dataclass
class LoadedCheckpoint:
    model: RecurrentClassifier
    config: Config
    vocab: Vocab
    class_names: list[str]
    epoch: int
    metrics: dict[str, Any]
    optimizer_state: dict | None


def save_checkpoint(path: Path, model: nn.Module, cfg: Config, vocab: Vocab, class_names: list[str] | tuple[str, ...],
                    epoch: int, metrics: dict[str, Any], optimizer: torch.optim.Optimizer | None = None) -> None:
    """Write atomically, with `vocab.json` beside it for tools that only need the mapping."""
    payload = {
        "format": FORMAT, "config": cfg.to_dict(), "model_state": model.state_dict(), "vocab": vocab.itos,
        "class_names": list(class_names), "epoch": epoch, "metrics": metrics,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    vocab.save(Path(path).parent / "vocab.json")


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> LoadedCheckpoint:
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise ConfigError(f"no checkpoint at {path}; pass the model.pt written by `rnn-tune train` or a sweep")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise ConfigError(f"{path} is not an rnn-tune checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path} is not an rnn-tune checkpoint (format {FORMAT})")
    cfg = Config.from_dict(payload["config"])
    vocab = Vocab(payload["vocab"])
    model = model_for(cfg.train, len(vocab), len(payload["class_names"]))
    model.load_state_dict(payload["model_state"])
    model.to(device).eval()
    return LoadedCheckpoint(model, cfg, vocab, payload["class_names"], payload["epoch"], payload["metrics"],
                            payload["optimizer_state"])

"""Checkpoints: weights and run config in `model.pt`, optimizer state apart in `optimizer.pt`.

A sweep's trial checkpoints hold no vocab: the run directory holds `vocab.json` once and a
checkpoint inside it finds it there. A checkpoint meant to travel (`rnn-tune train`'s output,
a sweep's `best/FAMILY/model.pt`) embeds the vocab, so `rnn-tune predict` needs nothing else.
The optimizer state is written only while a trial can still resume from it.

Everything is plain tensors, numbers, strings, lists and dicts, so `torch.load(...,
weights_only=True)` reads it and loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from base.files import atomic_write_bytes
from base.run_dir import CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, VOCAB_FILE
from data.vocab import Vocab
from models.classifier import RecurrentClassifier
from tune.config import Config, ConfigError
from tune.train.loop import model_for

FORMAT = 2


@dataclass
class LoadedCheckpoint:
    model: RecurrentClassifier
    config: Config
    vocab: Vocab
    class_names: list[str]
    epoch: int
    metrics: dict[str, Any]
    val_probs: np.ndarray | None = None  # (val rows, classes), in trial checkpoints of a sweep


def _write(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_checkpoint(
    directory: Path,
    model: nn.Module,
    cfg: Config,
    class_names: list[str] | tuple[str, ...],
    epoch: int,
    metrics: dict[str, Any],
    optimizer: Any = None,
    vocab: Vocab | None = None,
    val_probs: np.ndarray | None = None,
) -> Path:
    """Write DIRECTORY/model.pt (+ optimizer.pt when `optimizer` is given) atomically.

    Pass `vocab` for a checkpoint that must stand alone; leave it out inside a run directory.
    `val_probs` (val rows, classes), the epoch's validation probabilities, travel with a trial's
    weights so the end of a sweep chooses its ensemble without scoring validation again.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / MODEL_FILE,
        {
            "format": FORMAT,
            "config": cfg.to_dict(),
            "model_state": model.state_dict(),
            "vocab": vocab.itos if vocab is not None else None,
            "class_names": list(class_names),
            "epoch": epoch,
            "metrics": metrics,
            "val_probs": torch.from_numpy(val_probs) if val_probs is not None else None,
        },
    )
    if optimizer is not None:
        _write(
            directory / OPTIMIZER_FILE,
            {"format": FORMAT, "optimizer_state": optimizer.state_dict()},
        )
    return directory / MODEL_FILE


def read_payload(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, read with `weights_only=True`; a clear error for anything else."""
    if not path.is_file():
        raise ConfigError(
            f"no checkpoint at {path}; pass the model.pt written by `rnn-tune train` or a sweep"
        )
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise ConfigError(f"{path} is not an rnn-tune checkpoint ({type(exc).__name__})") from None
    if (
        isinstance(payload, dict)
        and payload.get("format") == 1
        and isinstance(payload.get("model_state"), dict)
    ):
        payload = upgrade_format_1(payload)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path} is not an rnn-tune checkpoint of format {FORMAT}")
    return payload


MODEL_FIELDS = {"model_state": dict, "config": dict, "class_names": list, "epoch": int}


def check_fields(path: Path, payload: dict[str, Any], fields: dict[str, type]) -> None:
    for key, kind in fields.items():
        if not isinstance(payload.get(key), kind):
            raise ConfigError(
                f"{path}: checkpoint field {key!r} is missing or not a {kind.__name__}; the file "
                "is damaged or was not written by rnn-tune"
            )


def load_weights(path: Path, model: torch.nn.Module, state: dict[str, Any]) -> None:
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise ConfigError(f"{path}: its weights do not fit its config ({first})") from None


def upgrade_format_1(payload: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (one multi-layer `rnn` module) in today's layout (a module per layer
    and direction): `rnn.weight_ih_l1_reverse` -> `layers.1.1.weight_ih_l0`."""
    state = {}
    for key, value in payload["model_state"].items():
        match = re.fullmatch(r"rnn\.(\w+?)_l(\d+)(_reverse)?", key)
        if match:
            name, layer, reverse = match.groups()
            key = f"layers.{layer}.{1 if reverse else 0}.{name}_l0"
        state[key] = value
    return {**payload, "format": FORMAT, "model_state": state}


def restore_training(
    directory: Path, cfg: Config, vocab_size: int, num_classes: int, device: torch.device
) -> tuple[RecurrentClassifier, dict | None, int]:
    """A trial's (model, optimizer state or None, epoch) from its last checkpoint, on `device`."""
    path = Path(directory) / MODEL_FILE
    payload = read_payload(path, device)
    check_fields(path, payload, MODEL_FIELDS)
    model = model_for(cfg.train, vocab_size, num_classes)
    load_weights(path, model, payload["model_state"])
    optimizer_path = Path(directory) / OPTIMIZER_FILE
    optimizer_state = (
        read_payload(optimizer_path, device)["optimizer_state"]
        if optimizer_path.is_file()
        else None
    )
    return model.to(device), optimizer_state, payload["epoch"]


def find_run_vocab(checkpoint: Path) -> Path | None:
    """vocab.json of the run directory (nearest folder above with config.json) of `checkpoint`."""
    for folder in list(checkpoint.parents)[:5]:
        if (folder / VOCAB_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            return folder / VOCAB_FILE
    return None


def checkpoint_vocab(path: Path, payload: dict[str, Any]) -> Vocab:
    """The vocab inside the checkpoint, else its run directory's."""
    if payload["vocab"] is not None:
        return Vocab(payload["vocab"])
    vocab_path = find_run_vocab(path)
    if vocab_path is None:
        raise ConfigError(
            f"{path} keeps its vocab in its run directory, which is not around it; "
            "pass a best/FAMILY/model.pt or the checkpoint inside its run directory"
        )
    try:
        return Vocab.load(vocab_path)
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{vocab_path}: not a vocab rnn-tune wrote; restore it") from None


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", vocab: Vocab | None = None
) -> LoadedCheckpoint:
    """A model ready to predict, from a standalone checkpoint or one inside a run directory.

    `vocab`: the run's, for a trial checkpoint away from its run directory (fetched from cloud
    storage); otherwise the checkpoint's own, or its run directory's.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    payload = read_payload(path, device)
    check_fields(path, payload, MODEL_FIELDS)
    if not isinstance(payload.get("vocab"), (list, type(None))):
        raise ConfigError(f"{path}: its vocab is not a token list; the file is damaged")
    vocab = vocab or checkpoint_vocab(path, payload)
    try:
        cfg = Config.from_dict(payload["config"])
    except ConfigError as exc:
        raise ConfigError(f"{path}: its config is invalid: {exc}") from None
    model = model_for(cfg.train, len(vocab), len(payload["class_names"]))
    load_weights(path, model, payload["model_state"])
    model.to(device).eval()
    val_probs = payload.get("val_probs")
    return LoadedCheckpoint(
        model,
        cfg,
        vocab,
        payload["class_names"],
        payload["epoch"],
        payload.get("metrics") or {},
        val_probs.numpy() if isinstance(val_probs, torch.Tensor) else None,
    )


def export_checkpoint(source: Path, target: Path, vocab: Vocab) -> Path:
    """Copy a trial checkpoint's weights to TARGET/model.pt with the vocab embedded (standalone)."""
    payload = read_payload(Path(source) / MODEL_FILE)
    Path(target).mkdir(parents=True, exist_ok=True)
    _write(Path(target) / MODEL_FILE, {**payload, "vocab": vocab.itos, "val_probs": None})
    return Path(target) / MODEL_FILE

"""Training as plain functions, shared by `rnn-tune train` and the Ray trial (no Ray here)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from data.batches import PaddedBatches
from data.prepare import PreparedData
from models import RecurrentClassifier, build_model
from tune.config import TrainConfig


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run cannot recover by itself."""


@dataclass(frozen=True)
class EpochStats:
    loss: float
    acc: float
    samples: int
    seconds: float

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Evaluation:
    loss: float
    acc: float
    labels: np.ndarray
    preds: np.ndarray


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    train: EpochStats
    val: Evaluation


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def model_for(cfg: TrainConfig, vocab_size: int, num_classes: int) -> RecurrentClassifier:
    return build_model(cfg.model, vocab_size, num_classes, embed_dim=cfg.embed_dim, hidden_dim=cfg.hidden_dim,
                       num_layers=cfg.num_layers, bidirectional=cfg.bidirectional, dropout=cfg.dropout,
                       pooling=cfg.pooling)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_one_epoch(model: nn.Module, batches: PaddedBatches, optimizer: torch.optim.Optimizer, device: torch.device,
                    grad_clip: float | None = None, on_batch: Callable[[int, int], None] | None = None) -> EpochStats:
    """One pass over `batches`; raises NonFiniteLossError as soon as the loss is NaN/inf."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for step, (tokens, lengths, labels) in enumerate(batches, start=1):
        tokens, labels = tokens.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(tokens, lengths)
        loss = nn.functional.cross_entropy(logits, labels)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"loss became {loss.item()} at step {step}; lower lr or set grad_clip")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        if on_batch:
            on_batch(step, len(batches))
    return EpochStats(total_loss / max(seen, 1), correct / max(seen, 1), seen, time.perf_counter() - start)


@torch.no_grad()
def evaluate(model: nn.Module, batches: PaddedBatches, device: torch.device) -> Evaluation:
    model.eval()
    total_loss, all_labels, all_preds = 0.0, [], []
    for tokens, lengths, labels in batches:
        logits = model(tokens.to(device), lengths)
        total_loss += nn.functional.cross_entropy(logits, labels.to(device), reduction="sum").item()
        all_labels.append(labels.numpy())
        all_preds.append(logits.argmax(1).cpu().numpy())
    labels_np = np.concatenate(all_labels) if all_labels else np.zeros(0, dtype=np.int64)
    preds_np = np.concatenate(all_preds) if all_preds else np.zeros(0, dtype=np.int64)
    n = max(len(labels_np), 1)
    loss = total_loss / n
    return Evaluation(loss if math.isfinite(loss) else float("inf"), float((labels_np == preds_np).sum() / n), labels_np, preds_np)


def train_epochs(model: nn.Module, optimizer: torch.optim.Optimizer, data: PreparedData, cfg: TrainConfig,
                 device: torch.device, epochs: int, start_epoch: int = 0,
                 on_batch: Callable[[int, int], None] | None = None) -> Iterator[EpochReport]:
    """Train epoch by epoch from `start_epoch`, yielding train stats and validation scores.

    The caller decides what an epoch's end means: printing, checkpointing, reporting to Ray.
    """
    train_batches = PaddedBatches(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_batches = PaddedBatches(data.val, max(cfg.batch_size, 256))
    for epoch in range(start_epoch, epochs):
        train_batches.set_epoch(epoch)
        stats = train_one_epoch(model, train_batches, optimizer, device, cfg.grad_clip, on_batch)
        yield EpochReport(epoch + 1, stats, evaluate(model, val_batches, device))

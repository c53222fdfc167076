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
from data.encode import EncodedSplit
from data.vocab import UNK_ID
from models.classifier import RecurrentClassifier, build_model
from results.stats import accuracy, correct
from tune.config import TrainConfig
from tune.train.adam import Adam, SparseAdam
from tune.train.inference import autocast, logits


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
    """Scores over a split, rows in its order: labels and preds (N,), probs (N, classes)."""

    loss: float
    acc: float
    labels: np.ndarray
    preds: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    train: EpochStats
    val: Evaluation

    def record(self) -> dict[str, float | int]:
        """The per-epoch record, the same for `rnn-tune train`'s history and a trial's report
        to Ray (trials.jsonl): the column names the report reads."""
        return {
            "epoch": self.epoch,
            "train_loss": self.train.loss,
            "train_acc": self.train.acc,
            "val_loss": self.val.loss,
            "val_acc": self.val.acc,
            "train_samples_per_s": self.train.samples_per_s,
            "epoch_s": self.train.seconds,
        }


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# SparseAdam's betas for the embedding. Dense Adam's momentum keeps moving a rare word's row for
# ~10 steps after its one gradient, about 10x one step in all; SparseAdam touches a row only in
# batches that hold it, so with momentum rare words learn ~10x slower (measured: 2 to 9 points
# lost after one epoch of the notebook's model). With beta1 = 0 its one step matches that sum.
SPARSE_BETAS = (0.0, 0.999)
CHECK_FINITE_EVERY = 32


def model_for(
    cfg: TrainConfig, vocab_size: int, num_classes: int, vectors: np.ndarray | None = None
) -> RecurrentClassifier:
    """The configured classifier; `vectors` (vocab_size, embed_dim), when given, start its
    embedding (trained further at embed_lr_scale x lr, or frozen at 0: make_optimizer)."""
    model = build_model(
        cfg.model,
        vocab_size,
        num_classes,
        embed_dim=cfg.embed_dim,
        hidden_dim=cfg.hidden_dim,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        pooling=cfg.pooling,
        sparse_embedding=cfg.sparse_embedding,
        embed_dropout=cfg.embed_dropout,
        word_dropout=cfg.word_dropout,
        unk_idx=UNK_ID,
    )
    if vectors is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(vectors))
    return model


ONECYCLE_RISE = 0.3


def lr_factor(step: int, total: int, schedule: str, warmup: float = 0.0) -> float:
    """The share of the peak learning rate at optimizer step `step` (0-based) of `total`.

    A pure function of the step, so a trial resumed from a checkpoint picks up the same curve.
    onecycle rises from lr/25 like torch's OneCycleLR; warm-up starts at one step's share.
    """
    t = min(step / max(total, 1), 1.0)
    if schedule == "onecycle":
        if t < ONECYCLE_RISE:
            rise = 0.5 * (1 - math.cos(math.pi * t / ONECYCLE_RISE))
            return 1 / 25 + (1 - 1 / 25) * rise
        return 0.5 * (1 + math.cos(math.pi * (t - ONECYCLE_RISE) / (1 - ONECYCLE_RISE)))
    if t < warmup:
        return (step + 1) / max(warmup * total, 1)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (t - warmup) / (1 - warmup)))
    return 1.0


class JointOptimizer:
    """SparseAdam for a sparse embedding, Adam for every other parameter, stepped as one.

    A batch touches a few hundred of the embedding's 30k rows; dense Adam would read and write
    all of them at every step. Weight decay applies to the dense parameters only (SparseAdam has
    none).
    """

    def __init__(self, optimizers: list[Adam | SparseAdam]):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [group for o in self.optimizers for group in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


def make_optimizer(model: RecurrentClassifier, cfg: TrainConfig) -> JointOptimizer:
    """Adam (SparseAdam for a sparse embedding). The embedding learns at `embed_lr_scale` x lr,
    kept by the schedule through each group's `lr_scale`; at 0 it is frozen and has no
    optimizer."""
    lr, scale = cfg.effective_lr, cfg.embed_lr_scale
    dense = [p for name, p in model.named_parameters() if not name.startswith("embedding.")]
    embedding = list(model.embedding.parameters())
    dense_group = {"params": dense, "lr_scale": 1.0}
    if scale == 0:
        for p in embedding:
            p.requires_grad_(False)
        adam = Adam([dense_group], lr=lr, weight_decay=cfg.weight_decay)
        return JointOptimizer([adam])
    embed_group = {"params": embedding, "lr": lr * scale, "lr_scale": scale}
    if model.embedding.sparse:
        return JointOptimizer(
            [
                SparseAdam([embed_group], lr=lr * scale, betas=SPARSE_BETAS),
                Adam([dense_group], lr=lr, weight_decay=cfg.weight_decay),
            ]
        )
    return JointOptimizer([Adam([embed_group, dense_group], lr=lr, weight_decay=cfg.weight_decay)])


def clip_gradients(parameters: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """`clip_grad_norm_` that also takes sparse gradients (torch's own refuses them).

    Returns the total norm as a tensor, so the loop never waits on the device for it.
    """
    norms = []
    for p in parameters:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
            norms.append(torch.linalg.vector_norm(p.grad._values()))
        else:
            norms.append(torch.linalg.vector_norm(p.grad))
    if not norms:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(norms))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in parameters:
        if p.grad is not None:
            p.grad.mul_(scale)
    return total


def train_one_epoch(
    model: nn.Module,
    batches: PaddedBatches,
    optimizer: JointOptimizer,
    device: torch.device,
    grad_clip: float | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    precision: str = "fp32",
    lr_at: Callable[[int], float] | None = None,
) -> EpochStats:
    """One pass over `batches`; raises NonFiniteLossError once the loss is NaN/inf.

    `lr_at(step)` (1-based within the epoch), when given, sets every group's learning rate
    before that step (times the group's `lr_scale`).

    Loss and accuracy are summed on the device and read once at the end: no per-step host sync
    (the finiteness check reads the running sum every CHECK_FINITE_EVERY steps).
    """
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    total_loss = torch.zeros((), device=device)
    right = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    start = time.perf_counter()
    for step, (tokens, lengths, labels) in enumerate(batches, start=1):
        tokens = tokens.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        with autocast(device, precision):
            logits = model(tokens, lengths)
            loss = nn.functional.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step) * group.get("lr_scale", 1.0)
        loss.backward()
        if grad_clip:
            clip_gradients(parameters, grad_clip)
        optimizer.step()
        total_loss += loss.detach() * len(labels)
        right += correct(logits, labels).sum()
        seen += len(labels)
        if step % CHECK_FINITE_EVERY == 0 and not torch.isfinite(total_loss):
            raise NonFiniteLossError(
                f"loss became {total_loss.item()} by step {step}; lower lr or set grad_clip"
            )
        if on_batch:
            on_batch(step, len(batches))
    mean_loss = total_loss.item() / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise NonFiniteLossError(
            f"loss became {mean_loss} in this epoch; lower lr or set grad_clip"
        )
    return EpochStats(mean_loss, right.item() / max(seen, 1), seen, time.perf_counter() - start)


def evaluate(
    model: nn.Module, split: EncodedSplit, device: torch.device, precision: str = "fp32"
) -> Evaluation:
    """Loss, accuracy, labels and predictions over `split`, rows in its order (by the one
    inference path, tune/train/inference.py)."""
    labels = np.asarray(split.labels, dtype=np.int64)
    if not len(labels):
        return Evaluation(0.0, 0.0, labels, labels.copy(), np.zeros((0, 0), dtype=np.float32))
    scores = logits(model, split, device, precision)
    loss = nn.functional.cross_entropy(scores, torch.from_numpy(labels)).item()
    preds = scores.argmax(1).numpy()
    acc = accuracy(preds, labels)
    probs = torch.softmax(scores, dim=1).numpy()
    return Evaluation(loss if math.isfinite(loss) else float("inf"), acc, labels, preds, probs)


def train_epochs(
    model: nn.Module,
    optimizer: JointOptimizer,
    train: EncodedSplit,
    val: EncodedSplit,
    cfg: TrainConfig,
    device: torch.device,
    start_epoch: int = 0,
    on_batch: Callable[[int, int], None] | None = None,
) -> Iterator[EpochReport]:
    """Train epoch by epoch from `start_epoch`, yielding train stats and validation scores.

    The caller decides what an epoch's end means: printing, checkpointing, reporting to Ray.
    """
    train_batches = PaddedBatches(train, cfg.batch_size, shuffle=True, seed=cfg.seed)
    steps, peak = len(train_batches), cfg.effective_lr
    total, schedule = cfg.epochs * steps, (cfg.lr_schedule, cfg.warmup)
    for epoch in range(start_epoch, cfg.epochs):
        train_batches.set_epoch(epoch)

        def lr_at(step: int, before: int = epoch * steps) -> float:
            return peak * lr_factor(before + step - 1, total, *schedule)

        stats = train_one_epoch(
            model,
            train_batches,
            optimizer,
            device,
            cfg.grad_clip,
            on_batch,
            cfg.precision,
            None if schedule == ("constant", 0.0) else lr_at,
        )
        yield EpochReport(epoch + 1, stats, evaluate(model, val, device, cfg.precision))

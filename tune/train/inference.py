"""The one inference path: a model and an encoded split -> class scores, in the split's row order.

Evaluation after each epoch, the test score of each family's best, the ensemble's choice and its
test score, the paired test and `rnn-tune predict` all call it. Rows run in batches sorted by
length over the whole split, then go back to the split's order: consecutive rows padded to the
longest of each batch took 3.4 times as long on the test split (benchmarks/inference_order.py).
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from data.batches import gather_batch
from data.encode import EncodedSplit

# Sorted batches of 128 rows scored the test split 24% faster than 512 (bi-GRU 128, one thread:
# 3,568 against 2,888 rows/s; 64 and 256 within 4% of 128).
INFERENCE_BATCH_SIZE = 128


def length_sorted_batches(split: EncodedSplit, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of `batch_size`, shortest rows first (stable: ties keep order)."""
    order = np.argsort(split.lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked for (CUDA mainly); fp32 runs without it."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@torch.inference_mode()
def logits(
    model: nn.Module,
    split: EncodedSplit,
    device: torch.device | None = None,
    precision: str = "fp32",
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> torch.Tensor:
    """float32 logits (len(split), num_classes) on the CPU, row i for the split's row i."""
    device = device or torch.device("cpu")
    model.eval()
    batches = length_sorted_batches(split, batch_size)
    out: torch.Tensor | None = None
    for rows in batches:
        tokens, lengths, _ = gather_batch(split, rows)
        with autocast(device, precision):
            scores = model(tokens.to(device), lengths).float().cpu()
        if out is None:
            out = torch.empty((len(split), scores.shape[1]), dtype=torch.float32)
        out[torch.from_numpy(rows)] = scores
    return out if out is not None else torch.zeros((0, 0), dtype=torch.float32)


def probabilities(
    model: nn.Module,
    split: EncodedSplit,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Softmax over classes for every row of `split`, in its order: (len(split), num_classes)."""
    scores = logits(model, split, device, precision)
    return torch.softmax(scores, dim=1).numpy() if len(scores) else scores.numpy()


LATENCY_ROWS = 50  # rows scored one at a time for a trial's latency_ms


@torch.inference_mode()
def request_latency_ms(model: nn.Module, split: EncodedSplit, rows: int = LATENCY_ROWS) -> float:
    """Median milliseconds for the model to score one row of `split` at a time (batch 1, one
    thread, on the CPU, the serving setting): a trial's latency_ms, the second objective of
    `--objective accuracy,latency`. Tokenization is left out: it costs every trial of a run the
    same; the end phase's serving costs include it. The first row warms up and is not timed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cpu = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).cpu()
    training = cpu.training
    cpu.eval()
    seconds = []
    try:
        for row in range(min(rows, len(split) - 1) + 1):
            tokens, lengths, _ = gather_batch(split, np.array([row]))
            started = time.perf_counter()
            cpu(tokens, lengths)
            seconds.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
        cpu.train(training)
    return float(np.median(seconds[1:] or seconds) * 1000)

"""Class probabilities over a split: consecutive rows padded to the longest of each batch (the
ensemble's scoring before) against length-sorted batches put back in the split's order (now).

    python benchmarks/inference_order.py --data-dir DIR [--rounds 3]

One bidirectional GRU 128/128 (max pooling, its weights as initialised: speed does not depend on
them) scores the official 7,600-row test split on one thread; the two ways alternate, and the
script prints each round's seconds, the median ratio, and that both give the same probabilities.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import median

from data.batches import gather_batch
from data.config import DataConfig
from data.prepare import prepare_data
from models.classifier import build_model
from tune.train.inference import INFERENCE_BATCH_SIZE, probabilities


def consecutive(model: torch.nn.Module, split) -> np.ndarray:
    """The code before: 512 consecutive rows at a time, each batch padded to its longest row."""
    out = []
    with torch.no_grad():
        for start in range(0, len(split), INFERENCE_BATCH_SIZE):
            rows = np.arange(start, min(len(split), start + INFERENCE_BATCH_SIZE))
            tokens, lengths, _ = gather_batch(split, rows)
            out.append(torch.softmax(model(tokens, lengths).float(), dim=1).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = prepare_data(DataConfig(data_dir=args.data_dir))
    torch.manual_seed(0)
    model = build_model(
        "gru", len(data.vocab), len(data.class_names), 128, 128, bidirectional=True, pooling="max"
    ).eval()
    times: dict[str, list[float]] = {"consecutive": [], "length-sorted": []}
    results = {}
    for _ in range(args.rounds):
        for name, score in (("consecutive", consecutive), ("length-sorted", probabilities)):
            started = time.perf_counter()
            results[name] = score(model, data.test)
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        print(f"{name:14s} " + "  ".join(f"{s:6.2f}s" for s in seconds))
    ratio = median(times["consecutive"]) / median(times["length-sorted"])
    same = np.allclose(results["consecutive"], results["length-sorted"], atol=1e-5)
    print(f"length-sorted: {ratio:.1f}x faster on {len(data.test)} rows; same results: {same}")


if __name__ == "__main__":
    main()

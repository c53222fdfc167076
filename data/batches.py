"""Padded, length-bucketed batches.

In random batches of AG_NEWS 41-65% of all positions are padding; shuffling, then sorting
within pools of `bucket_size` batches, then shuffling the batch order keeps batches random
while each holds texts of similar length.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from data.encode import EncodedSplit
from data.vocab import PAD_ID

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def gather_batch(split: EncodedSplit, idx: np.ndarray) -> Batch:
    """Rows `idx` of a split, padded in one vectorised gather (no per-row Python loop).

    -> tokens (B, T) int64 padded with `<pad>`, lengths (B,) int64, labels (B,) int64.
    """
    starts = split.offsets[idx]
    lengths = split.offsets[idx + 1] - starts
    positions = np.arange(int(lengths.max()))[None, :]
    real = positions < lengths[:, None]
    flat = np.minimum(starts[:, None] + positions, len(split.ids) - 1)
    tokens = np.where(real, split.ids[flat], PAD_ID).astype(np.int64)
    labels = np.asarray(split.labels[idx], dtype=np.int64)
    return torch.from_numpy(tokens), torch.from_numpy(lengths), torch.from_numpy(labels)


class PaddedBatches:
    """Iterable of padded batches over an encoded split; a new shuffle each epoch when `shuffle`.

    Without shuffle, batches keep the split's order (evaluation, prediction), sorted by length
    inside each pool only when `bucket_size` > 0.
    """

    def __init__(
        self,
        split: EncodedSplit,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        bucket_size: int = 50,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_size = bucket_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def batch_indices(self) -> list[np.ndarray]:
        n = len(self.split)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self.bucket_size > 0:
            lengths = self.split.lengths
            pool = self.batch_size * self.bucket_size
            chunks = np.array_split(order, range(pool, n, pool)) if n else []
            if chunks:
                order = np.concatenate(
                    [chunk[np.argsort(lengths[chunk], kind="stable")] for chunk in chunks]
                )
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[Batch]:
        for idx in self.batch_indices():
            yield gather_batch(self.split, idx)

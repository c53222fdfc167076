"""Seeded, stratified index splits (validation from train; test when a dataset has none)."""

from __future__ import annotations

import numpy as np

VAL_SHARE, VAL_ROWS, MAX_VAL_SHARE = 0.05, 2000, 0.15


def validation_share(rows: int, val_fraction: float | None) -> float:
    """The share of `rows` held out for validation: `val_fraction` when given, else 5%, raised to
    hold 2,000 rows where that is at most 15% of them.

    Model selection reads validation accuracy: on 623 rows (5% of 12,466) its 95% interval is
    about +/-2.5 points around 89%, wider than the gaps between the top trials; 2,000 rows make it
    +/-1.4.
    """
    if val_fraction is not None:
        return val_fraction
    return min(MAX_VAL_SHARE, max(VAL_SHARE, VAL_ROWS / max(rows, 1)))


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held_out) with about `fraction` of every class held out.

    Each class with at least two rows gives at least one row, so small classes are represented.
    """
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if fraction > 0 and len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def subsample(labels: np.ndarray, max_samples: int | None, seed: int) -> np.ndarray:
    """Indices of exactly `max_samples` rows (all rows if fewer), stratified, in their order.

    Each class gets its share rounded down; the rows left over go to the classes with the
    largest remainders.
    """
    if max_samples is None or max_samples >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * max_samples / len(labels)
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: max_samples - take.sum()]:
        take[i] += 1
    chosen = []
    for label, n in zip(classes, take):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        chosen.append(idx[:n])
    return np.sort(np.concatenate(chosen))

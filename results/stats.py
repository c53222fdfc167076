"""Small statistics the report needs."""

from __future__ import annotations

import math

import numpy as np


def correct(scores, labels):
    """Which rows a classifier gets right: `scores` are class scores (rows, classes) or predicted
    classes (rows,), numpy or torch alike; -> bool per row. The one accuracy rule of the product."""
    predicted = scores.argmax(1) if scores.ndim == 2 else scores
    return predicted == labels


def accuracy(scores, labels) -> float:
    """The share of rows `correct` (scores (rows, classes) or predicted classes (rows,))."""
    return float(correct(scores, labels).mean())


def wilson_interval(acc: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion `acc` over `n` trials (sound near 0 and 1, too)."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for two classifiers scored on the same rows.

    `only_a`: rows only A gets right; `only_b`: rows only B gets right. Rows both get right or
    both get wrong say nothing about which is better; if neither is, each disagreement is a fair
    coin, so the p-value is a binomial tail. Paired, it resolves far smaller differences than two
    separate Wilson intervals do.
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_counts(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """Two classifiers on the same rows (bool per row each, right or not): (rows only A gets
    right, rows only B gets right, McNemar's exact p)."""
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    return only_a, only_b, mcnemar_p(only_a, only_b)

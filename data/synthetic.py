"""A seeded synthetic dataset whose label depends on word order between far-apart tokens.

Each text is filler words with four marker words ("alpha", "beta", "gamma", "delta") placed once
each at random positions. Label bit 0 says whether alpha comes before beta, bit 1 whether gamma
comes before delta. Every text holds the same bag of markers, so a bag-of-words model is at
chance (25%); a recurrent model must carry a marker across the filler between them, which is
where a plain RNN's vanishing gradients show against an LSTM or GRU.
"""

from __future__ import annotations

import numpy as np

CLASS_NAMES = (
    "alpha<beta gamma<delta",
    "alpha>beta gamma<delta",
    "alpha<beta gamma>delta",
    "alpha>beta gamma>delta",
)
_MARKERS = ("alpha", "beta", "gamma", "delta")
_FILLER = tuple(f"w{i}" for i in range(50))


def make_synthetic(
    num_samples: int, seed: int, min_len: int = 8, max_len: int = 40
) -> tuple[list[str], list[int]]:
    """Return `num_samples` texts and labels in 0-3, the same for the same arguments."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    for _ in range(num_samples):
        length = int(rng.integers(max(min_len, len(_MARKERS)), max_len + 1))
        words = list(rng.choice(_FILLER, size=length))
        positions = rng.choice(length, size=len(_MARKERS), replace=False)
        for marker, position in zip(_MARKERS, positions):
            words[position] = marker
        a, b, c, d = positions
        labels.append(int(a > b) + 2 * int(c > d))
        texts.append(" ".join(words))
    return texts, labels

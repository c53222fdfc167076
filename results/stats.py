"""Small statistics the report needs."""

from __future__ import annotations

import math


def wilson_interval(acc: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion `acc` over `n` trials (sound near 0 and 1, too)."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))

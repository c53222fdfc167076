"""The shared real files beside the checkout, for tests that skip cleanly where they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_glove() -> Path:
    """The real GloVe 6B 50d subset (../shared/data/glove, or $RNN_TUNE_TEST_GLOVE)."""
    path = Path(
        os.environ.get(
            "RNN_TUNE_TEST_GLOVE",
            REPO.parent / "shared" / "data" / "glove" / "glove.6B.50d.subset.txt.gz",
        )
    )
    if not path.is_file():
        pytest.skip(f"shared GloVe vectors not found at {path} (set RNN_TUNE_TEST_GLOVE)")
    return path

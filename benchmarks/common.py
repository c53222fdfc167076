"""Helpers shared by the benchmarks: the code before a change checked out beside this tree, and
running a contender in its own process (so the two trees' packages never mix)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE_REV = "f0f89f3"  # main before the fast-trials change (issue 8)


SHARED_GLOVE = REPO.parent / "shared" / "data" / "glove" / "glove.6B.50d.subset.txt.gz"


def seed_vectors(cache_dir: Path) -> None:
    """Register the shared real GloVe 50d file as glove.6B.50d in `cache_dir` (once), as a user
    with no network would (`rnn-tune vectors add`); benchmarks never download."""
    from data.vector_sources import cached, register

    if SHARED_GLOVE.is_file() and not cached("glove.6B.50d", cache_dir):
        register("glove.6B.50d", SHARED_GLOVE, cache_dir)


def checkout_before(rev: str = BEFORE_REV) -> Path:
    """A detached git worktree of `rev` in .cache/bench-REV (ignored), created once and reused."""
    target = REPO / ".cache" / f"bench-{rev}"
    if not (target / "tune").is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "--force", str(target), rev],
            check=True,
            capture_output=True,
        )
    return target


def run_json(
    args: list[str], root: Path, env: dict[str, str] | None = None, timeout: int = 1800
) -> dict:
    """Run `python ARGS` with ROOT's packages first on the path; the last stdout line is JSON."""
    full_env = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=root,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} in {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def limited_batches(split, batch_size: int, limit: int, **kwargs):
    """PaddedBatches (of whichever tree is on the path) whose epoch is its first `limit` batches."""
    from data.batches import PaddedBatches

    class Limited(PaddedBatches):
        def batch_indices(self):
            return super().batch_indices()[:limit]

        def __len__(self) -> int:
            return min(limit, super().__len__())

    return Limited(split, batch_size, **kwargs)

"""Serving a run's models as `rnn-tune predict` does, and what that costs, measured.

A served model is one or more members (RNN checkpoints, the run's linear model), each loaded once,
each turning raw texts into class probabilities through its own vocab; an option averages them
with its weights. The cost of an option is measured on the same texts for every member: latency
per request at batch 1 on one thread (tokenization included) and rows per second at a larger
batch, then summed over the option's members request by request (they run one after the other,
as `predict` runs them). Parameters and the bytes `predict` loads complete it. Figures move
with the machine; `machine()` says which one measured them.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from base.errors import UsageError
from base.run_dir import MODEL_FILE
from data.encode import EncodedSplit, encode_texts
from data.vocab import Vocab
from models.linear import LinearTextModel
from tune.train.checkpoint import LoadedCheckpoint, load_checkpoint
from tune.train.inference import probabilities

LATENCY_REQUESTS = 100  # texts sent one at a time; p50 and p95 over them
THROUGHPUT_BATCH = 256  # texts sent at once for rows per second


@dataclass(frozen=True)
class Member:
    """One loaded model: texts -> class probabilities (len(texts), classes)."""

    path: str
    predict: Callable[[list[str]], np.ndarray]
    class_names: tuple[str, ...] = ()
    parameters: int = 0  # frozen embeddings included: they are served too

    @property
    def size_bytes(self) -> int:
        """What `predict` loads: the model's file."""
        return os.path.getsize(self.path)


def load_member(path: str | Path) -> Member:
    """An RNN checkpoint (model.pt or its folder) or a linear model (.npz), loaded once."""
    path = str(path)
    if path.endswith(".npz"):
        try:
            linear = LinearTextModel.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{path}: not a readable linear model ({exc})") from None
        vocab = Vocab(linear.itos)

        def linear_predict(texts: list[str]) -> np.ndarray:
            split = encode_texts(texts, [0] * len(texts), vocab, linear.ngrams)
            return linear.probabilities(split.ids, split.offsets)

        weights = int(linear.coef.size + linear.intercept.size + linear.idf.size)
        return Member(path, linear_predict, tuple(linear.class_names), weights)
    return rnn_member(load_checkpoint(path), model_file(path))


def model_file(path: str | Path) -> Path:
    """model.pt itself, or the folder holding it."""
    return Path(path) if Path(path).is_file() else Path(path) / MODEL_FILE


def rnn_member(loaded: LoadedCheckpoint, file: Path) -> Member:
    """A loaded RNN checkpoint served from `file` (its size is what `predict` loads)."""

    def rnn_predict(texts: list[str]) -> np.ndarray:
        split = encode_texts(texts, [0] * len(texts), loaded.vocab, loaded.config.data.ngrams)
        return probabilities(loaded.model, split)

    parameters = sum(p.numel() for p in loaded.model.parameters())
    return Member(str(file), rnn_predict, tuple(loaded.class_names), parameters)


def weighted_probabilities(
    members: list[tuple[Member, float]], texts: list[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """The members' class probabilities averaged with their weights: (len(texts), classes)."""
    names = members[0][0].class_names
    if any(m.class_names != names for m, _ in members):
        raise UsageError("the models name different classes; they cannot be averaged")
    total = sum(w * m.predict(texts).astype(np.float64) for m, w in members)
    return names, total / sum(w for _, w in members)


def split_texts(split: EncodedSplit, vocab: Vocab, rows: int) -> list[str]:
    """The first `rows` rows of an encoded split as text again (its tokens joined by spaces):
    real validation rows for the measurement, tokenized anew by every member."""
    return [
        " ".join(vocab.itos[i] for i in split.sequence(r)) for r in range(min(rows, len(split)))
    ]


@dataclass(frozen=True)
class Timings:
    """One member on the measurement texts: seconds per request (LATENCY_REQUESTS,) and for one
    batch of THROUGHPUT_BATCH texts."""

    per_request: np.ndarray
    batch_s: float


def time_member(member: Member, texts: list[str]) -> Timings:
    """Requests one text at a time, then one batch, on one thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        member.predict(texts[:1])  # the first call pays one-off costs a server pays once too
        per_request = []
        for text in texts[:LATENCY_REQUESTS]:
            started = time.perf_counter()
            member.predict([text])
            per_request.append(time.perf_counter() - started)
        started = time.perf_counter()
        member.predict(texts[:THROUGHPUT_BATCH])
        batch_s = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    return Timings(np.asarray(per_request), batch_s)


def option_cost(members: list[Member], timings: list[Timings], batch: int) -> dict[str, Any]:
    """An option's measured cost from its members' timings on the same texts."""
    per_request = sum(t.per_request for t in timings)
    return {
        "latency_ms_p50": float(np.percentile(per_request, 50) * 1000),
        "latency_ms_p95": float(np.percentile(per_request, 95) * 1000),
        "rows_per_s": float(batch / sum(t.batch_s for t in timings)),
        "size_mb": sum(m.size_bytes for m in members) / 1e6,
        "parameters": int(sum(m.parameters for m in members)),
    }


class CostMeter:
    """Measures options on the same texts; each model (by name: a trial id or the linear
    model) is loaded and timed once however many options hold it."""

    def __init__(
        self,
        texts: list[str],
        loaded: Callable[[str], LoadedCheckpoint | None] = lambda name: None,
    ):
        """`loaded`: a model already in memory by name (the end phase's scored checkpoints),
        else None and it is loaded from its file."""
        self.texts, self.loaded = texts, loaded
        self.batch = min(THROUGHPUT_BATCH, len(texts))
        self._timed: dict[str, tuple[Member, Timings]] = {}

    def _member(self, name: str, path: str) -> tuple[Member, Timings]:
        if name not in self._timed:
            loaded = self.loaded(name)
            member = rnn_member(loaded, model_file(path)) if loaded else load_member(path)
            self._timed[name] = (member, time_member(member, self.texts))
        return self._timed[name]

    def cost(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        """`members`: [{trial_id, checkpoint, ...}] as summary.json lists them."""
        timed = [self._member(m["trial_id"], m["checkpoint"]) for m in members]
        return option_cost([m for m, _ in timed], [t for _, t in timed], self.batch)

    def measured_on(self) -> dict[str, Any]:
        """How the costs were measured, for the report: they move with the machine."""
        return {
            **machine(),
            "threads": 1,
            "requests": min(LATENCY_REQUESTS, len(self.texts)),
            "batch": self.batch,
            "texts": "validation rows",
        }


def machine() -> dict[str, Any]:
    """What measured the costs: they move with it."""
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "processor": platform.processor() or platform.machine(),
        "device": "cpu",
    }

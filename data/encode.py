"""Compact encoded splits: one flat id array plus offsets, saved and loaded as .npz."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from base.files import atomic_write_bytes
from data.tokenizer import basic_english, ngrams_iterator
from data.vocab import UNK_ID, Vocab


@dataclass(frozen=True)
class EncodedSplit:
    """Sequence i is `ids[offsets[i]:offsets[i + 1]]` with label `labels[i]`.

    ids: int32 (total_tokens,); offsets: int64 (n + 1,); labels: int64 (n,).
    """

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, ids=self.ids, offsets=self.offsets, labels=self.labels)
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path | BinaryIO) -> EncodedSplit:
        with np.load(path) as z:
            return cls(z["ids"], z["offsets"], z["labels"])


def text_terms(text: str, ngrams: int) -> list[str]:
    """The one text-to-terms rule, for preparation and `rnn-tune predict` alike: `basic_english`
    tokens, then their n-grams up to `ngrams` (torchtext's order)."""
    return list(ngrams_iterator(basic_english(text), ngrams))


def encode(
    token_lists: Sequence[Sequence[str]], labels: Sequence[int], vocab: Vocab
) -> EncodedSplit:
    """Numericalize tokenized texts. An empty text becomes one `<unk>` so every length is >= 1."""
    pieces = [vocab.lookup_indices(tokens) or [UNK_ID] for tokens in token_lists]
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((i for p in pieces for i in p), dtype=np.int32, count=int(offsets[-1]))
    return EncodedSplit(ids, offsets, np.asarray(labels, dtype=np.int64))


def encode_texts(
    texts: Sequence[str], labels: Sequence[int], vocab: Vocab, ngrams: int
) -> EncodedSplit:
    """Raw texts -> an encoded split by `text_terms`; words outside `vocab` become `<unk>`."""
    return encode([text_terms(t, ngrams) for t in texts], labels, vocab)

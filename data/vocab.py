"""A vocabulary with fixed special ids (`<pad>` = 0, `<unk>` = 1); unseen tokens map to `<unk>`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from base.files import atomic_write_text

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


class Vocab:
    """Token <-> id mapping. Ids are ordered like torchtext's: frequency descending, then token."""

    def __init__(self, itos: Iterable[str]):
        self.itos = list(itos)
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocab must start with {PAD!r}, {UNK!r}")
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, UNK_ID)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        get = self.stoi.get
        return [get(t, UNK_ID) for t in tokens]

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps({"itos": self.itos}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["itos"])


def build_vocab(
    token_lists: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None
) -> Vocab:
    """Count tokens (training split only) and keep those seen `min_freq` times, at most `max_size`
    of them (specials not counted)."""
    counter: Counter[str] = Counter()
    for tokens in token_lists:
        counter.update(tokens)
    counter.pop(PAD, None)
    counter.pop(UNK, None)
    kept = sorted(
        (item for item in counter.items() if item[1] >= min_freq), key=lambda kv: (-kv[1], kv[0])
    )
    if max_size is not None:
        kept = kept[:max_size]
    return Vocab([PAD, UNK] + [token for token, _ in kept])

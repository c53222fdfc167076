"""torchtext-compatible tokenizers.

torchtext 0.18 cannot be imported beside current torch, so its `basic_english` normalizer and
`ngrams_iterator` are re-created here, rule for rule, so results match the notebook's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

# torchtext.data.utils._patterns / _replacements, applied in this order after lower-casing.
_PATTERNS = [
    r"\'",
    r"\"",
    r"\.",
    r"<br \/>",
    r",",
    r"\(",
    r"\)",
    r"\!",
    r"\?",
    r"\;",
    r"\:",
    r"\s+",
]
_REPLACEMENTS = [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "]
_RULES = [(re.compile(p), r) for p, r in zip(_PATTERNS, _REPLACEMENTS)]

Tokenizer = Callable[[str], list[str]]


def basic_english(line: str) -> list[str]:
    """Lower-case, space out ' . , ( ) ! ?, drop double quotes, blank out <br />, ; and :, split."""
    line = line.lower()
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def _split(line: str) -> list[str]:
    return line.split()


def get_tokenizer(
    tokenizer: str | Callable[[str], list[str]] | None, language: str = "en"
) -> Tokenizer:
    """A tokenizer by torchtext's names: "basic_english", None (whitespace split) or a callable."""
    if tokenizer is None:
        return _split
    if callable(tokenizer):
        return tokenizer
    if tokenizer == "basic_english":
        if language != "en":
            raise ValueError("Basic normalization is only available for English (en)")
        return basic_english
    raise ValueError(f"unknown tokenizer {tokenizer!r}: use 'basic_english' or None")


def ngrams_iterator(token_list: Sequence[str], ngrams: int) -> Iterator[str]:
    """Every token, then every 2-gram, ..., every n-gram (joined by spaces), as torchtext does."""
    yield from token_list
    for n in range(2, ngrams + 1):
        for gram in zip(*[token_list[i:] for i in range(n)]):
            yield " ".join(gram)

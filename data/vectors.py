"""Pre-trained word vectors from a local text file, lined up with a vocab.

Reads the text formats users download: GloVe (`word v1 ... vD` per line), word2vec and fastText
`.vec` (the same, after a `COUNT DIM` header line), plain or gzipped. Only the vocab's words are
parsed, so a 400,000-word GloVe file costs seconds. A word missing from the file keeps a random
row with the found rows' spread; `<pad>` stays zero.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.errors import DataError
from data.vocab import PAD_ID, Vocab


@dataclass(frozen=True)
class WordVectors:
    """matrix (V, D) float32, row i for vocab id i; `found` rows came from the file `path`;
    `name` is what --vectors said (a source name or the path), `sha256` the file's."""

    matrix: np.ndarray
    found: int
    path: str
    name: str = ""
    sha256: str = ""

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            yield from enumerate(f, start=1)
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not UTF-8 text; binary word2vec files are not read: save them as text "
            "(gensim: KeyedVectors.save_word2vec_format(..., binary=False))"
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read word vectors {path}: {exc}; check --vectors") from None


def _is_header(fields: list[str]) -> bool:
    """word2vec's and fastText's first line: `COUNT DIM`."""
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def vectors_dim(path: str | Path) -> int:
    """The vectors' size, from the header or the first vector line: the embedding size to use."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such word-vectors file: {path}; check --vectors")
    for lineno, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        if lineno == 1 and _is_header(fields):
            return int(fields[1])
        if len(fields) < 2:
            break
        return len(fields) - 1
    raise DataError(
        f"{path} holds no word vectors: expected lines of a word and its numbers "
        "(GloVe, word2vec or fastText text format)"
    )


def read_vectors(path: str | Path, vocab: Vocab, seed: int = 0) -> WordVectors:
    """The vocab's rows from `path` (exact word first, else its lowercase form).

    Raises DataError naming the line when a used line is malformed, or when no vocab word is in
    the file (the wrong file, or another language).
    """
    path = Path(path)
    dim = vectors_dim(path)
    matrix = np.zeros((len(vocab), dim), dtype=np.float32)
    exact = np.zeros(len(vocab), dtype=bool)
    filled = np.zeros(len(vocab), dtype=bool)
    for lineno, line in _lines(path):
        if lineno == 1 and _is_header(line.split()):
            continue
        word, _, rest = line.rstrip("\n").partition(" ")
        lower = word if word in vocab else word.lower()
        index = vocab.stoi.get(lower)
        if index is None or exact[index] or (filled[index] and lower != word):
            continue
        try:
            row = np.array(rest.split(), dtype=np.float32)
        except ValueError:
            row = np.zeros(0)
        if row.shape != (dim,):
            raise DataError(
                f"{path}:{lineno}: expected the word {word!r} and {dim} numbers; is the file "
                "GloVe, word2vec or fastText text format?"
            )
        matrix[index] = row
        filled[index] = True
        exact[index] = lower == word
    filled[PAD_ID] = False
    found = int(filled.sum())
    if not found:
        raise DataError(
            f"none of the {len(vocab):,} vocab words is in {path}; point --vectors at word "
            "vectors for this text's language"
        )
    missing = ~filled
    missing[PAD_ID] = False
    spread = float(matrix[filled].std()) or 1.0
    rng = np.random.default_rng(seed)
    matrix[missing] = rng.normal(0.0, spread, size=(int(missing.sum()), dim))
    matrix[PAD_ID] = 0.0
    return WordVectors(matrix, found, str(path), str(path))

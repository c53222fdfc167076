"""Raw text -> tokens -> ids, once: the encode-once cache shared by every run and trial on a node.

The cache key covers the raw data's content hash and every setting that changes the arrays, so
a second run (or a second trial) with the same data loads arrays instead of tokenizing again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from base.files import atomic_write_text, current_umask, file_digest, file_lock
from data import ag_news, synthetic
from data.config import DataConfig, default_cache_dir
from data.encode import EncodedSplit, encode, encode_texts, text_terms
from data.errors import DataError
from data.splits import stratified_split, subsample, validation_share
from data.tables import label_names, read_table
from data.vocab import Vocab, build_vocab

FORMAT_VERSION = 2
SPLITS = ("train", "val", "test")
FILES = ("train.npz", "val.npz", "test.npz", "vocab.json")


class BrokenCacheEntry(Exception):
    """A cache entry is cut short, damaged or not the one its key names: it is rebuilt."""


@dataclass(frozen=True)
class PreparedData:
    """A dataset ready to train on: the vocab, the encoded splits (token ids per row, labels),
    where they came from in the cache, and the run's word vectors by name, (len(vocab), D)."""

    vocab: Vocab
    class_names: tuple[str, ...]
    train: EncodedSplit
    val: EncodedSplit
    test: EncodedSplit
    key: str
    cache_hit: bool
    malformed_rows: int = 0
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def for_training(self) -> TrainingData:
        return TrainingData(self.train, self.val, len(self.vocab), self.class_names, self.vectors)


@dataclass(frozen=True)
class TrainingData:
    """What a trial reads: the train and validation splits, the vocab's size and the class names.

    No vocab strings and no test split, so the copy each trial gets is the id arrays alone (read
    in place from Ray's object store), with each pre-trained vectors' (V, D) rows by the name
    --vectors (or the search) gives them: read once per run, shared by every trial.
    """

    train: EncodedSplit
    val: EncodedSplit
    vocab_size: int
    class_names: tuple[str, ...]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def vectors_for(self, name: str | None) -> np.ndarray | None:
        """The rows that start a model whose `vectors` setting is `name` (None: none)."""
        return self.vectors[name] if name else None


@dataclass
class _Raw:
    train_texts: list[str]
    train_labels: np.ndarray
    test_texts: list[str] | None
    test_labels: np.ndarray | None
    class_names: tuple[str, ...]
    malformed_rows: int = 0


def prepare_data(cfg: DataConfig) -> PreparedData:
    """The encoded train/val/test splits and vocab for `cfg`, from the cache when possible."""
    bad = cfg.problems()
    if bad:
        raise DataError(bad[0])
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    fingerprint, load_raw = _source(cfg, cache_dir)
    key = _cache_key(cfg, fingerprint)
    target = cache_dir / "encoded" / key
    try:
        return _load(target, key, cache_hit=True)
    except BrokenCacheEntry:
        pass
    try:
        with file_lock(cache_dir / "encoded" / f"{key}.lock"):
            try:
                return _load(target, key, cache_hit=True)
            except BrokenCacheEntry as exc:
                if target.exists():
                    print(f"rnn-tune: rebuilding cache entry {target}: {exc}", file=sys.stderr)
            _build(cfg, load_raw(), target)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise DataError(
            f"cannot write the data cache at {exc.filename or cache_dir} ({exc.strerror}); "
            "pass a writable --cache-dir or set $RNN_TUNE_CACHE_DIR"
        ) from None
    return _load(target, key, cache_hit=False)


def _source(cfg: DataConfig, cache_dir: Path):
    """(fingerprint of the raw data, function that loads it) for the configured dataset."""
    if cfg.dataset == "synthetic":

        def load() -> _Raw:
            n_test = max(cfg.synthetic_samples // 4, 8)
            tr_texts, tr_labels = synthetic.make_synthetic(
                cfg.synthetic_samples, seed=cfg.split_seed
            )
            te_texts, te_labels = synthetic.make_synthetic(n_test, seed=cfg.split_seed + 10_000)
            return _Raw(
                tr_texts, np.array(tr_labels), te_texts, np.array(te_labels), synthetic.CLASS_NAMES
            )

        return {"synthetic": cfg.synthetic_samples}, load

    if cfg.dataset == "ag_news":
        files = ag_news.ag_news_files(cache_dir, Path(cfg.data_dir) if cfg.data_dir else None)

        def load() -> _Raw:
            tr_texts, tr_labels = ag_news.read_ag_news_csv(files["train"])
            te_texts, te_labels = ag_news.read_ag_news_csv(files["test"])
            return _Raw(
                tr_texts, np.array(tr_labels), te_texts, np.array(te_labels), ag_news.CLASS_NAMES
            )

        return {split: file_digest(path) for split, path in files.items()}, load

    paths = {"train": Path(cfg.train_file)}
    if cfg.test_file:
        paths["test"] = Path(cfg.test_file)
    for path in paths.values():
        if not path.is_file():
            raise DataError(f"no such file: {path}; check --train-file/--test-file")

    def load() -> _Raw:
        train = read_table(paths["train"], cfg.text_column, cfg.label_column)
        test = (
            read_table(paths["test"], cfg.text_column, cfg.label_column)
            if "test" in paths
            else None
        )
        names = label_names(train.labels)
        if len(names) < 2:
            raise DataError(
                f"{paths['train']}: every usable row has the label {names[0]!r}; a classifier "
                f"needs two or more classes in --label-column {cfg.label_column}"
            )
        unseen = sorted(set(test.labels) - set(names)) if test else []
        if unseen:
            raise DataError(
                f"{paths['test']}: labels the training file never has: "
                f"{', '.join(map(repr, unseen[:5]))}; a model cannot predict them"
            )
        index = {name: i for i, name in enumerate(names)}
        return _Raw(
            train.texts,
            np.array([index[x] for x in train.labels]),
            test.texts if test else None,
            np.array([index[x] for x in test.labels]) if test else None,
            tuple(names),
            len(train.problems) + (len(test.problems) if test else 0),
        )

    return {split: file_digest(path) for split, path in paths.items()}, load


def _cache_key(cfg: DataConfig, fingerprint: dict) -> str:
    settings = {
        k: v
        for k, v in asdict(cfg).items()
        if k not in ("data_dir", "cache_dir", "train_file", "test_file")
    }
    if cfg.dataset != "files" or cfg.test_file:
        settings.pop("test_fraction")
    blob = json.dumps(
        {"v": FORMAT_VERSION, "tokenizer": "basic_english", "source": fingerprint, **settings},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _build(cfg: DataConfig, raw: _Raw, target: Path) -> None:
    texts, labels = raw.train_texts, raw.train_labels
    if raw.test_texts is None:
        train_idx, test_idx = stratified_split(labels, cfg.test_fraction, cfg.split_seed)
        test_texts, test_labels = [texts[i] for i in test_idx], labels[test_idx]
    else:
        train_idx, test_texts, test_labels = np.arange(len(labels)), raw.test_texts, raw.test_labels
    share = validation_share(len(train_idx), cfg.val_fraction)
    fit_idx, val_idx = stratified_split(labels[train_idx], share, cfg.split_seed)
    fit_idx, val_idx = train_idx[fit_idx], train_idx[val_idx]
    fit_idx = fit_idx[subsample(labels[fit_idx], cfg.max_train_samples, cfg.split_seed)]

    fit_terms = [text_terms(texts[i], cfg.ngrams) for i in fit_idx]
    vocab = build_vocab(fit_terms, cfg.min_freq, cfg.max_vocab_size)
    splits = {
        "train": encode(fit_terms, labels[fit_idx], vocab),
        "val": encode_texts([texts[i] for i in val_idx], labels[val_idx], vocab, cfg.ngrams),
        "test": encode_texts(test_texts, test_labels, vocab, cfg.ngrams),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; a shared cache needs the umask
    try:
        for name, split in splits.items():
            split.save(tmp / f"{name}.npz")
        vocab.save(tmp / "vocab.json")
        meta = {
            "key": target.name,
            "sha256": {name: file_digest(tmp / name) for name in FILES},
            "class_names": list(raw.class_names),
            "malformed_rows": raw.malformed_rows,
            "built_by_pid": os.getpid(),
            "sizes": {name: len(split) for name, split in splits.items()},
        }
        atomic_write_text(tmp / "meta.json", json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(target: Path, key: str, cache_hit: bool) -> PreparedData:
    """The entry at `target`, checked against the checksums its meta.json (written last) holds."""
    if not (target / "meta.json").is_file():
        raise BrokenCacheEntry("no meta.json (never finished)")
    try:
        meta = json.loads((target / "meta.json").read_text())
        if meta.get("key") != key:
            raise BrokenCacheEntry(f"it names key {meta.get('key')!r}")
        contents = {name: (target / name).read_bytes() for name in FILES}  # each read once
        for name, payload in contents.items():
            if hashlib.sha256(payload).hexdigest() != meta["sha256"][name]:
                raise BrokenCacheEntry(f"{name} does not match its checksum")
        splits = {n: EncodedSplit.load(io.BytesIO(contents[f"{n}.npz"])) for n in SPLITS}
        vocab = Vocab(json.loads(contents["vocab.json"])["itos"])
        return PreparedData(
            vocab,
            tuple(meta["class_names"]),
            splits["train"],
            splits["val"],
            splits["test"],
            key,
            cache_hit,
            meta["malformed_rows"],
        )
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise BrokenCacheEntry(f"unreadable ({type(exc).__name__})") from None

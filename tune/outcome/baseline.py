"""The simple model a user would otherwise ship: TF-IDF over word 1-2 grams and a linear SVM.

Every sweep fits it on its own train split, picks C on its validation split only and scores test
once, so every report answers "did tuning pay off?". It reads the same token ids the trials read
(the run's vocab: words it maps to `<unk>` are one token here too).

It is also a model of the run: kept as data (models/linear.py, RUN_DIR/linear/model.npz) with
its margins calibrated into probabilities on validation, so the final model may blend it with the
RNNs (tune/outcome/final.py) and `rnn-tune predict` can serve it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from base.files import atomic_write_bytes
from data.encode import EncodedSplit
from data.prepare import PreparedData
from models.linear import LinearTextModel, fit_temperature, gram_key
from results.stats import accuracy, correct, paired_counts

NAME = "tfidf_linear_svm"
C_GRID = (0.125, 0.25, 0.5, 1.0, 2.0)


def _documents(split: EncodedSplit) -> list[str]:
    """Each row's token ids as one space-separated string, for the vectorizer's n-grams."""
    return [" ".join(map(str, split.sequence(i))) for i in range(len(split))]


def fit_baseline(
    data: PreparedData, seed: int = 0, ngrams: int = 1, save_to: Path | None = None
) -> dict[str, Any]:
    """-> {name, C, temperature, val_acc, test_acc, val_acc_by_C, fit_s, model, test_correct,
    val_probs, test_probs}: C and the temperature chosen on validation only; `test_correct` (bool
    per test row) is for paired tests, the probabilities ((rows, classes) per split, from the saved
    model's own scoring) for the final model. `save_to`: where the model is written (`model`)."""
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", lowercase=False
    )
    train = vectorizer.fit_transform(_documents(data.train))
    val = vectorizer.transform(_documents(data.val))
    by_c, models = {}, {}
    for c in C_GRID:
        model = LinearSVC(C=c, random_state=seed).fit(train, data.train.labels)
        by_c[c] = accuracy(model.predict(val), data.val.labels)
        models[c] = model
    best_c = max(C_GRID, key=lambda c: (by_c[c], -c))
    chosen = models[best_c]
    linear = as_data(vectorizer, chosen, data, ngrams)
    linear = dataclasses.replace(
        linear, temperature=fit_temperature(chosen.decision_function(val), data.val.labels)
    )
    if save_to is not None:
        atomic_write_bytes(save_to, linear.to_bytes())
    val_probs = linear.probabilities(data.val.ids, data.val.offsets)
    test_probs = linear.probabilities(data.test.ids, data.test.offsets)
    right = correct(test_probs, data.test.labels)
    return {
        "name": NAME,
        "C": best_c,
        "temperature": linear.temperature,
        "val_acc": accuracy(val_probs, data.val.labels),
        "test_acc": float(right.mean()),
        "val_acc_by_C": {str(c): acc for c, acc in by_c.items()},
        "fit_s": time.perf_counter() - started,
        "model": str(save_to) if save_to is not None else None,
        "test_correct": right,
        "val_probs": val_probs,
        "test_probs": test_probs,
    }


def as_data(
    vectorizer: TfidfVectorizer, classifier: LinearSVC, data: PreparedData, ngrams: int
) -> LinearTextModel:
    """The fitted pair as arrays (models/linear.py): each feature's gram key, idf and weights, in
    key order; temperature 1 until calibrated."""
    first = np.empty(len(vectorizer.vocabulary_), dtype=np.int64)
    second = np.full_like(first, -1)
    for term, column in vectorizer.vocabulary_.items():
        a, _, b = term.partition(" ")
        first[column], second[column] = int(a), int(b) if b else -1
    keys = gram_key(first, second, len(data.vocab))
    order = np.argsort(keys)
    return LinearTextModel(
        keys=keys[order],
        idf=vectorizer.idf_[order].astype(np.float32),
        coef=classifier.coef_[:, order].astype(np.float32),
        intercept=classifier.intercept_.astype(np.float32),
        temperature=1.0,
        itos=tuple(data.vocab.itos),
        class_names=tuple(data.class_names),
        ngrams=ngrams,
    )


class BaselineJob:
    """`fit_baseline` in a child process at the lowest CPU priority, started before the trials:
    it takes only CPU the trials leave idle (Ray's start-up, the last trial running alone), so
    the end of the sweep finds it done. Forked before Ray starts (no threads to copy yet)."""

    def __init__(
        self, data: PreparedData, seed: int = 0, ngrams: int = 1, save_to: Path | None = None
    ):
        self.data, self.seed, self.ngrams, self.save_to = data, seed, ngrams, save_to
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_fit_in_child,
            args=(data, seed, ngrams, save_to, send, self._receive),
            daemon=True,
        )
        self._process.start()
        send.close()

    def running(self) -> bool:
        return self._process.is_alive() and not self._receive.poll()

    def result(self) -> dict[str, Any]:
        """The child's fit; fitted here instead if the child died without one."""
        try:
            found = self._receive.recv()
        except EOFError:
            found = None
        self._process.join()
        if found is not None:
            return found
        return fit_baseline(self.data, self.seed, self.ngrams, self.save_to)

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()


def _fit_in_child(
    data: PreparedData, seed: int, ngrams: int, save_to: Path | None, send, receive
) -> None:
    """The fork holds a copy of the driver's end of the pipe: closed here, so a killed driver
    leaves no reader and the send below fails at once instead of blocking forever."""
    receive.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    os.nice(19)
    try:
        found = fit_baseline(data, seed, ngrams, save_to)
    except Exception:
        found = None
    try:
        send.send(found)
    except OSError:
        pass  # the driver is gone


def paired_with_final(baseline_correct: np.ndarray, final_correct: np.ndarray) -> dict[str, Any]:
    """The final model against the baseline on the same test rows (bool per row each).

    Two accuracies 0.3 points apart on 7,600 rows sit inside each other's 95% intervals, yet the
    rows where exactly one of the two is right can still settle which is better: McNemar's test.
    """
    final_only, baseline_only, p = paired_counts(final_correct, baseline_correct)
    return {"final_only_right": final_only, "baseline_only_right": baseline_only, "p_value": p}

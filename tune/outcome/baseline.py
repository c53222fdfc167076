"""The simple model a user would otherwise ship: TF-IDF over word 1-2 grams and a linear SVM.

Every sweep fits it on its own train split, picks C on its validation split only and scores test
once, so every report answers "did tuning pay off?". It reads the same token ids the trials read
(the run's vocab: words it maps to `<unk>` are one token here too).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from data.encode import EncodedSplit
from data.prepare import PreparedData
from results.stats import mcnemar_p

NAME = "tfidf_linear_svm"
C_GRID = (0.125, 0.25, 0.5, 1.0, 2.0)


def _documents(split: EncodedSplit) -> list[str]:
    """Each row's token ids as one space-separated string, for the vectorizer's n-grams."""
    return [" ".join(map(str, split.sequence(i))) for i in range(len(split))]


def fit_baseline(data: PreparedData, seed: int = 0) -> dict[str, Any]:
    """-> {name, C, val_acc, test_acc, val_acc_by_C, fit_s, test_correct}: C chosen on validation
    only; `test_correct` (bool per test row) is for the paired test against the final model."""
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", lowercase=False
    )
    train = vectorizer.fit_transform(_documents(data.train))
    val = vectorizer.transform(_documents(data.val))
    by_c, models = {}, {}
    for c in C_GRID:
        model = LinearSVC(C=c, random_state=seed).fit(train, data.train.labels)
        by_c[c] = float(np.mean(model.predict(val) == data.val.labels))
        models[c] = model
    best_c = max(C_GRID, key=lambda c: (by_c[c], -c))
    test = vectorizer.transform(_documents(data.test))
    correct = models[best_c].predict(test) == data.test.labels
    return {
        "name": NAME,
        "C": best_c,
        "val_acc": by_c[best_c],
        "test_acc": float(np.mean(correct)),
        "val_acc_by_C": {str(c): acc for c, acc in by_c.items()},
        "fit_s": time.perf_counter() - started,
        "test_correct": correct,
    }


class BaselineJob:
    """`fit_baseline` in a child process at the lowest CPU priority, started before the trials:
    it takes only CPU the trials leave idle (Ray's start-up, the last trial running alone), so
    the end of the sweep finds it done. Forked before Ray starts (no threads to copy yet)."""

    def __init__(self, data: PreparedData, seed: int = 0):
        self.data, self.seed = data, seed
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_fit_in_child, args=(data, seed, send), daemon=True)
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
        return found if found is not None else fit_baseline(self.data, self.seed)

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()


def _fit_in_child(data: PreparedData, seed: int, send) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    os.nice(19)
    try:
        send.send(fit_baseline(data, seed))
    except Exception:
        send.send(None)


def paired_with_final(baseline_correct: np.ndarray, final_correct: np.ndarray) -> dict[str, Any]:
    """The final model against the baseline on the same test rows (bool per row each).

    Two accuracies 0.3 points apart on 7,600 rows sit inside each other's 95% intervals, yet the
    rows where exactly one of the two is right can still settle which is better: McNemar's test.
    """
    final_only = int(np.sum(final_correct & ~baseline_correct))
    baseline_only = int(np.sum(baseline_correct & ~final_correct))
    return {
        "final_only_right": final_only,
        "baseline_only_right": baseline_only,
        "p_value": mcnemar_p(final_only, baseline_only),
    }

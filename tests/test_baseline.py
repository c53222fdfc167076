"""The TF-IDF + linear SVM baseline every sweep fits: chosen on validation only, scored once on
test."""

from __future__ import annotations

import dataclasses

import numpy as np

from data.config import DataConfig
from data.prepare import prepare_data
from results.stats import mcnemar_p
from tune.outcome.baseline import C_GRID, fit_baseline, paired_with_final


def test_baseline_picks_c_on_validation_and_never_looks_at_test_labels():
    data = prepare_data(DataConfig(dataset="synthetic", synthetic_samples=600))
    result = fit_baseline(data)
    correct = result.pop("test_correct")
    assert correct.dtype == bool and correct.shape == (len(data.test),)
    assert result["test_acc"] == correct.mean()
    assert result["name"] == "tfidf_linear_svm" and result["C"] in C_GRID
    assert result["val_acc"] == max(result["val_acc_by_C"].values())
    assert 0.0 < result["val_acc"] <= 1.0 and 0.0 <= result["test_acc"] <= 1.0
    flipped = dataclasses.replace(data.test, labels=(data.test.labels + 1) % len(data.class_names))
    again = fit_baseline(dataclasses.replace(data, test=flipped))
    assert (again["C"], again["val_acc"]) == (result["C"], result["val_acc"])
    assert again["test_acc"] != result["test_acc"]  # scored on the labels given, once


def test_baseline_on_real_ag_news_rows_matches_the_issue_figure(real_ag_news):
    """Issue 12 measured TF-IDF 1-2 grams + linear SVM (C=0.5) at 88.88% on this split."""
    data = prepare_data(DataConfig(dataset="ag_news", data_dir=str(real_ag_news)))
    result = fit_baseline(data)
    assert len(data.test) == 7600 and result["test_acc"] > 0.875, result


def test_paired_test_counts_the_rows_where_exactly_one_model_is_right():
    final = np.array([True] * 12 + [False] * 3 + [True] * 5 + [False] * 2)
    baseline = np.array([False] * 12 + [True] * 3 + [True] * 5 + [False] * 2)
    paired = paired_with_final(baseline, final)
    assert (paired["final_only_right"], paired["baseline_only_right"]) == (12, 3)
    # Exact two-sided binomial tail over 15 disagreements: 2 * (1 + 15 + 105 + 455) / 2**15.
    assert paired["p_value"] == 2 * 576 / 2**15
    assert mcnemar_p(3, 12) == paired["p_value"]
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(7, 7) == 1.0
    assert mcnemar_p(400, 300) < 0.001 < mcnemar_p(330, 300) < 0.5

"""The run's linear model kept as data (models/linear.py): it scores as the fitted scikit-learn
pair does, survives a save and load without a pickle, and its probabilities are calibrated on
validation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from data.config import DataConfig
from data.prepare import prepare_data
from models.linear import LinearTextModel, fit_temperature
from tune.outcome.baseline import _documents, as_data, fit_baseline


@pytest.fixture(scope="module")
def data():
    return prepare_data(DataConfig(dataset="synthetic", synthetic_samples=600))


def test_the_saved_arrays_score_as_the_fitted_vectorizer_and_svm(data, tmp_path):
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", lowercase=False
    )
    svm = LinearSVC(C=0.5, random_state=0).fit(
        vectorizer.fit_transform(_documents(data.train)), data.train.labels
    )
    expected = svm.decision_function(vectorizer.transform(_documents(data.test)))
    model = as_data(vectorizer, svm, data, ngrams=1)
    path = tmp_path / "model.npz"
    path.write_bytes(model.to_bytes())
    loaded = LinearTextModel.load(path)
    got = loaded.decision(data.test.ids, data.test.offsets)
    assert got.shape == expected.shape == (len(data.test), len(data.class_names))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert loaded.itos == tuple(data.vocab.itos) and loaded.class_names == data.class_names


def test_a_file_that_needs_a_pickle_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array("rnn-tune linear model 1"), keys=np.array([{"x": 1}]))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError):
        LinearTextModel.load(path).keys.sum()
    np.savez(path, something=np.zeros(3))
    with pytest.raises(ValueError, match="not an rnn-tune linear model"):
        LinearTextModel.load(path)


def test_the_temperature_lowers_validation_log_loss(data, tmp_path):
    result = fit_baseline(data, save_to=tmp_path / "model.npz")
    loaded = LinearTextModel.load(tmp_path / "model.npz")
    assert loaded.temperature == result["temperature"] != 1.0
    margins = loaded.decision(data.val.ids, data.val.offsets)
    labels = data.val.labels

    def loss(t):
        return -log_softmax(margins / t, axis=1)[np.arange(len(labels)), labels].mean()

    assert loss(loaded.temperature) < loss(1.0)
    assert loss(loaded.temperature) <= min(loss(t) for t in (0.5, 0.8, 1.25, 2.0)) + 1e-9
    assert fit_temperature(margins, labels) == pytest.approx(loaded.temperature)
    np.testing.assert_allclose(result["val_probs"].sum(1), 1.0, atol=1e-5)
    assert result["val_acc"] == np.mean(result["val_probs"].argmax(1) == labels)
    np.testing.assert_array_equal(
        result["test_probs"], loaded.probabilities(data.test.ids, data.test.offsets)
    )

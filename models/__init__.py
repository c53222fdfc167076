"""Recurrent text classifiers in plain PyTorch: `forward(tokens, lengths) -> logits`."""

from models.classifier import (
    MODEL_FAMILIES,
    POOLINGS,
    GRUClassifier,
    LSTMClassifier,
    RecurrentClassifier,
    RNNClassifier,
    build_model,
    count_parameters,
)

__all__ = ["MODEL_FAMILIES", "POOLINGS", "GRUClassifier", "LSTMClassifier", "RNNClassifier",
           "RecurrentClassifier", "build_model", "count_parameters"]

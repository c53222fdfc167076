"""Recurrent text classifiers in plain PyTorch (`models.classifier`): `forward(tokens, lengths) ->
logits`.

The names below import without torch, so the CLI and the config can read them cheaply.
"""

MODEL_FAMILIES = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max", "seed")

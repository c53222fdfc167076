"""Embedding -> recurrent layers -> pooling over real tokens -> linear head.

Sequences are packed, so padding never reaches the recurrent layer and the same sentence padded
to any length gives the same logits. The `seed` pooling reproduces the teaching notebook instead
(padding included), kept only as a baseline to compare against.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

POOLINGS = ("last", "mean", "max", "seed")


class RecurrentClassifier(nn.Module):
    """Shared body of the RNN/LSTM/GRU classifiers; subclasses choose the recurrent layer."""

    recurrent_layer: type[nn.RNNBase] = nn.RNN
    seed_pooling = "last_padded"

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, hidden_dim: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0, pooling: str = "last",
                 padding_idx: int = 0):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.rnn = self.recurrent_layer(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                                        bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim * (2 if bidirectional else 1), num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) int64 padded with `padding_idx`, lengths (B,) >= 1 -> logits (B, num_classes)."""
        embedded = self.embedding(tokens)  # (B, T, E)
        if self.pooling == "seed":
            return self.head(self.dropout(self._seed_features(embedded)))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)
        if self.pooling == "last":
            h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # (layers * dirs, B, H)
            features = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.rnn.bidirectional else h_n[-1]
        else:
            out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=tokens.size(1))  # (B, T, D)
            mask = (torch.arange(tokens.size(1), device=tokens.device)[None, :] < lengths.to(tokens.device)[:, None])
            if self.pooling == "mean":
                features = (out * mask[..., None]).sum(1) / lengths.to(out)[:, None]
            else:
                features = out.masked_fill(~mask[..., None], float("-inf")).max(1).values
        return self.head(self.dropout(features))

    def _seed_features(self, embedded: torch.Tensor) -> torch.Tensor:
        """The notebook's pooling, run over the padded batch: (B, T, E) -> (B, D)."""
        out, hidden = self.rnn(embedded)
        if self.seed_pooling == "mean_all":
            return out.mean(dim=1)
        h_n = hidden[0] if isinstance(hidden, tuple) else hidden
        return h_n[-1]


class RNNClassifier(RecurrentClassifier):
    recurrent_layer = nn.RNN
    seed_pooling = "mean_all"


class LSTMClassifier(RecurrentClassifier):
    recurrent_layer = nn.LSTM


class GRUClassifier(RecurrentClassifier):
    recurrent_layer = nn.GRU


MODEL_FAMILIES: dict[str, type[RecurrentClassifier]] = {"rnn": RNNClassifier, "lstm": LSTMClassifier, "gru": GRUClassifier}


def build_model(name: str, vocab_size: int, num_classes: int, embed_dim: int = 128, hidden_dim: int = 128,
                **options) -> RecurrentClassifier:
    """Build a classifier by family name ("rnn", "lstm", "gru"); options go to the constructor."""
    if name not in MODEL_FAMILIES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODEL_FAMILIES)}")
    return MODEL_FAMILIES[name](vocab_size, num_classes, embed_dim=embed_dim, hidden_dim=hidden_dim, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

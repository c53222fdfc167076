"""Embedding -> recurrent layers -> pooling over real tokens -> linear head.

Padding never changes the logits: the same sentence padded to any length gives the same output.
Two ways get there, chosen per device:

- padded (CPU, MPS): each layer runs over the padded batch. A forward direction's outputs at
  real positions never depend on the padding that follows them, and pooling reads real
  positions only. A backward direction runs on each sequence reversed within its own length,
  so its padding also comes last. On length-bucketed batches this is several times faster than
  packing, whose bookkeeping costs more than the little padding it skips.
- packed (CUDA): `pack_padded_sequence` per layer and direction, cuDNN's variable-length path.

The `seed` pooling reproduces the teaching notebook instead (padding included), kept only as a
baseline to compare against.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models import POOLINGS


def reverse_index(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """(B,) lengths -> (B, T) positions that reverse each row within its length, padding kept last.

    The map is its own inverse, so the same index turns a reversed output back.
    """
    positions = torch.arange(total, device=lengths.device)[None, :]
    last = lengths[:, None] - 1
    return torch.where(positions <= last, last - positions, positions)


def gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, D), index (B, T) -> x[b, index[b, t], :]."""
    return x.gather(1, index[..., None].expand_as(x))


class RecurrentClassifier(nn.Module):
    """Shared body of the RNN/LSTM/GRU classifiers; subclasses choose the recurrent layer.

    Each layer holds one single-direction module per direction (`layers[i][0]` forward,
    `layers[i][1]` backward), so both execution paths share the same weights.
    """

    recurrent_layer: type[nn.RNNBase] = nn.RNN
    seed_pooling = "last_padded"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 128,
        hidden_dim: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pooling: str = "last",
        padding_idx: int = 0,
        sparse_embedding: bool = False,
        pack: bool | None = None,
        embed_dropout: float = 0.0,
        word_dropout: float = 0.0,
        unk_idx: int = 1,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.pack = pack
        self.hidden_dim = hidden_dim
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(
            vocab_size, embed_dim, padding_idx=padding_idx, sparse=sparse_embedding
        )
        self.layers = nn.ModuleList(
            nn.ModuleList(
                self.recurrent_layer(
                    embed_dim if i == 0 else hidden_dim * directions, hidden_dim, batch_first=True
                )
                for _ in range(directions)
            )
            for i in range(num_layers)
        )
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.word_dropout = word_dropout
        self.unk_idx = unk_idx
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim * directions, num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) int64 padded with `padding_idx`, lengths (B,) >= 1 -> logits (B, C)."""
        if self.training and self.word_dropout > 0:
            tokens = self._drop_words(tokens)
        x = self.embed_dropout(self.embedding(tokens))  # (B, T, E)
        if self.pooling == "seed":
            return self.head(self.dropout(self._seed_features(x)))
        lengths = lengths.to(tokens.device)
        pack = x.is_cuda if self.pack is None else self.pack
        reverse = reverse_index(lengths, tokens.size(1)) if self.bidirectional else None
        for i, directions in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            outputs = [self._run(directions[0], x, lengths, pack)]
            if reverse is not None:
                backward = self._run(directions[1], gather_time(x, reverse), lengths, pack)
                outputs.append(gather_time(backward, reverse))
            x = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]  # (B, T, D)
        return self.head(self.dropout(self._pool(x, lengths)))

    def _drop_words(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T) with each real token turned into `<unk>` at rate `word_dropout`: the
        model learns to classify without any one word, and learns an `<unk>` row it meets at test
        time (embedding dropout zeroes vectors instead, a row no test token maps to)."""
        padding = self.embedding.padding_idx
        drop = torch.rand(tokens.shape, device=tokens.device) < self.word_dropout
        if padding is not None:
            drop &= tokens != padding
        return tokens.masked_fill(drop, self.unk_idx)

    def _run(
        self, rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor, pack: bool
    ) -> torch.Tensor:
        """One direction over (B, T, D_in) -> (B, T, H); positions past a length hold garbage."""
        if not pack:
            return rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.size(1))[0]

    def _pool(self, out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D), reading real positions only."""
        if self.pooling == "last":
            rows = torch.arange(out.size(0), device=out.device)
            forward = out[rows, lengths - 1, : self.hidden_dim]
            if not self.bidirectional:
                return forward
            return torch.cat([forward, out[:, 0, self.hidden_dim :]], dim=1)
        real = torch.arange(out.size(1), device=out.device)[None, :] < lengths[:, None]  # (B, T)
        if self.pooling == "mean":
            return (out * real[..., None]).sum(1) / lengths.to(out.dtype)[:, None]
        return out.masked_fill(~real[..., None], float("-inf")).max(1).values

    def _seed_features(self, x: torch.Tensor) -> torch.Tensor:
        """The notebook's pooling over the padded batch, padding included: (B, T, E) -> (B, D)."""
        for i, directions in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            outputs = [directions[0](x)[0]]
            if self.bidirectional:
                outputs.append(directions[1](x.flip(1))[0].flip(1))
            x = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
        if self.seed_pooling == "mean_all":
            return x.mean(dim=1)
        # nn.RNN's h_n[-1]: the last layer's backward state if bidirectional, else forward's.
        return x[:, 0, self.hidden_dim :] if self.bidirectional else x[:, -1]


class RNNClassifier(RecurrentClassifier):
    recurrent_layer = nn.RNN
    seed_pooling = "mean_all"


class LSTMClassifier(RecurrentClassifier):
    recurrent_layer = nn.LSTM


class GRUClassifier(RecurrentClassifier):
    recurrent_layer = nn.GRU


CLASSES: dict[str, type[RecurrentClassifier]] = {
    "rnn": RNNClassifier,
    "lstm": LSTMClassifier,
    "gru": GRUClassifier,
}


def build_model(
    name: str,
    vocab_size: int,
    num_classes: int,
    embed_dim: int = 128,
    hidden_dim: int = 128,
    **options,
) -> RecurrentClassifier:
    """Build a classifier by family name ("rnn", "lstm", "gru"); options go to the constructor."""
    if name not in CLASSES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(CLASSES)}")
    return CLASSES[name](
        vocab_size, num_classes, embed_dim=embed_dim, hidden_dim=hidden_dim, **options
    )


GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def estimate_parameters(
    family: str,
    vocab_size: int,
    num_classes: int,
    embed_dim: int,
    hidden_dim: int,
    num_layers: int,
    bidirectional: bool,
) -> int:
    """The parameter count `build_model` would give, without allocating anything (so a size that
    cannot be allocated is refused before it is tried)."""
    directions = 2 if bidirectional else 1
    total = vocab_size * embed_dim + hidden_dim * directions * num_classes + num_classes
    for layer in range(num_layers):
        inputs = embed_dim if layer == 0 else hidden_dim * directions
        gates = GATES[family] * hidden_dim
        total += directions * (gates * (inputs + hidden_dim) + 2 * gates)
    return total


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

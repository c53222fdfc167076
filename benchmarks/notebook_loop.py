"""The teaching notebook's training loop, kept as the speed reference (not product code).

Copied as the notebook has it, changed only where it cannot run today: torchtext is replaced by
this repo's torchtext-identical tokenizer and vocab, `get_stoi()` returns the vocab's dict
(torchtext's built a fresh dict per call, slower still), the `DataLoader` spelling is fixed,
the embedding is dense (Adam refuses the notebook's `sparse=True`) and unseen tokens map to
`<unk>`. Everything else stays: tokenizing in the collate function, random (unbucketed)
batches, padding with `pad_sequence`, classifying from the final hidden state of a padded
batch, and a `.item()` per step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from data.tokenizer import basic_english
from data.vocab import PAD_ID, UNK_ID, Vocab


class NotebookVocab:
    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def get_stoi(self) -> dict[str, int]:
        return self.vocab.stoi


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, num_class: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_class)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(text)
        output, (hidden, cell) = self.lstm(embedded)
        return self.fc(hidden[-1])


def make_collate(vocab: NotebookVocab):
    def text_pipeline(x: str) -> list[int]:
        return [vocab.get_stoi().get(token, UNK_ID) for token in basic_english(x)]

    def collate_batch(batch):
        label_list, text_list = [], []
        for label, text in batch:
            label_list.append(label)
            text_list.append(torch.tensor(text_pipeline(text), dtype=torch.int64))
        labels = torch.tensor(label_list, dtype=torch.int64)
        return labels, pad_sequence(text_list, batch_first=True, padding_value=PAD_ID)

    return collate_batch


def train(dataloader: DataLoader, model: nn.Module, optimizer, criterion) -> tuple[float, int]:
    model.train()
    total_acc, total_count = 0, 0
    for label, text in dataloader:
        optimizer.zero_grad()
        predicted_label = model(text)
        loss = criterion(predicted_label, label)
        loss.backward()
        optimizer.step()
        total_acc += (predicted_label.argmax(1) == label).sum().item()
        total_count += label.size(0)
    return total_acc / max(total_count, 1), total_count


def notebook_loader(
    texts: list[str], labels: list[int], vocab: Vocab, batch_size: int
) -> DataLoader:
    pairs = list(zip(labels, texts))
    return DataLoader(
        pairs, batch_size=batch_size, shuffle=True, collate_fn=make_collate(NotebookVocab(vocab))
    )

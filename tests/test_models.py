import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from data.batches import PaddedBatches
from data.encode import encode
from data.synthetic import make_synthetic
from data.tokenizer import basic_english
from data.vocab import build_vocab
from models import MODEL_FAMILIES
from models.classifier import CLASSES, build_model
from tune.config import TrainConfig
from tune.train.loop import (
    clip_gradients,
    evaluate,
    make_optimizer,
    train_one_epoch,
)


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional, num_layers", [(False, 1), (True, 2)])
@pytest.mark.parametrize("pack", [False, True], ids=["padded", "packed"])
def test_padding_never_changes_logits(family, pooling, bidirectional, num_layers, pack):
    torch.manual_seed(0)
    model = build_model(
        family,
        50,
        4,
        embed_dim=8,
        hidden_dim=16,
        num_layers=num_layers,
        bidirectional=bidirectional,
        pooling=pooling,
        pack=pack,
    ).eval()
    sentence = torch.tensor([5, 9, 3, 7, 2])
    logits = []
    for extra in (0, 1, 7, 30):
        other = torch.randint(2, 50, (5 + extra,))
        tokens = torch.zeros(2, 5 + extra, dtype=torch.long)
        tokens[0, :5] = sentence
        tokens[1] = other
        logits.append(model(tokens, torch.tensor([5, 5 + extra]))[0])
    for out in logits[1:]:
        torch.testing.assert_close(out, logits[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padded_and_packed_paths_agree_with_torchs_bidirectional_layer(family, pooling):
    """The padded path (backward run on length-reversed rows) equals packing, and both equal one
    packed bidirectional nn.RNNBase holding the same weights."""
    torch.manual_seed(0)
    model = build_model(
        family, 50, 4, embed_dim=8, hidden_dim=16, num_layers=1, bidirectional=True, pooling=pooling
    ).eval()
    tokens = torch.randint(2, 50, (5, 9))
    lengths = torch.tensor([9, 4, 1, 7, 2])
    for row, length in enumerate(lengths):
        tokens[row, length:] = 0
    model.pack = False
    padded = model(tokens, lengths)
    model.pack = True
    torch.testing.assert_close(model(tokens, lengths), padded, atol=1e-5, rtol=0)

    forward, backward = model.layers[0]
    reference = type(forward)(8, 16, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, value in forward.named_parameters():
            getattr(reference, name).copy_(value)
            getattr(reference, f"{name}_reverse").copy_(getattr(backward, name))
    packed = pack_padded_sequence(
        model.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
    )
    out = pad_packed_sequence(reference(packed)[0], batch_first=True)[0]
    features = model._pool(out, lengths)
    torch.testing.assert_close(model.head(features), padded, atol=1e-5, rtol=0)


def test_clipping_covers_sparse_embedding_gradients():
    torch.manual_seed(0)
    dense = build_model("gru", 30, 3, embed_dim=4, hidden_dim=4, sparse_embedding=False)
    sparse = build_model("gru", 30, 3, embed_dim=4, hidden_dim=4, sparse_embedding=True)
    sparse.load_state_dict(dense.state_dict())
    tokens, lengths = torch.tensor([[3, 4, 3, 0], [5, 6, 7, 8]]), torch.tensor([3, 4])
    for model in (dense, sparse):
        (model(tokens, lengths).sum() * 100).backward()
    dense_norm = torch.nn.utils.clip_grad_norm_(list(dense.parameters()), 0.5)
    sparse_norm = clip_gradients(list(sparse.parameters()), 0.5)
    torch.testing.assert_close(sparse_norm, dense_norm)
    assert sparse.embedding.weight.grad.is_sparse
    torch.testing.assert_close(sparse.embedding.weight.grad.to_dense(), dense.embedding.weight.grad)
    torch.testing.assert_close(sparse.head.weight.grad, dense.head.weight.grad)


def test_sparse_and_dense_embeddings_both_train_and_resume_from_their_state():
    vocab, train, test = order_task()
    for sparse in (True, False):
        torch.manual_seed(0)
        model = build_model(
            "lstm", len(vocab), 4, embed_dim=16, hidden_dim=16, sparse_embedding=sparse
        )
        cfg = TrainConfig(lr=5e-3, sparse_embedding=sparse)
        optimizer = make_optimizer(model, cfg)
        first = train_one_epoch(
            model, PaddedBatches(train, 32, shuffle=True), optimizer, torch.device("cpu"), 5.0
        )
        state = optimizer.state_dict()
        again = make_optimizer(model, cfg)
        again.load_state_dict(state)
        second = train_one_epoch(
            model, PaddedBatches(train, 32, shuffle=True, seed=1), again, torch.device("cpu"), 5.0
        )
        assert second.loss < first.loss


def test_seed_pooling_reproduces_the_notebooks_padding_flaw():
    torch.manual_seed(0)
    for family in ("rnn", "lstm"):
        model = build_model(
            family, 50, 4, embed_dim=8, hidden_dim=16, pooling="seed", bidirectional=False
        ).eval()
        short = model(torch.tensor([[5, 9, 3]]), torch.tensor([3]))
        padded = model(torch.tensor([[5, 9, 3, 0, 0, 0]]), torch.tensor([3]))
        assert (short - padded).abs().max() > 1e-4


def test_unknown_model_and_pooling_are_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("transformer", 10, 2)
    with pytest.raises(ValueError, match="unknown pooling"):
        build_model("gru", 10, 2, pooling="attention")


class MeanOfEmbeddings(nn.Module):
    """Bag-of-words baseline: it sees which words occur, never their order."""

    def __init__(self, vocab_size, num_classes, dim=32):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.head = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, tokens, lengths):
        return self.head(self.embedding(tokens).sum(1) / lengths[:, None])


def order_task():
    """Four markers at random places among filler; the label is their order (see data.synthetic)."""
    train_texts, train_labels = make_synthetic(3000, seed=1, min_len=5, max_len=10)
    test_texts, test_labels = make_synthetic(500, seed=2, min_len=5, max_len=10)
    train_tokens = [basic_english(t) for t in train_texts]
    vocab = build_vocab(train_tokens)
    return (
        vocab,
        encode(train_tokens, train_labels, vocab),
        encode([basic_english(t) for t in test_texts], test_labels, vocab),
    )


def fit(model, train, test, epochs, lr=5e-3):
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = PaddedBatches(train, 32, shuffle=True)
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        train_one_epoch(model, batches, optimizer, torch.device("cpu"), grad_clip=5.0)
    return evaluate(model, test, torch.device("cpu")).acc


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
def test_each_family_learns_word_order(family):
    vocab, train, test = order_task()
    torch.manual_seed(0)
    model = build_model(
        family, len(vocab), 4, embed_dim=32, hidden_dim=64, bidirectional=False, pooling="last"
    )
    assert fit(model, train, test, epochs=12) > 0.95


def test_bag_of_words_cannot_learn_word_order():
    vocab, train, test = order_task()
    torch.manual_seed(0)
    acc = fit(MeanOfEmbeddings(len(vocab), 4), train, test, epochs=12)
    assert acc < 0.45
    assert np.isclose(np.bincount(test.labels) / len(test), 0.25, atol=0.06).all()


def test_every_declared_family_has_a_class():
    assert tuple(CLASSES) == MODEL_FAMILIES


def test_embed_dropout_drops_embedded_tokens_in_training_only():
    torch.manual_seed(0)
    tokens, lengths = torch.randint(2, 50, (4, 9)), torch.tensor([9, 7, 5, 3])
    model = build_model("gru", 50, 4, embed_dim=8, hidden_dim=8, embed_dropout=0.5)
    assert not torch.equal(model(tokens, lengths), model(tokens, lengths))
    model.eval()
    torch.testing.assert_close(model(tokens, lengths), model(tokens, lengths))
    plain = build_model("gru", 50, 4, embed_dim=8, hidden_dim=8, embed_dropout=0.0)
    torch.testing.assert_close(plain(tokens, lengths), plain(tokens, lengths))


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
@pytest.mark.parametrize("bidirectional, num_layers", [(False, 1), (True, 3)])
def test_parameter_estimate_matches_the_built_model(family, bidirectional, num_layers):
    from models.classifier import count_parameters, estimate_parameters

    shape = dict(embed_dim=12, hidden_dim=10, num_layers=num_layers, bidirectional=bidirectional)
    built = build_model(family, 97, 5, **shape)
    assert estimate_parameters(family, 97, 5, **shape) == count_parameters(built)


def test_word_dropout_reads_real_words_as_unk_in_training_only():
    """At a rate near 1 every real token becomes <unk> (id 1) while training; padding stays
    padding, and evaluation reads the words themselves."""
    torch.manual_seed(0)
    tokens = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    lengths = torch.tensor([3, 2])
    model = build_model("gru", 50, 4, embed_dim=8, hidden_dim=8, word_dropout=0.999999)
    all_unk = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    dropped = model(tokens, lengths)
    model.eval()
    torch.testing.assert_close(dropped, model(all_unk, lengths))
    assert not torch.allclose(model(tokens, lengths), dropped)

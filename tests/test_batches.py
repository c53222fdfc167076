import numpy as np

from data.batches import PaddedBatches
from data.encode import encode
from data.vocab import build_vocab


def split_of(lengths):
    tokens = [[f"t{j % 5}" for j in range(n)] for n in lengths]
    return encode(tokens, [i % 3 for i in range(len(lengths))], build_vocab(tokens))


def padding_share(batches):
    pad = total = 0
    for tokens, lengths, _ in batches:
        total += tokens.numel()
        pad += tokens.numel() - int(lengths.sum())
    return pad / total


def test_batches_cover_each_row_once_and_pad_with_zero():
    rng = np.random.default_rng(0)
    split = split_of(rng.integers(1, 60, size=1000))
    batches = PaddedBatches(split, 32, shuffle=True, seed=1, bucket_size=4)
    seen = np.concatenate(batches.batch_indices())
    assert sorted(seen.tolist()) == list(range(1000)) and len(batches) == 32
    for tokens, lengths, _ in batches:
        assert tokens.shape == (len(lengths), int(lengths.max()))
        for row, n in zip(tokens, lengths):
            assert (row[n:] == 0).all() and (row[:n] != 0).all()


def test_bucketing_cuts_padding_and_epochs_reshuffle():
    rng = np.random.default_rng(0)
    split = split_of(rng.integers(1, 120, size=2000))
    bucketed = PaddedBatches(split, 32, shuffle=True, seed=1)
    random = PaddedBatches(split, 32, shuffle=True, seed=1, bucket_size=0)
    assert padding_share(bucketed) < 0.1 < 0.3 < padding_share(random)
    first = [b.tolist() for b in bucketed.batch_indices()]
    bucketed.set_epoch(1)
    assert first != [b.tolist() for b in bucketed.batch_indices()]


def test_unshuffled_keeps_order_without_buckets():
    split = split_of([3, 1, 2, 5])
    batches = PaddedBatches(split, 3, bucket_size=0)
    assert [b.tolist() for b in batches.batch_indices()] == [[0, 1, 2], [3]]

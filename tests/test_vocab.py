from data.vocab import PAD_ID, UNK_ID, Vocab, build_vocab


def test_specials_order_and_oov():
    vocab = build_vocab([["b", "a", "b"], ["c", "a", "b"]])
    assert vocab.itos == ["<pad>", "<unk>", "b", "a", "c"]
    assert (vocab["<pad>"], vocab["<unk>"]) == (PAD_ID, UNK_ID) == (0, 1)
    assert vocab["never-seen"] == UNK_ID
    assert vocab.lookup_indices(["a", "zzz", "b"]) == [3, 1, 2]


def test_ties_break_alphabetically_like_torchtext():
    assert build_vocab([["z", "y", "x"]]).itos[2:] == ["x", "y", "z"]


def test_min_freq_and_max_size():
    tokens = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert build_vocab(tokens, min_freq=2).itos[2:] == ["a", "b", "c"]
    assert build_vocab(tokens, max_size=2).itos[2:] == ["a", "b"]
    assert build_vocab(tokens, min_freq=3, max_size=10).itos[2:] == ["a", "b"]


def test_specials_in_text_are_not_duplicated():
    vocab = build_vocab([["<pad>", "<unk>", "x"]])
    assert vocab.itos == ["<pad>", "<unk>", "x"]


def test_save_load_round_trip(tmp_path):
    vocab = build_vocab([["héllo", "wörld", "héllo"]])
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json") == vocab

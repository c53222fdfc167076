import csv

import pytest

from data.tokenizer import basic_english, get_tokenizer, ngrams_iterator


def test_torchtext_documented_example():
    tokenizer = get_tokenizer("basic_english")
    assert tokenizer("You can now install TorchText using pip!") == [
        "you",
        "can",
        "now",
        "install",
        "torchtext",
        "using",
        "pip",
        "!",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("   \t\n ", []),
        ("Hello World", ["hello", "world"]),
        ("it's", ["it", "'", "s"]),
        ('He said "hi" there', ["he", "said", "hi", "there"]),
        ('""quoted""', ["quoted"]),
        ("a<br />b", ["a", "b"]),
        ("A<BR />B", ["a", "b"]),
        ("a<br/>b", ["a<br/>b"]),
        ("3.14", ["3", ".", "14"]),
        ("end.", ["end", "."]),
        ("a,b", ["a", ",", "b"]),
        ("f(x)", ["f", "(", "x", ")"]),
        ("wow!!", ["wow", "!", "!"]),
        ("why?", ["why", "?"]),
        ("a;b", ["a", "b"]),
        ("a:b", ["a", "b"]),
        ("a-b/c $5 #1 @x", ["a-b/c", "$5", "#1", "@x"]),
        ("Café Zürich — naïve", ["café", "zürich", "—", "naïve"]),
        ("ÉCOLE", ["école"]),
        ("non\u00a0breaking", ["non", "breaking"]),
        (
            'Reuters - Oil\'s price (OIL.N) rose; "big" news: up 5%!',
            [
                "reuters",
                "-",
                "oil",
                "'",
                "s",
                "price",
                "(",
                "oil",
                ".",
                "n",
                ")",
                "rose",
                "big",
                "news",
                "up",
                "5%",
                "!",
            ],
        ),
    ],
)
def test_basic_english_rules(text, expected):
    assert basic_english(text) == expected


def test_get_tokenizer_none_splits_on_whitespace_and_rejects_unknown():
    assert get_tokenizer(None)("A b.c") == ["A", "b.c"]
    with pytest.raises(ValueError):
        get_tokenizer("spacy_xx")
    with pytest.raises(ValueError):
        get_tokenizer("basic_english", language="de")


def test_ngrams_iterator_matches_torchtext_order():
    assert list(ngrams_iterator(["here", "we", "are"], 2)) == [
        "here",
        "we",
        "are",
        "here we",
        "we are",
    ]
    assert list(ngrams_iterator(["here", "we", "are"], 3)) == [
        "here",
        "we",
        "are",
        "here we",
        "we are",
        "here we are",
    ]
    assert list(ngrams_iterator(["a", "b"], 1)) == ["a", "b"]
    assert list(ngrams_iterator(["a"], 3)) == ["a"]
    assert list(ngrams_iterator([], 2)) == []


def test_every_real_row_tokenizes(real_ag_news):
    rows = 0
    for name in ("train.csv", "test.csv"):
        with open(real_ag_news / name, encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                tokens = basic_english(" ".join(row[1:]))
                assert tokens, row
                assert all(
                    t and not any(c.isspace() for c in t) and '"' not in t and t == t.lower()
                    for t in tokens
                )
                rows += 1
    assert rows == 12_466 + 7_600

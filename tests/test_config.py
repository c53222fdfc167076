import pytest

from tune.config import Config, ConfigError, load_toml, merge


def test_round_trip_and_frozen():
    cfg = Config().with_train(model="gru", lr=1e-3)
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(AttributeError):
        cfg.train.lr = 1.0


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"emsize": 64}}, "unknown setting train.emsize"),
        ({"model": {"x": 1}}, r"unknown config section \[model\]"),
        ({"train": {"embed_dim": "64"}}, "train.embed_dim must be int"),
        ({"train": {"bidirectional": 1}}, "train.bidirectional must be bool"),
        ({"train": {"epochs": True}}, "train.epochs must be int"),
        ({"train": {"lr": -1.0}}, "lr must be > 0"),
        ({"train": {"model": "cnn"}}, "unknown model 'cnn'"),
        (
            {"sweep": {"search": {"nhid": {"choice": [1]}}}},
            "search key 'nhid' is not a searchable train setting",
        ),
        ({"sweep": {"search": {"lr": [1, 2]}}}, "search key 'lr' needs one of"),
        ({"data": {"dataset": "imdb"}}, "unknown dataset 'imdb'"),
    ],
)
def test_bad_values_are_rejected_with_their_name(raw, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(raw)


def test_int_is_accepted_for_float_and_none_for_optional():
    cfg = Config.from_dict(
        {"train": {"lr": 1, "grad_clip": None}, "data": {"max_train_samples": None}}
    )
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float) and cfg.train.grad_clip is None


def test_toml_sections(tmp_path):
    (tmp_path / "c.toml").write_text(
        "[train]\nembed_dim = 32\n[sweep]\nnum_samples = 3\n[sweep.search]\nlr = {loguniform = "
        "[1e-4, 1e-2]}\n"
    )
    cfg = merge(Config(), load_toml(tmp_path / "c.toml"))
    assert (
        cfg.train.embed_dim == 32
        and cfg.sweep.num_samples == 3
        and list(cfg.sweep.search) == ["lr"]
    )
    (tmp_path / "bad.toml").write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(tmp_path / "bad.toml")


def test_sweep_flags_fix_settings_and_resolve_paths(tmp_path, monkeypatch):
    from tune.cli.main import build_parser
    from tune.cli.sweep import sweep_config

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        [
            "sweep",
            "--preset",
            "quick",
            "--model",
            "lstm",
            "--lr",
            "0.003",
            "--data-dir",
            "d",
            "--name",
            "n",
            "--time-budget",
            "2m",
        ]
    )
    cfg = sweep_config(args)
    assert (
        "model" not in cfg.sweep.search
        and "lr" not in cfg.sweep.search
        and "embed_dim" in cfg.sweep.search
    )
    assert cfg.train.model == "lstm" and cfg.train.lr == 0.003 and cfg.train.epochs == 3
    assert cfg.data.max_train_samples == 12_000
    assert cfg.data.data_dir == str(tmp_path / "d") and cfg.sweep.storage == str(tmp_path / "runs")
    assert cfg.sweep.name == "n" and cfg.sweep.time_budget_s == 120

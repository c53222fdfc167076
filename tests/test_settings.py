"""One declaration per setting: flags, help defaults, search keys, README tables and errors derive
from it."""

import subprocess
import sys
from pathlib import Path

import pytest

from base.settings import specs
from results.load import trial_status
from tune.cli.main import build_parser
from tune.cli.options_doc import BEGIN, END, tables
from tune.cli.sweep import sweep_config
from tune.config import Config, ConfigError, DataConfig, SweepConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_readme_option_tables_match_the_declarations():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == tables().strip(), (
        "README option tables drifted: run `python -m tune.cli.options_doc README.md`"
    )


def test_every_declared_setting_has_help_and_one_flag_per_command():
    parser = build_parser()
    commands = {name: p for name, p in parser._subparsers._group_actions[0].choices.items()}
    for cls, where in (
        (DataConfig, ("train", "sweep")),
        (TrainConfig, ("train", "sweep")),
        (SweepConfig, ("sweep",)),
    ):
        for spec in specs(cls):
            assert spec.help, f"{spec.name} has no help"
            if not spec.cli:
                continue
            for command in where:
                flags = [a for a in commands[command]._actions if spec.flag in a.option_strings]
                assert len(flags) == 1 and flags[0].dest == spec.name, (command, spec.name)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["sweep", "--help"],
        ["report", "--help"],
        ["predict", "--help"],
        ["monitor", "--help"],
    ],
)
def test_help_answers_without_importing_the_heavy_libraries(argv):
    code = (
        "import sys\nfrom tune.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = {'torch', 'ray', 'optuna', 'matplotlib', 'pandas', 'plotly'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_help_shows_each_commands_true_defaults(capsys):
    for argv in (["sweep", "--help"], ["train", "--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    out = " ".join(capsys.readouterr().out.split())
    assert "(ASHA's max_t) (default: 6; quick: 3, seed: 3)" in out  # sweep: preset values
    assert "(ASHA's max_t) (default: 3)" in out  # train: the declared default
    assert "model family (default: searched)" in out and "model family (default: lstm)" in out


@pytest.mark.parametrize(
    "space, message",
    [
        ({"epochs": {"choice": [2, 4]}}, "'epochs' is not a searchable"),
        ({"seed": {"randint": [0, 3]}}, "'seed' is not a searchable"),
        ({"lr": {"loguniform": [0, 1e-2]}}, "sweep.search.lr must be > 0"),
        ({"weight_decay": {"loguniform": [0, 1e-2]}}, "loguniform needs low > 0"),
        ({"lr": {"uniform": [1e-2, 1e-3]}}, "low must be below high"),
        ({"model": {"choice": []}}, "choice needs a non-empty list"),
        ({"model": {"choice": ["rnn", "cnn"]}}, "unknown sweep.search.model 'cnn'"),
        ({"embed_dim": {"uniform": [16, 64]}}, "uniform does not fit embed_dim"),
        ({"lr": {"randint": [1, 3]}}, "randint does not fit lr"),
        ({"dropout": {"uniform": [0.1, 1.5]}}, "sweep.search.dropout must be < 1"),
        ({"hidden_dim": {"choice": [0, 64]}}, "sweep.search.hidden_dim must be >= 1"),
        ({"lr": {"loguniform": [1e-4]}}, "loguniform needs [low, high]"),
    ],
)
def test_search_space_is_checked_against_the_declarations(space, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        Config.from_dict({"sweep": {"search": space}})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"lr": float("nan")}}, "lr must be a finite number"),
        ({"train": {"weight_decay": -0.1}}, "weight_decay must be >= 0"),
        ({"train": {"grad_clip": -1.0}}, "grad_clip must be >= 0"),
        ({"train": {"threads": 0}}, "threads must be >= 1"),
        ({"train": {"seed": -1}}, "seed must be >= 0"),
        ({"sweep": {"dashboard_port": 70000}}, "dashboard_port must be <= 65535"),
        ({"sweep": {"name": "../x"}}, "must be one plain folder name"),
        ({"data": {"max_vocab_size": -1}}, "max_vocab_size must be >= 1"),
    ],
)
def test_ranges_come_from_the_declarations_and_name_the_flag(raw, message):
    with pytest.raises(ConfigError, match=message) as caught:
        Config.from_dict(raw)
    if "name" not in str(raw):
        assert "(flag --" in str(caught.value)


def test_argparse_errors_are_one_line(tmp_path):
    result = subprocess.run(
        ["rnn-tune", "sweep", "--model", "cnn"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rnn-tune sweep: error: argument --model: invalid choice: 'cnn' "
        "(choose from 'rnn', 'lstm', 'gru'); see rnn-tune sweep --help"
    ]


def test_precedence_preset_then_environment_then_toml_then_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_TUNE_STORAGE", str(tmp_path / "from-env"))
    (tmp_path / "c.toml").write_text("[train]\nepochs = 4\nhidden_dim = 48\n")
    parse = build_parser().parse_args
    cfg = sweep_config(
        parse(
            [
                "sweep",
                "--preset",
                "quick",
                "--config",
                str(tmp_path / "c.toml"),
                "--hidden-dim",
                "40",
            ]
        )
    )
    assert cfg.data.max_train_samples == 12_000  # preset
    assert cfg.sweep.storage == str(tmp_path / "from-env")  # environment over the default
    assert cfg.train.epochs == 4  # TOML over the preset
    assert cfg.train.hidden_dim == 40 and "hidden_dim" not in cfg.sweep.search  # flag fixes it
    cfg = sweep_config(parse(["sweep", "--storage", str(tmp_path / "flag")]))
    assert cfg.sweep.storage == str(tmp_path / "flag")  # flag over the environment


def test_a_new_setting_is_one_declaration_embed_dropout():
    """embed_dropout was added as one field: it is a flag, a TOML key and a search key at once."""
    args = build_parser().parse_args(["train", "--embed-dropout", "0.25"])
    from tune.cli.options import config_from_args

    assert config_from_args(args).train.embed_dropout == 0.25
    space = Config.from_dict({"sweep": {"search": {"embed_dropout": {"uniform": [0.0, 0.5]}}}})
    assert "embed_dropout" in space.sweep.search
    with pytest.raises(ConfigError, match="embed_dropout must be < 1"):
        Config.from_dict({"train": {"embed_dropout": 1.0}})


@pytest.mark.parametrize(
    "event, error, done, finished, expected",
    [
        ("complete", None, 3, False, "completed"),
        ("complete", None, 1, False, "stopped_early"),
        ("error", None, 1, False, "errored"),
        (None, "NonFiniteLossError: nan", 1, False, "errored"),
        (None, None, 1, False, "running"),
        (None, None, 1, True, "stopped_early"),
        ("pending", None, 0, False, "pending"),
    ],
)
def test_one_rule_decides_a_trials_status(event, error, done, finished, expected):
    assert trial_status(event, error, done, 3, finished) == expected


def test_every_searchable_setting_is_a_results_column():
    """results/ cannot import tune/, so it lists the hyperparameters itself: a new searchable
    setting must reach the trial tables, the leaderboard and the effects plot."""
    from results.load import HYPERPARAMETERS

    searchable = {s.name for s in specs(TrainConfig) if s.searchable}
    assert searchable <= set(HYPERPARAMETERS)

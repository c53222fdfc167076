"""Command-line flags derived from the config's declared settings (`base.settings.setting`).

Each flag's dest is its field name and unset flags are None, so only what the user typed
overrides the preset and TOML file. Help texts show the command's true defaults.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from base.settings import Spec, specs
from tune.config import Config, load_toml, merge
from tune.presets import PRESETS

SECTIONS = {"data": "data", "train": "model and training", "sweep": "sweep"}


def section_specs(section: str) -> list[Spec]:
    return specs(type(getattr(Config(), section)))


def preset_configs() -> dict[str, Config]:
    """Each preset resolved over the declared defaults, `default` first."""
    return {
        name: merge(Config(), PRESETS[name])
        for name in sorted(PRESETS, key=lambda n: n != "default")
    }


def show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


TRAIN_VAL_FRACTION = 0.05


def train_defaults() -> dict[str, Config]:
    """`rnn-tune train`'s defaults: the declared ones, nothing searched, and 5% of the rows for
    validation. One model picks its best epoch there, a small choice; a sweep's choice among many
    trials is what a larger validation split (the declared default) steadies."""
    return {
        "train": merge(
            Config(), {"sweep": {"search": {}}, "data": {"val_fraction": TRAIN_VAL_FRACTION}}
        )
    }


def value_in(cfg: Config, section: str, name: str) -> str:
    """A setting's value in `cfg` as a reader sees it; "searched" where the sweep searches it."""
    if section == "train" and name in cfg.sweep.search:
        return "searched"
    return show(getattr(getattr(cfg, section), name))


def default_text(section: str, name: str, configs: dict[str, Config]) -> str:
    """`6` for one config; `6; quick: 3, seed: 3` where presets differ from the first."""
    (first, base), *others = configs.items()
    shown = value_in(base, section, name)
    differ = [f"{p}: {v}" for p, cfg in others if (v := value_in(cfg, section, name)) != shown]
    return shown + (f"; {', '.join(differ)}" if differ else "")


def _flag_type(spec: Spec):
    if spec.parse is None:
        return spec.kind

    def parse(text: str) -> Any:
        try:
            return spec.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_section_options(
    parser: argparse.ArgumentParser,
    section: str,
    configs: dict[str, Config],
    only: tuple[str, ...] | None = None,
) -> argparse._ArgumentGroup:
    """One flag per declared setting of `section` (or of those named in `only`), with `configs`'
    defaults in its help."""
    group = parser.add_argument_group(SECTIONS[section])
    for spec in section_specs(section):
        if not spec.cli or (only is not None and spec.name not in only):
            continue
        default = default_text(section, spec.name, configs)
        help = spec.help + ("" if default == "none" else f" (default: {default})")
        help = help.replace("%", "%%")
        if spec.kind is bool:
            group.add_argument(
                spec.flag, dest=spec.name, action=argparse.BooleanOptionalAction, help=help
            )
        else:
            group.add_argument(
                spec.flag,
                dest=spec.name,
                type=_flag_type(spec),
                help=help,
                choices=spec.choices,
                metavar=_metavar(spec),
            )
    return group


def _metavar(spec: Spec) -> str | None:
    if spec.choices:
        return "|".join(map(str, spec.choices))
    return {int: "N", float: "X"}.get(spec.kind) or spec.name.upper()


def overrides_from_args(args: argparse.Namespace, sections=("data", "train")) -> dict[str, dict]:
    """The flags the user actually gave, as {section: {field: value}}."""
    out = {}
    for section in sections:
        given = {s.name: getattr(args, s.name, None) for s in section_specs(section) if s.cli}
        out[section] = {k: v for k, v in given.items() if v is not None}
    if "train_file" in out["data"] and "dataset" not in out["data"]:
        out["data"]["dataset"] = "files"
    return out


def overrides_from_env() -> dict[str, dict]:
    """Settings declared with an environment variable that is set (text settings only)."""
    out: dict[str, dict] = {}
    for section in SECTIONS:
        for spec in section_specs(section):
            if spec.env and os.environ.get(spec.env):
                out.setdefault(section, {})[spec.name] = os.environ[spec.env]
    return out


def absolute_paths(cfg: Config) -> Config:
    """Every path setting made absolute (cloud storage URIs left alone), so a run's config.json
    works from any directory (`--resume`, `promote`)."""

    def absolute(value: str) -> str:
        return str(Path(value).expanduser().resolve())

    data = {
        k: absolute(v)
        for k in ("data_dir", "cache_dir", "train_file", "test_file")
        if (v := getattr(cfg.data, k))
    }
    from data.vector_sources import is_named

    vectors = cfg.train.vectors
    train = {"vectors": absolute(vectors)} if vectors and not is_named(vectors) else {}
    s = cfg.sweep
    sweep = {
        "storage": s.storage if "://" in s.storage else absolute(s.storage),
        "local_dir": absolute(s.local_dir),
        **({"warm_start": absolute(s.warm_start)} if s.warm_start else {}),
    }
    return merge(cfg, {"data": data, "train": train, "sweep": sweep})


def config_from_args(
    args: argparse.Namespace, base: Config | None = None, sections=("data", "train")
) -> Config:
    """defaults (or `base`, e.g. a preset) <- environment <- --config TOML <- flags."""
    cfg = merge(base or Config(), overrides_from_env())
    if getattr(args, "config", None):
        cfg = merge(cfg, load_toml(args.config))
    return merge(cfg, overrides_from_args(args, sections))

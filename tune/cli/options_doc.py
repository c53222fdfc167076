"""The README's option tables, generated from the parsers, which come from the declared settings.

`python -m tune.cli.options_doc README.md` rewrites the tables between the README's
`<!-- options:begin -->` and `<!-- options:end -->` markers; a test fails when they drift.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from base.settings import Spec, range_text
from tune.cli.main import build_parser
from tune.cli.options import (
    SECTIONS,
    default_text,
    preset_configs,
    section_specs,
    train_defaults,
)

BEGIN, END = "<!-- options:begin -->", "<!-- options:end -->"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flag(action: argparse.Action) -> str:
    flags = ", ".join(f"`{f}`" for f in action.option_strings)
    if action.nargs == 0:
        return flags
    metavar = action.metavar or (
        "|".join(action.choices) if action.choices else action.dest.upper()
    )
    return f"{flags} `{metavar}`"


def _range(spec: Spec) -> str:
    return range_text(spec) if not spec.choices else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def tables() -> str:
    """Markdown: one table per option group of `train` and `sweep`."""
    commands = _subparsers(build_parser())
    declared = {s.name: (section, s) for section in SECTIONS for s in section_specs(section)}
    sweep_configs, train_configs = preset_configs(), train_defaults()
    out = []
    for section, title in SECTIONS.items():
        parser = commands["sweep"] if section != "data" else commands["train"]
        group = next(g for g in parser._action_groups if g.title == title)
        both = section != "sweep"
        header = ["flag", "meaning", "range"] + (
            ["`train` default", "`sweep` default"] if both else ["default"]
        )
        if section == "train":
            header.append("searchable")
        out += [
            f"#### {title.capitalize()} options" + (" (train and sweep)" if both else " (sweep)"),
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for action in group._group_actions:
            row = [_flag(action)]
            if action.dest in declared:
                _, spec = declared[action.dest]
                row += [spec.help, _range(spec)]
                if both:
                    row.append(default_text(section, spec.name, train_configs))
                row.append(default_text(section, spec.name, sweep_configs))
                if section == "train":
                    row.append("yes" if spec.searchable else "")
            else:
                row += [action.help or "", ""] + [""] * (2 if both else 1)
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
    for name in ("train", "sweep"):
        own = [
            a
            for a in commands[name]._action_groups[1]._group_actions
            if a.option_strings and a.dest != "help"
        ]
        out += [f"#### `{name}`'s own options", "", "| flag | meaning |", "|---|---|"]
        out += [f"| {_cell(_flag(a))} | {_cell(a.help or '')} |" for a in own]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def rewrite(readme: Path) -> bool:
    """Replace the README's generated block; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} block")
    new = pattern.sub(lambda _: f"{BEGIN}\n{tables()}{END}", text)
    readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print(
        "rewritten"
        if rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
        else "unchanged"
    )

"""How a setting is declared: once, as a dataclass field with its help, range, choices and whether
it
may be searched.

Everything else reads that declaration: the CLI flags and their help, TOML keys, type and range
checks with their error messages, the search-space keys and the README's option tables. It lives
in `data/`, the lowest layer, so every config section (data, train, sweep) can use it.
"""

from __future__ import annotations

import math
import operator
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any


def setting(
    default: Any = MISSING,
    help: str = "",
    *,
    choices: Sequence[Any] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    searchable: bool = False,
    flag: str | None = None,
    parse: Callable[[str], Any] | None = None,
    env: str | None = None,
    cli: bool = True,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """One declared setting. `flag` overrides the flag name (`--` + field name, `_` -> `-`);
    `parse` turns the flag's text into a value; `env` names an environment variable that sets it;
    `cli=False` keeps it to TOML files.
    """
    meta = {
        "help": help,
        "choices": tuple(choices) if choices is not None else None,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "searchable": searchable,
        "flag": flag,
        "parse": parse,
        "env": env,
        "cli": cli,
    }
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Spec:
    """A declared setting read back: what `setting(...)` said, plus the field's name and type."""

    name: str
    kinds: tuple[type, ...]
    default: Any
    help: str
    choices: tuple[Any, ...] | None
    ge: float | None  # the bounds setting(ge=, gt=, le=) declared
    gt: float | None
    le: float | None
    lt: float | None
    searchable: bool
    flag: str
    parse: Callable[[str], Any] | None
    env: str | None
    cli: bool

    @property
    def optional(self) -> bool:
        return type(None) in self.kinds

    @property
    def kind(self) -> type:
        """The one non-None type (int, float, str, bool or dict)."""
        return next(k for k in self.kinds if k is not type(None))


def specs(cls: type) -> list[Spec]:
    """The declared settings of a config dataclass, in field order."""
    hints = typing.get_type_hints(cls)
    return [_spec(f, hints[f.name]) for f in fields(cls)]


def _spec(f: Field, hint: Any) -> Spec:
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    m = f.metadata
    default = f.default_factory() if f.default is MISSING else f.default
    return Spec(
        name=f.name,
        kinds=tuple(kinds),
        default=default,
        help=m.get("help", ""),
        choices=m.get("choices"),
        ge=m.get("ge"),
        gt=m.get("gt"),
        le=m.get("le"),
        lt=m.get("lt"),
        searchable=m.get("searchable", False),
        flag=m.get("flag") or "--" + f.name.replace("_", "-"),
        parse=m.get("parse"),
        env=m.get("env"),
        cli=m.get("cli", True),
    )


def coerce(spec: Spec, value: Any, name: str | None = None) -> tuple[Any, str | None]:
    """(value as the field's type, None) or (None, why not): ints pass as floats, bools stay bools.

    The reason names the setting as `name` (default: its field name).
    """
    for kind in spec.kinds:
        if kind is type(None) and value is None:
            return None, None
        if kind is bool and isinstance(value, bool):
            return value, None
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value, None
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), None
        if kind in (str, dict) and isinstance(value, kind):
            return value, None
    names = " or ".join("none" if k is type(None) else k.__name__ for k in spec.kinds)
    return None, f"{name or spec.name} must be {names}, got {value!r}"


def check(spec: Spec, value: Any, name: str | None = None) -> str | None:
    """Why `value` breaks the declared choices or range (None when it is fine)."""
    name = name or spec.name
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} must be a finite number, got {value}"
    if spec.choices is not None and value not in spec.choices:
        return f"unknown {name} {value!r}: choose one of {', '.join(map(str, spec.choices))}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    for sign, holds in BOUNDS.items():
        bound = getattr(spec, BOUND_FIELDS[sign])
        if bound is not None and not holds(value, bound):
            return f"{name} must be {sign} {bound:g}, got {value:g}"
    return None


BOUNDS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
BOUND_FIELDS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt"}


def declared_problems(obj: Any) -> list[str]:
    """Every field of a config dataclass instance checked against its declaration (for configs
    built in code, which skip the checks a TOML file or flag goes through)."""
    out = []
    for spec in specs(type(obj)):
        value, problem = coerce(spec, getattr(obj, spec.name))
        problem = problem or check(spec, value)
        if problem:
            out.append(problem)
    return out


def range_text(spec: Spec) -> str:
    """The declared range as a reader writes it: "> 0", "[0, 1)", ">= 1"; empty when unbounded."""
    low = (
        f"[{spec.ge:g}" if spec.ge is not None else f"({spec.gt:g}" if spec.gt is not None else None
    )
    high = (
        f"{spec.le:g}]" if spec.le is not None else f"{spec.lt:g})" if spec.lt is not None else None
    )
    if low and high:
        return f"{low}, {high}"
    if low:
        return (">= " if low[0] == "[" else "> ") + low[1:]
    if high:
        return ("<= " if high[-1] == "]" else "< ") + high[:-1]
    return ""

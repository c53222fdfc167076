"""Which folder imports what: the import statements of each product folder, counted by what they
import (another project folder, or ray / optuna), and the files that import ray or optuna.

    python benchmarks/import_map.py [--root TREE]

Run it on a tree checked out beside this one (`--root .cache/bench-REV`) for the before column.
Imports inside functions count too: a lazy `import ray` still ties a file to Ray.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from pathlib import Path

PACKAGES = ("base", "data", "models", "tune", "results")
WATCHED = ("ray", "optuna")


def imported_names(path: Path) -> list[str]:
    """Top-level module names (`tune.train.loop` stays whole) of every import in `path`."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def folder_of(path: Path, root: Path) -> str:
    return str(path.parent.relative_to(root))


def import_map(root: Path) -> tuple[dict[str, Counter], dict[str, list[str]]]:
    """({folder: Counter of imported target}, {folder: files importing ray or optuna})."""
    counts: dict[str, Counter] = {}
    watched: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            folder = folder_of(path, root)
            counter = counts.setdefault(folder, Counter())
            for name in imported_names(path):
                head = name.split(".")[0]
                if head in WATCHED:
                    counter[head] += 1
                    watched.setdefault(folder, [])
                    if path.name not in watched[folder]:
                        watched[folder].append(path.name)
                elif head in PACKAGES:
                    parts = name.split(".")
                    target = ".".join(parts[:2]) if head == "tune" and len(parts) > 2 else head
                    subfolder = root / target.replace(".", "/")
                    counter[target if subfolder.is_dir() else head] += 1
    return counts, watched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root = parser.parse_args().root.resolve()
    counts, watched = import_map(root)
    print(
        "| folder | files | imports of project folders | ray | optuna "
        "| files importing ray/optuna |"
    )
    print("|---|---|---|---|---|---|")
    for folder, counter in sorted(counts.items()):
        files = len(list((root / folder).glob("*.py")))
        project = ", ".join(f"{t} {n}" for t, n in sorted(counter.items()) if t not in WATCHED)
        print(
            f"| {folder}/ | {files} | {project} | {counter['ray']} | {counter['optuna']} | "
            f"{', '.join(watched.get(folder, [])) or '-'} |"
        )


if __name__ == "__main__":
    main()

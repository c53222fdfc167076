"""The folders are the boundaries: what a file may import follows from where it lives
(tune/__init__.py, README "Layout"). Imports inside functions count too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from import_map import imported_names as imports

REPO = Path(__file__).resolve().parents[1]
RAY_FOLDER = "tune/sweep"
GROUND_FLOOR = "base"  # settings engine, atomic files and locks, the run directory's contract
# folder -> project packages it must not import (its own layer and below are allowed).
FORBIDDEN = {
    GROUND_FLOOR: ("data", "models", "tune", "results"),
    "data": ("models", "tune", "results"),
    "models": ("data", "tune", "results"),
    "results": ("tune", "models"),
    "tune/train": ("tune.sweep", "tune.outcome", "tune.cli"),
    "tune/outcome": ("tune.sweep", "tune.cli"),
    "tune/sweep": ("tune.cli",),
}


def product_files() -> list[Path]:
    return [
        p
        for folder in (GROUND_FLOOR, "data", "models", "results", "tune")
        for p in (REPO / folder).rglob("*.py")
    ]


def run_script(script: str) -> dict:
    """`python -c SCRIPT` in a fresh interpreter (nothing imported yet): its last line as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_only_the_ray_folder_imports_ray_or_optuna():
    offenders = [
        f"{p.relative_to(REPO)} imports {name}"
        for p in product_files()
        if not p.relative_to(REPO).as_posix().startswith(RAY_FOLDER + "/")
        for name in imports(p)
        if name.split(".")[0] in ("ray", "optuna")
    ]
    assert offenders == []
    assert any(
        name.split(".")[0] == "ray" for p in (REPO / RAY_FOLDER).glob("*.py") for name in imports(p)
    ), "the check would pass on any tree: the Ray folder itself imports ray"


def test_the_ground_floor_imports_nothing_of_ours_and_every_room_stands_on_it():
    ours = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file()}
    assert GROUND_FLOOR in ours and {"data", "models", "tune", "results"} <= ours
    offenders = [
        f"{p.relative_to(REPO)} imports {name}"
        for p in (REPO / GROUND_FLOOR).rglob("*.py")
        for name in imports(p)
        if name.split(".")[0] in ours - {GROUND_FLOOR}
    ]
    assert offenders == []
    users = {
        p.relative_to(REPO).parts[0]
        for p in product_files()
        if any(name.split(".")[0] == GROUND_FLOOR for name in imports(p))
    }
    assert users - {GROUND_FLOOR} == {"data", "results", "tune"}, "who stands on it moved"


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_import_runs_back_up(folder):
    offenders = [
        f"{p.relative_to(REPO)} imports {name}"
        for p in (REPO / folder).rglob("*.py")
        for name in imports(p)
        for banned in FORBIDDEN[folder]
        if name == banned or name.startswith(banned + ".")
    ]
    assert offenders == []


def test_rnn_tune_train_never_loads_ray_or_optuna(tmp_path):
    script = (
        "import json, sys\n"
        "from tune.cli.main import main\n"
        f"rc = main(['train', '--dataset', 'synthetic', '--synthetic-samples', '400', "
        f"'--epochs', '1', '--embed-dim', '8', '--hidden-dim', '8', '--output', "
        f"{str(tmp_path / 'run')!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'optuna'})\n"
        "print(json.dumps({'rc': rc, 'loaded': loaded}))\n"
    )
    assert run_script(script) == {"rc": 0, "loaded": []}
    assert (tmp_path / "run" / "model.pt").is_file()


def test_old_module_paths_resolve_to_the_moved_modules():
    """Pickles in run directories written before the layout name classes by the old paths."""
    script = (
        "import importlib, json\n"
        "from tune.moved import MOVED, MOVED_FROM_DRIVER, MOVED_FROM_SWEEP\n"
        "same = {old: importlib.import_module(old) is importlib.import_module(new)\n"
        "        for old, new in MOVED.items()}\n"
        "import tune.sweep, tune.sweep.driver\n"
        "names = {n: getattr(tune.sweep, n).__module__ for n in MOVED_FROM_SWEEP}\n"
        "driver = {n: getattr(tune.sweep.driver, n).__module__ for n in MOVED_FROM_DRIVER}\n"
        "print(json.dumps({'same': same, 'names': names, 'driver': driver,\n"
        "                  'tables': [MOVED_FROM_SWEEP, MOVED_FROM_DRIVER]}))\n"
    )
    result = run_script(script)
    assert result["same"] and all(result["same"].values())
    assert result["names"] == result["tables"][0]
    assert result["driver"] == result["tables"][1] and set(result["driver"].values()) == {
        "tune.sweep.tuner"
    }
    for old in result["same"]:
        assert not (REPO / (old.replace(".", "/") + ".py")).exists(), f"{old} is not moved"


def test_a_cluster_gets_every_package_folder_a_trial_imports():
    from tune.sweep.cluster import shipped_packages

    shipped = [Path(p) for p in shipped_packages()]
    assert all((p / "__init__.py").is_file() for p in shipped), shipped
    assert {p.name for p in shipped} == {"base", "data", "models", "tune", "results"}

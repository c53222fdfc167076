"""Repair Ray Tune's experiment state after a killed driver, before `--resume`.

Ray writes its state (trial list, searcher, search counter) to a staging folder in its session
directory and copies it to the run directory every second, overwriting in place. A driver killed
during that copy leaves a file cut short, and `Tuner.restore` then fails. The staging copy is
written atomically and outlives the driver, so a damaged file is replaced from it.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

from tune.config import ConfigError

STATE_PATTERNS = (
    "experiment_state-*.json",
    "search_gen_state-*.json",
    "searcher-state-*.pkl",
    "basic-variant-state-*.json",
)


def ray_temp_dirs() -> list[Path]:
    return [Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir())) / "ray", Path("/tmp/ray")]


def loadable(path: Path) -> bool:
    try:
        if path.name.startswith("experiment_state-"):
            json.loads(path.read_text())
        else:
            with open(path, "rb") as f:
                pickle.load(f)
    except Exception:  # a cut-short file fails in pickle's or json's own ways
        return False
    return True


def repair_state(run_dir: Path) -> list[str]:
    """Replace damaged state files in `run_dir` from Ray's staging copies; return their names."""
    repaired = []
    for pattern in STATE_PATTERNS:
        for path in sorted(run_dir.glob(pattern)):
            if loadable(path):
                continue
            copies = [
                c
                for root in ray_temp_dirs()
                for c in root.glob(
                    f"session_*/artifacts/*/{run_dir.name}/driver_artifacts/{path.name}"
                )
                if loadable(c)
            ]
            if not copies:
                raise ConfigError(
                    f"Ray's sweep state {path} is damaged (the driver was killed while writing "
                    "it) and no "
                    "intact copy is left in Ray's session directory; start a new sweep with "
                    "another --name"
                )
            shutil.copyfile(max(copies, key=lambda c: c.stat().st_mtime), path)
            repaired.append(path.name)
    return repaired

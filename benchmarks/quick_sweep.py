"""The quick sweep side by side: wall time, run-directory size and where the CPU-seconds go.

    python benchmarks/quick_sweep.py --data-dir DIR [--rounds N] [--before REV]

Runs `rnn-tune sweep --preset quick` from main before a change (default: before issue 8) and from
this tree, alternating,
each into its own fresh run directory, and prints per run: wall seconds, run-directory MB,
trials, best test accuracy per family, and the share of the sweep's CPU-seconds spent in
training steps (sum over trials of epoch seconds x trial CPUs, over wall x the machine's CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import BEFORE_REV, REPO, checkout_before, median

from base.run_dir import RECORDS_FILE, SUMMARY_FILE
from results.load import read_records


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def training_share(run_dir: Path, wall_s: float) -> float:
    busy = 0.0
    for record in read_records(run_dir / RECORDS_FILE):
        metrics = record.get("metrics") or {}
        if record["event"] == "result" and metrics.get("epoch_s"):
            busy += metrics["epoch_s"] * (metrics.get("cpus") or 1)
    return busy / (wall_s * (os.cpu_count() or 1))


def run_sweep(root: Path, data_dir: str, storage: Path, name: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "RNN_TUNE_CACHE_DIR": str(root / ".cache" / "bench-data"),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tune.cli.main",
            "sweep",
            "--preset",
            "quick",
            "--data-dir",
            data_dir,
            "--storage",
            str(storage),
            "--name",
            name,
            "--no-dashboard",
            "--quiet",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    run_dir = storage / name
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    return {
        "wall_s": wall,
        "mb": dir_mb(run_dir),
        "trials": summary["trials"],
        "stopped_early": summary["stopped_early"],
        "test_acc": {f: round(b["test_acc"], 4) for f, b in summary["by_family"].items()},
        "training_share": training_share(run_dir, wall),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", default=BEFORE_REV, help=f"git revision (default {BEFORE_REV})")
    args = parser.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    before = checkout_before(args.before)
    storage = REPO / ".cache" / "bench-sweeps"
    shutil.rmtree(storage, ignore_errors=True)
    results: dict[str, list[dict]] = {"before": [], "now": []}
    for round_ in range(args.rounds):
        for contender, root in (("before", before), ("now", REPO)):
            result = run_sweep(root, data_dir, storage, f"{contender}-{round_}")
            results[contender].append(result)
            print(f"{contender:<7} {json.dumps(result)}", file=sys.stderr, flush=True)
    print(
        f"\n{'contender':<9} {'wall s':>7} {'run dir MB':>10} {'trials':>6} "
        f"{'training share':>14}  best test acc"
    )
    for contender, runs in results.items():
        wall = median([r["wall_s"] for r in runs])
        print(
            f"{contender:<9} {wall:>7.0f} {median([r['mb'] for r in runs]):>10.1f} "
            f"{runs[0]['trials']:>6}"
            f" {median([r['training_share'] for r in runs]):>14.1%}  {runs[-1]['test_acc']}"
        )
    ratio = median([r["wall_s"] for r in results["now"]]) / median(
        [r["wall_s"] for r in results["before"]]
    )
    print(f"wall time now / before: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

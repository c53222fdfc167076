"""A cold sweep on all rows against a sweep on a quarter of them followed by `promote` of its best
configurations on all rows, for the same wall-clock budget (issue 23).

    python benchmarks/subset_then_promote.py --data-dir DIR [--minutes 20] [--top 3]

(a) `rnn-tune sweep --time-budget {minutes}m` on every train row;
(b) `rnn-tune sweep --time-budget {minutes/2}m --max-train-samples QUARTER`, then
    `rnn-tune promote --all-rows --top N --time-budget {minutes/2}m`.
Each run is sampled as in sweep_phases.py (start-up, search, end; busy, training, idle
core-seconds). Prints each final model's test accuracy (ensemble when k > 1, else the best
trial), the paired test against the run's baseline, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from common import REPO
from sweep_phases import WARM, bench_env, run_command

from base.run_dir import SUMMARY_FILE, final_model

TRAIN_ROWS = 10_596  # the real subset's train split after validation (1,870 rows) is held out


def final_line(run_dir: Path) -> dict:
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    final = final_model(summary)
    (baseline,) = summary["baselines"].values()
    return {
        "run": run_dir.name,
        "final": final.kind,
        "final_val_acc": final.val_acc,
        "final_test_acc": final.test_acc,
        "baseline_test_acc": baseline["test_acc"],
        "vs_baseline": baseline.get("vs_final"),
        "trials": summary["trials"],
        "budget": summary.get("budget"),
        "warm_start": summary.get("warm_start"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()
    data = str(Path(args.data_dir).resolve())
    storage = REPO / ".cache" / "bench-promote"
    shutil.rmtree(storage, ignore_errors=True)
    half, quarter = f"{args.minutes / 2:g}m", str(TRAIN_ROWS // 4)
    base = ["--data-dir", data, "--storage", str(storage), "--quiet"]
    for extra in ([], ["--max-train-samples", quarter]):
        subprocess.run(  # the data caches, prepared outside the timed runs
            [sys.executable, "-c", WARM, "sweep", *base, *extra],
            cwd=REPO,
            env=bench_env(REPO),
            check=True,
        )
    runs = {
        "cold": (["sweep", *base, "--time-budget", f"{args.minutes:g}m", "--name", "cold"], "cold"),
        "subset": (
            ["sweep", *base, "--time-budget", half, "--max-train-samples", quarter]
            + ["--name", "sub"],
            "sub",
        ),
        "promote": (
            ["promote", str(storage / "sub"), "--all-rows", "--top", str(args.top),
             "--time-budget", half, "--storage", str(storage), "--name", "promoted", "--quiet"],
            "promoted",
        ),
    }  # fmt: skip
    measured = {}
    for name, (cli_args, folder) in runs.items():
        measured[name] = run_command(REPO, cli_args, storage / folder)
        measured[name]["final"] = final_line(storage / folder)
        print(f"{name} {json.dumps(measured[name])}", file=sys.stderr, flush=True)
    print("| arm | run | wall s | trials | final model | val | test | baseline test | paired |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, result in measured.items():
        f = result["final"]
        pair = f["vs_baseline"] or {}
        print(
            f"| {'a' if name == 'cold' else 'b'} | {name} | {result['wall_s']:.0f} | "
            f"{f['trials']} | {f['final']} | {f['final_val_acc']:.2%} | {f['final_test_acc']:.2%} "
            f"| {f['baseline_test_acc']:.2%} | {pair.get('final_only_right')} / "
            f"{pair.get('baseline_only_right')}, p = {pair.get('p_value', float('nan')):.2g} |"
        )
    b_wall = measured["subset"]["wall_s"] + measured["promote"]["wall_s"]
    print(f"(a) wall {measured['cold']['wall_s']:.0f} s; (b) wall {b_wall:.0f} s in all")
    for point in measured["promote"]["final"]["warm_start"]["points"]:
        print(f"promoted {json.dumps(point)}")
    for name, result in measured.items():
        phases = {p: {k: round(v, 1) for k, v in d.items()} for p, d in result["phases"].items()}
        print(f"{name} phases {json.dumps(phases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

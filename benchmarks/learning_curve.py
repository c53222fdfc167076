"""Where do the RNNs overtake the linear model, and what does the final model add, by training
rows (issue 21)?

    python benchmarks/learning_curve.py --data-dir DIR [--minutes 5] [--sizes 2500 5000 all]
        [--vectors none glove.6B.50d]

One short sweep per size (`rnn-tune sweep --time-budget {minutes}m --max-train-samples N`, the
validation and test splits unchanged), one after the other, each sampled as in sweep_phases.py.
Prints, per size: the RNN ensemble (the RNNs alone), the run's linear model and the final model on
test, the final model's kind, and the paired tests of the RNNs and of the final model against the
linear model on the same test rows.
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

from base.run_dir import SUMMARY_FILE


def paired_text(pair: dict | None) -> str:
    if not pair:
        return "-"
    return f"{pair['final_only_right']} / {pair['baseline_only_right']}, p = {pair['p_value']:.2g}"


def size_row(size: str, run_dir: Path, wall_s: float) -> str:
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    (baseline,) = summary["baselines"].values()
    final, rnn = summary["final"], summary["final"]["rnn"]
    return (
        f"| {size} | {summary['trials']} | {wall_s:.0f} | {rnn['test_acc']:.2%} | "
        f"{baseline['test_acc']:.2%} | {paired_text(baseline.get('vs_rnn'))} | {final['kind']} | "
        f"{final['val_acc']:.2%} / {final['test_acc']:.2%} | "
        f"{paired_text(baseline.get('vs_final'))} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--sizes", nargs="+", default=["2500", "5000", "all"])
    parser.add_argument("--root", type=Path, default=REPO, help="the tree to run (a checkout)")
    parser.add_argument(
        "--vectors", nargs="+", default=[None], help="one curve per value (e.g. none glove.6B.50d)"
    )
    args = parser.parse_args()
    data = str(Path(args.data_dir).resolve())
    storage = REPO / ".cache" / "bench-learning-curve"
    shutil.rmtree(storage, ignore_errors=True)
    lines = []
    for vectors, size in ((v, s) for v in args.vectors for s in args.sizes):
        extra = [] if size == "all" else ["--max-train-samples", size]
        extra += ["--vectors", vectors] if vectors else []
        base = ["--data-dir", data, "--storage", str(storage), "--quiet", *extra]
        subprocess.run(  # the data cache, prepared outside the timed run
            [sys.executable, "-c", WARM, "sweep", *base],
            cwd=args.root,
            env=bench_env(args.root),
            check=True,
        )
        name = f"rows-{size}" + (f"-{vectors}" if vectors else "")
        cli = ["sweep", *base, "--time-budget", f"{args.minutes:g}m", "--name", name]
        result = run_command(args.root, cli, storage / name)
        label = f"{size}, vectors {vectors}" if vectors else size
        lines.append(size_row(label, storage / name, result["wall_s"]))
        print(lines[-1], file=sys.stderr, flush=True)
    print(
        "| train rows | trials | wall s | RNN ensemble test | linear test | RNNs vs linear: "
        "only RNNs / only linear | final model | final val / test | final vs linear |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

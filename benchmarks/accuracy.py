"""Test accuracy at equal epochs, main before issue 8 against this tree (sparse and dense
embedding).

    python benchmarks/accuracy.py --data-dir ../shared/data/ag_news_csv [--seeds 0 1 2]

Runs `rnn-tune train` from each tree on the same split with the same seeds and prints each
run's test accuracy and the mean per contender. The notebook's model is scored after 1 and 3
epochs; the default model after 3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import REPO, checkout_before, run_json

NOTEBOOK = [
    "--model",
    "lstm",
    "--embed-dim",
    "64",
    "--hidden-dim",
    "32",
    "--no-bidirectional",
    "--dropout",
    "0",
    "--pooling",
    "last",
    "--lr",
    "0.01",
    "--grad-clip",
    "0",
    "--batch-size",
    "16",
    "--threads",
    "1",
]
DEFAULT = ["--model", "lstm", "--threads", "2"]
RUNS = {
    "notebook, 1 epoch": NOTEBOOK + ["--epochs", "1"],
    "notebook, 3 epochs": NOTEBOOK + ["--epochs", "3"],
    "default, 3 epochs": DEFAULT + ["--epochs", "3"],
}
CONTENDERS = {"before": [], "now (sparse)": [], "now (dense)": ["--no-sparse-embedding"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    args = parser.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    before = checkout_before()
    out = REPO / ".cache" / "bench-accuracy"
    scores: dict[tuple[str, str], list[float]] = {}
    for run in args.runs:
        for seed in args.seeds:
            for contender, extra in CONTENDERS.items():
                root = before if contender == "before" else REPO
                target = (
                    out / f"{run.replace(' ', '').replace(',', '-')}-{contender.split()[0]}-{seed}"
                )
                cmd = [
                    "-m",
                    "tune.cli.main",
                    "train",
                    "--data-dir",
                    data_dir,
                    "--seed",
                    str(seed),
                    *RUNS[run],
                    *extra,
                    "--output",
                    str(target),
                    "--json",
                ]
                result = run_json(
                    cmd, root, env={"RNN_TUNE_CACHE_DIR": str(root / ".cache" / "bench-data")}
                )
                scores.setdefault((run, contender), []).append(result["test_acc"])
                print(
                    f"{run:<20} seed {seed} {contender:<13} test_acc {result['test_acc']:.2%}  "
                    f"{result['train_samples_per_s']:,.0f} samples/s",
                    file=sys.stderr,
                    flush=True,
                )
    print(f"\n{'run':<20} {'contender':<13} {'mean test_acc':>13}  per seed")
    for (run, contender), values in scores.items():
        per_seed = " ".join(f"{v:.2%}" for v in values)
        print(f"{run:<20} {contender:<13} {sum(values) / len(values):>13.2%}  {per_seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

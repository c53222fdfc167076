"""The training recipe's settings, one change at a time, on one model: test accuracy per seed.

    python benchmarks/recipe.py --data-dir ../shared/data/ag_news_csv [--seeds 0 1] [--jobs 2]

Runs `rnn-tune train` from this tree (a bidirectional LSTM, embed 128, hidden 128, max pooling,
dropout 0.3, Adam 2e-3, batch 64, 6 epochs, the sweep's 15% validation split, 1 thread each)
with each variant and prints each run's best-epoch validation and test accuracy, then the mean
per variant. Used to choose the default search space's ranges.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO, run_json

BASE = ["--model", "lstm", "--epochs", "6", "--val-fraction", "0.15", "--threads", "1"]
VARIANTS = {
    "as declared": [],
    "word_dropout 0.25": ["--word-dropout", "0.25"],
    "word_dropout 0.4": ["--word-dropout", "0.4"],
    "word_dropout 0.55": ["--word-dropout", "0.55"],
    "embed_dropout 0.3": ["--embed-dropout", "0.3"],
    "cosine": ["--lr-schedule", "cosine"],
    "word_dropout 0.4 + cosine": ["--word-dropout", "0.4", "--lr-schedule", "cosine"],
    "word_dropout 0.4 + onecycle": ["--word-dropout", "0.4", "--lr-schedule", "onecycle"],
    "min_freq 2": ["--min-freq", "2"],
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (one thread each)")
    args = parser.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    out = REPO / ".cache" / "bench-recipe"
    env = {"RNN_TUNE_CACHE_DIR": str(REPO / ".cache" / "bench-data")}
    jobs = [(variant, seed) for variant in args.variants for seed in args.seeds]

    def run(job: tuple[str, int]) -> dict:
        variant, seed = job
        target = out / f"{variant.replace(' ', '_').replace('+', 'and')}-{seed}"
        cmd = ["-m", "tune.cli.main", "train", "--data-dir", data_dir, "--seed", str(seed)]
        result = run_json(
            [*cmd, *BASE, *VARIANTS[variant], "--output", str(target), "--json"], REPO, env
        )
        print(
            f"{variant:<28} seed {seed}  val_acc {result['val_acc']:.2%}  "
            f"test_acc {result['test_acc']:.2%}",
            file=sys.stderr,
            flush=True,
        )
        return result

    first = run(jobs[0])  # prepares the data cache once
    with ThreadPoolExecutor(args.jobs) as pool:
        results = [first, *pool.map(run, jobs[1:])]
    print(f"\n{'variant':<28} {'mean val':>9} {'mean test':>9}  test per seed")
    for variant in args.variants:
        mine = [r for (v, _), r in zip(jobs, results, strict=True) if v == variant]
        val = sum(r["val_acc"] for r in mine) / len(mine)
        test = sum(r["test_acc"] for r in mine) / len(mine)
        per_seed = " ".join(f"{r['test_acc']:.2%}" for r in mine)
        print(f"{variant:<28} {val:>9.2%} {test:>9.2%}  {per_seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The search's sampler side by side: Optuna's default TPE against the sweep's own.

    python benchmarks/sampler.py --data-dir ../shared/data/ag_news_csv [--seeds 0 1] [--preset P]

Runs the same `rnn-tune sweep` from this tree twice per seed, alternating: once with the sweep's
sampler (TPE whose random start-up is a quarter of the budget, multivariate, constant liar, a
floor of trials per family) and once with Optuna's default (`TPESampler(seed=...)`: 10 random
trials first, parameters modelled one by one, no floor), swapped in for
`tune.sweep.optuna_search.make_sampler` only. Everything else (data, splits, ASHA, trial count,
seeds) is the same. Prints per run the
trials per family, the best validation accuracy, the best trial's and the ensemble's test
accuracy, and the baseline's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from common import REPO

from base.run_dir import RECORDS_FILE, SUMMARY_FILE

OPTUNA_DEFAULT = (
    "import sys, tune.sweep.tuner as s; from optuna.samplers import TPESampler; "
    "s.make_sampler = lambda n, families, seed, **_: TPESampler(seed=seed); "
    "from tune.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
OURS = "import sys; from tune.cli.main import main; sys.exit(main(sys.argv[1:]))"
CONTENDERS = {"optuna default TPE": OPTUNA_DEFAULT, "rnn-tune sampler": OURS}


def family_counts(run_dir: Path) -> dict[str, int]:
    seen: dict[str, str] = {}
    for line in (run_dir / RECORDS_FILE).read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "result":
            seen[record["trial_id"]] = record["config"].get("model", "?")
    return {f: list(seen.values()).count(f) for f in sorted(set(seen.values()))}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("extra", nargs="*", help="more sweep flags, after --")
    args = parser.parse_args()
    out = REPO / ".cache" / "bench-sampler"
    shutil.rmtree(out, ignore_errors=True)
    rows = []
    for seed in args.seeds:
        for contender, code in CONTENDERS.items():
            name = f"{contender.split()[0]}-{seed}"
            cmd = [sys.executable, "-c", code, "sweep", "--preset", args.preset]
            cmd += ["--data-dir", str(Path(args.data_dir).resolve()), "--seed", str(seed)]
            cmd += ["--storage", str(out), "--name", name, "--no-dashboard", "--no-report"]
            subprocess.run([*cmd, "--quiet", *args.extra], check=True, cwd=REPO)
            summary = json.loads((out / name / SUMMARY_FILE).read_text())
            ensemble = summary.get("ensemble") or {}
            baseline = summary["baselines"]["tfidf_linear_svm"]
            rows.append(
                (
                    contender,
                    seed,
                    family_counts(out / name),
                    summary["best"]["val_acc"],
                    summary["best"]["test_acc"],
                    ensemble.get("test_acc"),
                    baseline["test_acc"],
                )
            )
            print(rows[-1], file=sys.stderr, flush=True)
    print(
        f"\n{'sampler':<20} seed  trials per family       best val  best test  ensemble  baseline"
    )
    for contender, seed, counts, val, test, ens, base in rows:
        spread = ", ".join(f"{f} {n}" for f, n in counts.items())
        ens_text = f"{ens:.2%}" if ens is not None else "-"
        print(
            f"{contender:<20} {seed:>4}  {spread:<22} {val:>8.2%} {test:>10.2%} {ens_text:>9}"
            f" {base:>9.2%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

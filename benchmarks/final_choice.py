"""Which rule should choose the final model among its options: validation accuracy or validation
log loss (issue 21)?

    python benchmarks/final_choice.py RUN_DIR [RUN_DIR ...]

Re-runs the sweep's end-phase choice (tune/outcome/final.py `options`) on finished runs, from the
models each run keeps: the ensemble's members (RUN_DIR/ensemble/), each family's best
(RUN_DIR/best/, in the pool when it was among the top `ensemble_candidates` trials) and the linear
model (RUN_DIR/linear/model.npz). Prints, per run and option, validation accuracy and log loss and
test accuracy, then which option each rule picks (a tie goes to the simpler) and its paired test
against the linear model. Every choice reads validation only; test is printed, never chosen on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from base.run_dir import CONFIG_FILE, ENSEMBLE_DIR
from data.prepare import prepare_data
from models.linear import LinearTextModel
from results.load import load_run
from results.stats import paired_counts
from tune.config import read_config_json
from tune.outcome.ensemble import Candidate, Scores
from tune.outcome.final import Pool, combine, options


def rows(run_dir: Path) -> list[str]:
    cfg = read_config_json(run_dir / CONFIG_FILE)
    run = load_run(run_dir)
    summary = run.summary
    data = prepare_data(cfg.data)
    yv, yt = data.val.labels, data.test.labels
    ranked = run.trials.sort_values("best_val_acc", ascending=False)
    pool_ids = set(ranked["trial_id"].head(cfg.sweep.ensemble_candidates))
    candidates = {
        m["trial_id"]: Candidate(
            m["trial_id"], m["family"], m["val_acc"], run_dir / ENSEMBLE_DIR / m["trial_id"]
        )
        for m in summary["ensemble"]["members"]
    }
    for family, best in summary["by_family"].items():
        if best["trial_id"] in pool_ids and best["trial_id"] not in candidates:
            candidates[best["trial_id"]] = Candidate(
                best["trial_id"], family, best["val_acc"], Path(best["checkpoint"]).parent
            )
    linear_model = LinearTextModel.load(run_dir / "linear" / "model.npz")
    linear = {
        "val_probs": linear_model.probabilities(data.val.ids, data.val.offsets),
        "test_probs": linear_model.probabilities(data.test.ids, data.test.offsets),
    }
    pool = Pool(Scores(data), sorted(candidates.values(), key=lambda c: -c.val_acc), linear)
    family_best = [b["trial_id"] for b in summary["by_family"].values()]
    found = options(pool, summary["ensemble"], yv, family_best)
    base = linear["test_probs"].argmax(1) == yt
    by_acc = max(range(len(found)), key=lambda i: (found[i].val_acc, -i))
    by_loss = min(range(len(found)), key=lambda i: (found[i].val_loss, i))  # final.py's rule
    out = []
    for i, option in enumerate(found):
        right = combine(option.weights, pool.test).argmax(1) == yt
        only, only_linear, p = paired_counts(right, base)
        picked = " + ".join(
            rule for rule, j in (("accuracy", by_acc), ("log loss", by_loss)) if j == i
        )
        out.append(
            f"| {run_dir.name} | {option.kind} | {len(option.weights)} | {option.val_acc:.2%} | "
            f"{option.val_loss:.4f} | {np.mean(right):.2%} | {only} / {only_linear}, p = {p:.2g} | "
            f"{picked or '-'} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(
        "| run | option | models | val acc | val log loss | test acc | "
        "vs linear: only this / only linear | picked by |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run_dir in args.runs:
        for line in rows(run_dir):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where sweeps stand against the baseline: one Markdown row per finished run directory.

    python benchmarks/search_quality.py RUN_DIR [RUN_DIR ...]

Reads each run's summary.json and trials.jsonl (docs/benchmarks.md's search-quality table) and
adds the paired tests of the final model, and of the RNNs alone, against the baseline on the
same test rows. Runs made
before summary.json carried it (`baselines.*.vs_final`) are rescored: the ensemble's members (or
the best checkpoint) and the baseline, on the run's own data, test split only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sampler import family_counts

from base.run_dir import CONFIG_FILE, SUMMARY_FILE, final_model
from data.prepare import prepare_data
from tune.config import read_config_json
from tune.outcome.baseline import NAME, fit_baseline, paired_with_final
from tune.outcome.ensemble import correct_rows
from tune.train.checkpoint import load_checkpoint


def rescored_pair(run_dir: Path, summary: dict) -> dict:
    cfg = read_config_json(run_dir / CONFIG_FILE)
    data = prepare_data(cfg.data)
    models = [load_checkpoint(c).model for c in final_model(summary).checkpoints]
    baseline = fit_baseline(data, cfg.train.seed)
    return paired_with_final(baseline["test_correct"], correct_rows(models, data.test))


def row(run_dir: Path) -> str:
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    best, ensemble = summary["best"], summary.get("ensemble") or {"k": 1}
    base = summary["baselines"][NAME]
    pair = base.get("vs_final") or rescored_pair(run_dir, summary)
    chosen = final_model(summary)
    final = chosen.test_acc
    counts = family_counts(run_dir)
    families = "/".join(str(counts.get(f, 0)) for f in ("rnn", "lstm", "gru"))

    def pct(acc: float) -> str:
        return f"{100 * acc:.2f}"

    return (
        f"| {run_dir.name} | {sum(counts.values())} ({families}) in "
        f"{summary['wall_s'] / 60:.0f} min "
        f"| {pct(best['val_acc'])} / {pct(best['test_acc'])} "
        f"| {ensemble['k']}, {pct(ensemble.get('val_acc', best['val_acc']))} / "
        f"{pct(ensemble.get('test_acc', best['test_acc']))} "
        f"| {chosen.kind}, {pct(chosen.val_acc)} / {pct(final)} "
        f"| {base['C']:g}, {pct(base['val_acc'])} / {pct(base['test_acc'])} "
        f"| {100 * (final - base['test_acc']):+.2f} "
        f"| {pair['final_only_right']} / {pair['baseline_only_right']}, "
        f"p = {pair['p_value']:.2g} | {rnn_pair(base)} |"
    )


def rnn_pair(base: dict) -> str:
    """The RNNs alone (their ensemble) against the baseline, where summary.json has it."""
    pair = base.get("vs_rnn")
    if not pair:
        return "-"
    return f"{pair['final_only_right']} / {pair['baseline_only_right']}, p = {pair['p_value']:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished sweep run directories")
    args = parser.parse_args()
    print(
        "| run | trials (rnn/lstm/gru) | best single: val / test | ensemble: k, val / test "
        "| final model: kind, val / test | baseline: C, val / test | final - baseline "
        "| only final / only baseline right, McNemar p | RNNs alone: only RNNs / only baseline, p |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run_dir in args.runs:
        print(row(run_dir), flush=True)


if __name__ == "__main__":
    main()

"""How the ways of building a final model compare, on runs that kept every trial's checkpoint.

    rnn-tune sweep ... --keep-checkpoints 100      # every trial's best checkpoint stays
    python benchmarks/final_options.py RUN_DIR [RUN_DIR ...]

For each run: the top `ensemble_candidates` trials by validation accuracy (their validation
probabilities from their checkpoints, test scored here) and the run's linear model (refitted, as the
sweep fits it). Then each way of combining them, chosen on validation only, with its test accuracy
and its paired test against the linear model: the evidence for tune/outcome/final.py's choices
(greedy objective, blend weights). One Markdown row per run and method.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from base.run_dir import CONFIG_FILE, MODEL_FILE
from data.prepare import prepare_data
from results.stats import mcnemar_p
from tune.config import read_config_json
from tune.outcome.baseline import fit_baseline
from tune.outcome.ensemble import choose_k
from tune.outcome.final import blend_weight, combine, greedy_weights, log_loss
from tune.train.checkpoint import load_checkpoint
from tune.train.inference import probabilities


def greedy_accuracy(val: dict, y, rounds: int = 25) -> dict:
    """Caruana's selection hill-climbing validation accuracy (ties: lower log loss)."""
    counts, total = {}, 0.0
    for n in range(1, rounds + 1):
        averaged = {m: (total + val[m]) / n for m in val}
        pick = max(
            val, key=lambda m: (np.mean(averaged[m].argmax(1) == y), -log_loss(averaged[m], y))
        )
        counts[pick] = counts.get(pick, 0) + 1
        total = total + val[pick]
    return counts


def trial_bests(run_dir: Path, data) -> list[tuple[str, float, np.ndarray, object]]:
    """(name, val acc, val probabilities, loaded checkpoint) of each trial's best kept checkpoint:
    in its trial directory, or exported to best/FAMILY or ensemble/TRIAL (exports carry no
    validation probabilities: scored here; the same model found twice is counted once)."""
    found = {}
    paths = [
        *run_dir.glob("*/checkpoint_*/" + MODEL_FILE),
        *run_dir.glob("ensemble/*/" + MODEL_FILE),
        *run_dir.glob("best/*/" + MODEL_FILE),
    ]
    for path in paths:
        loaded = load_checkpoint(path, vocab=data.vocab)
        val = loaded.val_probs
        if val is None:
            val = probabilities(loaded.model, data.val)
        key = hashlib.sha1(val.argmax(1).tobytes() + np.round(val, 3).tobytes()).hexdigest()
        acc = float(np.mean(val.argmax(1) == data.val.labels))
        found.setdefault(key, (path.parent.parent.name + "/" + path.parent.name, acc, val, loaded))
    return sorted(found.values(), key=lambda t: -t[1])


def family_bests(top) -> list[str]:
    """The best of each family among the candidates (top first)."""
    seen = {}
    for name, _, _, loaded in top:
        seen.setdefault(loaded.config.train.model, name)
    return list(seen.values())


def rows(run_dir: Path) -> list[str]:
    cfg = read_config_json(run_dir / CONFIG_FILE)
    data = prepare_data(cfg.data)
    yv, yt = data.val.labels, data.test.labels
    top = trial_bests(run_dir, data)[: cfg.sweep.ensemble_candidates]
    val = {t: v for t, _, v, _ in top}
    test = {t: probabilities(c.model, data.test) for t, _, _, c in top}
    linear = fit_baseline(data, cfg.train.seed)
    val["linear"], test["linear"] = linear["val_probs"], linear["test_probs"]
    names = [t for t, _, _, _ in top]
    k, _ = choose_k([val[t] for t in names], yv)
    ens = {t: 1.0 for t in names[:k]}
    w, _ = blend_weight(combine(ens, val.__getitem__), val["linear"], yv)
    methods = {
        "best trial": {names[0]: 1.0},
        f"top-k ensemble (k={k})": ens,
        "linear": {"linear": 1.0},
        f"blend top-k + linear (w={w})": {**{t: w / k for t in ens}, "linear": 1 - w},
        "greedy, accuracy": greedy_accuracy(val, yv),
        "greedy, log loss": greedy_weights(val, yv),
        "greedy, log loss, RNNs only": greedy_weights({t: val[t] for t in names}, yv),
        "greedy, log loss, top-k + family bests + linear": greedy_weights(
            {t: val[t] for t in [*ens, *family_bests(top), "linear"]}, yv
        ),
    }
    base = test["linear"].argmax(1) == yt
    out = []
    for name, weights in methods.items():
        weights = {m: float(x) for m, x in weights.items() if x}
        v = combine(weights, val.__getitem__)
        t = combine(weights, test.__getitem__)
        right = t.argmax(1) == yt
        a, b = int(np.sum(right & ~base)), int(np.sum(base & ~right))
        out.append(
            f"| {run_dir.name} | {name} | {len(weights)} | {np.mean(v.argmax(1) == yv):.2%} | "
            f"{np.mean(right):.2%} | {log_loss(v, yv):.3f} | "
            f"{a} / {b}, p = {mcnemar_p(a, b):.2g} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(
        "| run | method | models | val | test | val log loss | vs linear: only this / only linear |"
    )
    print("|---|---|---|---|---|---|---|")
    for run_dir in args.runs:
        for line in rows(run_dir):
            print(line, flush=True)
    print(json.dumps({"runs": [str(r) for r in args.runs]}))


if __name__ == "__main__":
    main()

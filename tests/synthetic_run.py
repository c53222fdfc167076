"""A run directory as a sweep writes it, without running one: config.json, trials.jsonl (start,
one result per epoch, complete) and, for a finished run, summary.json. For tests and benchmarks
of the readers (report, live page) at sizes no test could afford to sweep."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tune.config import Config, write_config_json

FAMILIES = ("rnn", "lstm", "gru")
T0 = 1_800_000_000.0


def write_synthetic_run(
    run_dir: Path, trials: int, epochs: int = 6, finished: bool = True, seed: int = 0
) -> Path:
    """`trials` trials of up to `epochs` epochs (ASHA-like: a third stop after 1, a third after 3),
    one trial in 50 errored; learning curves rise towards a per-trial ceiling."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config.from_dict(
        {
            "train": {"epochs": epochs},
            "sweep": {
                "num_samples": trials,
                "search": {
                    "model": {"choice": list(FAMILIES)},
                    "lr": {"loguniform": [3e-4, 1e-2]},
                    "hidden_dim": {"choice": [64, 128, 256]},
                    "dropout": {"uniform": [0.0, 0.5]},
                },
            },
        }
    )
    write_config_json(cfg, run_dir / "config.json")
    lines, best = [], {}
    t = T0
    for i in range(trials):
        tid = f"{i:08x}"
        config = {
            "model": FAMILIES[i % 3],
            "lr": 10 ** rng.uniform(-3.5, -2),
            "hidden_dim": rng.choice([64, 128, 256]),
            "dropout": rng.uniform(0.0, 0.5),
        }
        record = {"trial_id": tid, "config": config}
        lines.append({"event": "start", "time": t, **record})
        ceiling = rng.uniform(0.6, 0.9)
        done = rng.choice([1, 3, epochs])
        for n in range(1, done + 1):
            t += 1.0
            acc = ceiling * (1 - 0.5**n)
            metrics = {
                "epoch": n,
                "val_acc": acc,
                "train_loss": 1.0 / n,
                "model": config["model"],
                "device": "cpu",
                "node_ip": "127.0.0.1",
                "actor_id": f"actor-{tid}",
                "epoch_s": 1.0,
                "train_samples_per_s": 1000.0,
                "parameters": 100_000,
                "cpus": 1.0,
                "error": None,
                "done": False,  # Ray's own keys, as the trial records carry them
                "training_iteration": n,
                "time_total_s": float(n),
            }
            lines.append({"event": "result", "time": t, "metrics": metrics, **record})
            family = best.get(config["model"])
            if family is None or acc > family["val_acc"]:
                best[config["model"]] = {"trial_id": tid, "config": config, "val_acc": acc}
        if i % 50 == 49:
            lines.append({"event": "error", "time": t, "error": "RuntimeError: boom", **record})
        else:
            lines.append({"event": "complete", "time": t, **record})
    with open(run_dir / "trials.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    if finished:
        by_family = {
            family: {
                **row,
                "family": family,
                "epochs": epochs,
                "checkpoint": str(run_dir / "best" / family / "model.pt"),
                "test_acc": row["val_acc"] - 0.01,
            }
            for family, row in best.items()
        }
        summary = {
            "trials": trials,
            "best": max(by_family.values(), key=lambda r: r["val_acc"]),
            "by_family": by_family,
            "test_confusion": {},
            "baselines": {"tfidf_linear_svm": {"val_acc": 0.85, "test_acc": 0.84, "n_test": 100}},
            "ensemble": None,
            "errors": {},
            "wall_s": t - T0,
        }
        (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir

"""TPE's search quality against its cost: the sweep's sampler with its bounded history (the
newest 250 finished trials and the best 25, tune/sweep/tpe_history.py) against the same sampler
shown the whole study.

    python benchmarks/tpe_history.py --trials 1500 --seeds 0 1 2 --concurrent 16

No Ray and no training: the sweep's own sampler (`make_sampler`: multivariate TPE, constant liar,
family floor) asks and is told in an in-memory Optuna study, `--concurrent` trials in flight
(each ask sees the others running, as in a sweep), on the driver benchmark's 7-parameter space.
The value told is a synthetic validation accuracy: a smooth surface with its optimum inside the
space, interactions between family, pooling and learning rate, and noise of 0.5 points, so
that a lucky draw can look best. Printed per seed and per history, on the surface without its
noise: the worth of the trial the search would pick (its best told value) at several trial
counts, the mean worth of the last 500 trials (how well the search still exploits), and the ms
per ask over the first and the last 200 asks. The surface's top is 91.5.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
from optuna.distributions import CategoricalDistribution, FloatDistribution  # noqa: E402

from tune.sweep.optuna_search import make_sampler  # noqa: E402

FAMILIES = ["rnn", "lstm", "gru"]
SPACE = {
    "model": CategoricalDistribution(FAMILIES),
    "lr": FloatDistribution(3e-4, 1e-2, log=True),
    "embed_dim": CategoricalDistribution([64, 128, 256]),
    "hidden_dim": CategoricalDistribution([64, 128, 256]),
    "dropout": FloatDistribution(0.0, 0.5),
    "word_dropout": FloatDistribution(0.1, 0.5),
    "pooling": CategoricalDistribution(["last", "mean", "max"]),
}
FAMILY = {"rnn": 0.0, "lstm": 0.03, "gru": 0.028}
POOLING = {"last": 0.0, "mean": 0.01, "max": 0.015}


def accuracy(p: dict) -> float:
    """The surface without noise: what a trial's settings are worth."""
    best_lr = 4e-3 if p["model"] == "rnn" else 2e-3
    acc = 0.85 + FAMILY[p["model"]] + POOLING[p["pooling"]]
    acc += 0.02 if (p["model"] == "rnn" and p["pooling"] == "max") else 0.0
    acc -= 0.05 * math.log10(p["lr"] / best_lr) ** 2
    acc += 0.006 * math.log2(p["embed_dim"] / 64) + 0.008 * (p["hidden_dim"] >= 128)
    acc -= 0.2 * (p["dropout"] - 0.22) ** 2 + 0.15 * (p["word_dropout"] - 0.27) ** 2
    return acc


def run(seed: int, trials: int, concurrent: int, whole: bool) -> dict:
    sampler = make_sampler(trials, FAMILIES, seed)
    if whole:  # FamilyFloorSampler(RecentHistorySampler(TPE)) -> FamilyFloorSampler(TPE)
        sampler.base = sampler.base.base
    study = optuna.create_study(direction="maximize", sampler=sampler)
    rng = random.Random(seed)
    in_flight: deque = deque()
    ask_ms, values, worth = [], [], []
    while len(values) < trials:
        while len(in_flight) < concurrent and len(values) + len(in_flight) < trials:
            start = time.perf_counter()
            in_flight.append(study.ask(SPACE))
            ask_ms.append((time.perf_counter() - start) * 1000)
        trial = in_flight.popleft()
        worth.append(accuracy(trial.params))
        values.append(worth[-1] + rng.gauss(0.0, 0.005))
        study.tell(trial, values[-1])
    marks = [m for m in (250, 500, 1000, 2000, 5000) if m < trials] + [trials]
    chosen = {m: max(range(m), key=values.__getitem__) for m in marks}
    return {
        "best": {m: worth[i] for m, i in chosen.items()},
        "last_500_mean": statistics.fmean(worth[-500:]),
        "ask_ms": (statistics.fmean(ask_ms[:200]), statistics.fmean(ask_ms[-200:])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--concurrent", type=int, default=16)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for seed in args.seeds:
        for whole in (True, False):
            out = run(seed, args.trials, args.concurrent, whole)
            best = "  ".join(f"@{m}: {100 * v:.2f}" for m, v in out["best"].items())
            first, last = out["ask_ms"]
            print(
                f"seed {seed}  {'whole history ' if whole else 'bounded (250+25)'}  best {best}"
                f"  last-500 mean {100 * out['last_500_mean']:.2f}"
                f"  ask {first:.1f} -> {last:.1f} ms",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

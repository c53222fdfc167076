"""Headless matplotlib figures, returned as PNG bytes so reports can embed or save them."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"rnn": "tab:blue", "lstm": "tab:orange", "gru": "tab:green"}


def _color(family: str) -> str:
    return COLORS.get(family.split(" ")[0], "tab:gray")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def learning_curves(epochs: pd.DataFrame, trials: pd.DataFrame, top: int = 8) -> bytes:
    """Validation accuracy per epoch of the top trials."""
    fig, ax = plt.subplots(figsize=(7, 4))
    best = trials.dropna(subset=["best_val_acc"]).nlargest(top, "best_val_acc")
    for _, trial in best.iterrows():
        curve = epochs[(epochs["run"] == trial["run"]) & (epochs["trial_id"] == trial["trial_id"])]
        ax.plot(curve["epoch"], curve["val_acc"], marker="o", color=_color(trial["family"]),
                label=f"{trial['family']} {trial['trial_id']}")
    ax.set(xlabel="epoch", ylabel="validation accuracy", title=f"Learning curves (top {len(best)} trials)")
    ax.legend(fontsize=7)
    return _png(fig)


def accuracy_vs_lr(trials: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 4))
    for family, group in trials.dropna(subset=["best_val_acc"]).groupby("family"):
        ax.scatter(group["lr"].astype(float), group["best_val_acc"], color=_color(family), label=family, alpha=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="best validation accuracy", title="Accuracy against learning rate")
    ax.legend()
    return _png(fig)


def best_so_far(epochs: pd.DataFrame) -> bytes:
    """Best validation accuracy seen so far against wall time since each run's first report."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for run, group in epochs.groupby("run"):
        group = group.sort_values("time")
        ax.step(group["time"] - group["time"].min(), group["val_acc"].cummax(), where="post", label=run)
    ax.set(xlabel="seconds since first result", ylabel="best validation accuracy so far", title="Best so far against wall time")
    ax.legend(fontsize=7)
    return _png(fig)


def parallel_coordinates(trials: pd.DataFrame) -> bytes:
    """Each trial as a line across its (normalized) hyperparameters, ending at its accuracy."""
    columns = [c for c in ("lr", "embed_dim", "hidden_dim", "num_layers", "dropout", "batch_size") if trials[c].nunique() > 1]
    columns.append("best_val_acc")
    done = trials.dropna(subset=["best_val_acc"])
    values = done[columns].astype(float).copy()
    if "lr" in values:
        values["lr"] = np.log10(values["lr"])
    span = (values.max() - values.min()).replace(0, 1)
    norm = (values - values.min()) / span
    fig, ax = plt.subplots(figsize=(8, 4))
    for (_, row), family in zip(norm.iterrows(), done["family"]):
        ax.plot(range(len(columns)), row.values, color=_color(family), alpha=0.6)
    ax.set_xticks(range(len(columns)), ["log10 lr" if c == "lr" else c for c in columns])
    ax.set(ylabel="normalized value", title="Parallel coordinates (colour: family)")
    for family in done["family"].unique():
        ax.plot([], [], color=_color(family), label=family)
    ax.legend(fontsize=7)
    return _png(fig)

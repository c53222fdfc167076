"""Comparison tables (pandas) from trial rows: leaderboard, families, hyperparameter effects, test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LEADERBOARD_COLUMNS = ["run", "trial_id", "family", "lr", "embed_dim", "hidden_dim", "num_layers", "dropout", "pooling",
                       "batch_size", "best_val_acc", "final_val_acc", "epochs", "status"]


def leaderboard(trials: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Top trials by best validation accuracy (ties: fewer epochs first)."""
    ranked = trials.dropna(subset=["best_val_acc"]).sort_values(["best_val_acc", "epochs"], ascending=[False, True])
    return ranked[[c for c in LEADERBOARD_COLUMNS if c in ranked]].head(top).reset_index(drop=True)


def family_comparison(trials: pd.DataFrame, test_acc: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Per run and family: best/median/spread of best val_acc, test_acc of the family's best, counts, speed, size.

    `test_acc` maps (run, family) to the test accuracy of that family's best checkpoint.
    """
    rows = []
    for (run, family), group in trials.groupby(["run", "family"], sort=True):
        acc = group["best_val_acc"].dropna()
        best = group.loc[acc.idxmax()] if len(acc) else None
        rows.append({
            "run": run, "family": family, "best_val_acc": acc.max() if len(acc) else np.nan,
            "median_val_acc": acc.median() if len(acc) else np.nan, "std_val_acc": acc.std(ddof=0) if len(acc) else np.nan,
            "test_acc_of_best": test_acc.get((run, family.replace(" (seed)", "")), np.nan),
            "trials": len(group), "stopped_early": int(group["stopped_early"].sum()), "errored": int((group["status"] == "errored").sum()),
            "mean_s_per_epoch": group["s_per_epoch"].mean(),
            "parameters_of_best": best["parameters"] if best is not None else None,
        })
    return pd.DataFrame(rows)


def lr_bins(lr: pd.Series) -> pd.Series:
    """Learning rates binned by decade halves (1e-3, 3e-3, 1e-2, ...) so the table reads on a log scale."""
    edges = sorted({v * 10.0 ** e for e in range(-7, 2) for v in (1, 3)})
    return pd.cut(lr, bins=edges)


def hyperparameter_effects(trials: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Best and mean best val_acc by binned lr, embed_dim and hidden_dim, per family."""
    done = trials.dropna(subset=["best_val_acc"]).copy()
    done["lr_bin"] = lr_bins(done["lr"].astype(float)).astype(str)
    tables = {}
    for key, column in (("lr", "lr_bin"), ("embed_dim", "embed_dim"), ("hidden_dim", "hidden_dim")):
        table = (done.groupby(["family", column], observed=True)["best_val_acc"]
                 .agg(trials="count", mean_val_acc="mean", best_val_acc="max").reset_index())
        tables[key] = table.rename(columns={column: key})
    return tables


def per_class_accuracy(class_names: list[str], matrix: list[list[int]]) -> pd.DataFrame:
    m = np.asarray(matrix)
    support = m.sum(axis=1)
    return pd.DataFrame({"class": class_names, "accuracy": np.divide(np.diag(m), support, out=np.zeros(len(m)), where=support > 0),
                         "support": support})


def confusion_table(class_names: list[str], matrix: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=pd.Index(class_names, name="true \\ predicted"), columns=class_names)


def best_test_results(summary: dict[str, Any] | None) -> tuple[str, list[str], list[list[int]]] | None:
    """(family, class names, confusion matrix) of the run's best model on the test split, if scored."""
    if not summary or not summary.get("best"):
        return None
    family = summary["best"]["family"]
    confusion = summary.get("test_confusion", {}).get(family)
    return (family, confusion["class_names"], confusion["matrix"]) if confusion else None

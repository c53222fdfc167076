"""Comparison tables (pandas) from trial rows: leaderboard, families, costs, test results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from results.load import HYPERPARAMETERS
from results.stats import wilson_interval

SEARCHABLE = ("lr", *(h for h in HYPERPARAMETERS if h not in ("model", "lr")))
MIN_TRIALS_FOR_EFFECTS = 5


def varied(trials: pd.DataFrame) -> list[str]:
    """The hyperparameters that took more than one value in these trials (the searched ones)."""
    return [c for c in SEARCHABLE if c in trials and trials[c].astype(str).nunique() > 1]


def leaderboard(trials: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Top trials by best validation accuracy (ties: fewer epochs first), with the settings that
    varied.

    The few columns that decide a choice; everything else is in trials.csv.
    """
    ranked = trials.dropna(subset=["best_val_acc"]).sort_values(
        ["best_val_acc", "epochs"], ascending=[False, True]
    )
    columns = (["run"] if trials["run"].nunique() > 1 else []) + [
        "trial_id",
        "family",
        *varied(trials),
        "best_val_acc",
        "epochs",
        "status",
    ]
    board = ranked[columns].head(top).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board


BASELINE_LABELS = {"tfidf_linear_svm": "TF-IDF + linear SVM"}


def baseline_label(name: str) -> str:
    return BASELINE_LABELS.get(name, name) + " (baseline)"


def family_comparison(
    trials: pd.DataFrame,
    test_acc: dict[tuple[str, str], float],
    test_n: dict[tuple[str, str], int] | None = None,
    others: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Per run and family: trials and outcomes, best/median best val_acc, test_acc of the family's
    best; then each run's ensemble and baselines (fitted on the same splits), so the table answers
    "did tuning pay off?".

    `test_acc` maps (run, family) to the test accuracy of that family's best checkpoint; `test_n`
    to the number of test rows behind it (for the 95% interval); `others` maps (run, row label) to
    a record with val_acc, test_acc and n_test (summary.json's ensemble and baselines).
    """
    rows: list[dict[str, Any]] = []
    for (run, family), group in trials.groupby(["run", "family"], sort=True):
        acc = group["best_val_acc"].dropna()
        key = (run, family.replace(" (seed)", ""))
        test = test_acc.get(key, np.nan)
        n = (test_n or {}).get(key, 0)
        low, high = wilson_interval(test, n) if n and not pd.isna(test) else (np.nan, np.nan)
        rows.append(
            {
                "run": run,
                "family": family,
                "trials": len(group),
                "epochs_trained": int(group["epochs"].sum()),
                "stopped_early": int(group["stopped_early"].sum()),
                "errored": int((group["status"] == "errored").sum()),
                "best_val_acc": acc.max() if len(acc) else np.nan,
                "median_val_acc": acc.median() if len(acc) else np.nan,
                "test_acc_of_best": test,
                "test_95_ci": "" if pd.isna(low) else f"{low:.1%}–{high:.1%}",
            }
        )
    for (run, label), record in (others or {}).items():
        n = int(record.get("n_test") or 0)
        low, high = wilson_interval(record["test_acc"], n) if n else (np.nan, np.nan)
        rows.append(
            {
                "run": run,
                "family": label,
                "trials": "—",
                "epochs_trained": "—",
                "stopped_early": "—",
                "errored": "—",
                "best_val_acc": record["val_acc"],
                "median_val_acc": np.nan,
                "test_acc_of_best": record["test_acc"],
                "test_95_ci": "" if pd.isna(low) else f"{low:.1%}–{high:.1%}",
            }
        )
    frame = pd.DataFrame(rows)
    return frame.drop(columns=["run"]) if trials["run"].nunique() <= 1 else frame


def family_costs(trials: pd.DataFrame) -> pd.DataFrame:
    """Per run and family: speed and size (the columns the main family table leaves out)."""
    rows = []
    for (run, family), group in trials.groupby(["run", "family"], sort=True):
        acc = group["best_val_acc"].dropna()
        best = group.loc[acc.idxmax()] if len(acc) else None
        rows.append(
            {
                "run": run,
                "family": family,
                "mean_s_per_epoch": group["s_per_epoch"].mean(),
                "mean_train_samples_per_s": group["train_samples_per_s"].mean(),
                "parameters_of_best": best["parameters"] if best is not None else None,
                "std_val_acc": acc.std(ddof=0) if len(acc) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def effect_families(trials: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(families with enough finished trials to read hyperparameter effects from, the others)."""
    counts = trials.dropna(subset=["best_val_acc"]).groupby("family").size()
    enough = sorted(f for f, n in counts.items() if n >= MIN_TRIALS_FOR_EFFECTS)
    return enough, sorted(f for f in counts.index if f not in enough)


def per_class_accuracy(class_names: list[str], matrix: list[list[int]]) -> pd.DataFrame:
    m = np.asarray(matrix)
    support = m.sum(axis=1)
    return pd.DataFrame(
        {
            "class": class_names,
            "accuracy": np.divide(np.diag(m), support, out=np.zeros(len(m)), where=support > 0),
            "support": support,
        }
    )


def confusion_table(class_names: list[str], matrix: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(
        matrix, index=pd.Index(class_names, name="true \\ predicted"), columns=class_names
    )


def best_test_results(
    summary: dict[str, Any] | None,
) -> tuple[str, list[str], list[list[int]]] | None:
    """(family, class names, confusion matrix) of the run's best model on test, if scored."""
    if not summary or not summary.get("best"):
        return None
    family = summary["best"]["family"]
    confusion = summary.get("test_confusion", {}).get(family)
    return (family, confusion["class_names"], confusion["matrix"]) if confusion else None


FINAL_OPTION_LABELS = {
    "trial": "best single trial",
    "ensemble": "ensemble of the top trials",
    "linear": "linear model (TF-IDF + linear SVM, calibrated)",
    "blend": "blend: ensemble + linear model",
    "greedy": "greedy weighted ensemble",
}


def final_options(summary: dict[str, Any] | None) -> pd.DataFrame | None:
    """The final model's options (summary.json's `final.options`), one row each: validation
    accuracy and log loss (the final model's is the lowest, unless the paired test chose), test
    accuracy, the gap, and the paired test against the chosen one on the same test rows."""
    final = (summary or {}).get("final")
    if not final or not final.get("options"):
        return None
    rows = []
    for o in final["options"]:
        vs = o["vs_final"]
        rows.append(
            {
                "option": FINAL_OPTION_LABELS.get(o["kind"], o["kind"]),
                "final": "yes" if o.get("chosen") else "",
                "models": len(o["members"]) if isinstance(o["members"], list) else o["members"],
                "val_acc": o["val_acc"],
                "val_loss": o.get("val_loss"),
                "test_acc": o["test_acc"],
                "val_minus_test": o["val_acc"] - o["test_acc"],
                "only_here": vs["option_only_right"],
                "only_final": vs["final_only_right"],
                "p_value": vs["p_value"],
            }
        )
    return pd.DataFrame(rows)


def serving_costs(summary: dict[str, Any] | None) -> pd.DataFrame | None:
    """What each final-model option and each family's best trial (`option`: the name
    `rnn-tune predict --option` takes) costs to serve beside its test accuracy (and 95%
    interval): latency per request at batch 1 on one thread (median and 95th percentile), rows
    per second in batches, the MB `predict` loads, parameters. None for runs from before the
    costs were measured."""
    summary = summary or {}
    final = summary.get("final") or {}
    n = final.get("n_test") or 0
    entries = [(o["kind"], o.get("chosen"), o) for o in final.get("options", [])]
    entries += [
        (family, False, row) for family, row in sorted(summary.get("by_family", {}).items())
    ]
    rows = []
    for option, chosen, entry in entries:
        cost = entry.get("cost")
        if not cost:
            continue
        low, high = wilson_interval(entry["test_acc"], n) if n else (None, None)
        rows.append(
            {
                "option": option,
                "final": "yes" if chosen else "",
                "test_acc": entry["test_acc"],
                "test_95ci": f"{low:.1%}–{high:.1%}" if n else "",
                "latency_ms_p50": cost["latency_ms_p50"],
                "latency_ms_p95": cost["latency_ms_p95"],
                "rows_per_s": round(cost["rows_per_s"]),
                "size_mb": cost["size_mb"],
                "parameters": cost["parameters"],
            }
        )
    return pd.DataFrame(rows) if rows else None


def pareto_front(latency: list[float], accuracy: list[float]) -> list[bool]:
    """Which points no other point beats on both: as fast or faster and at least as accurate,
    better on one."""
    return [
        not any(
            lo <= lat and acc_o >= acc and (lo < lat or acc_o > acc)
            for lo, acc_o in zip(latency, accuracy)
        )
        for lat, acc in zip(latency, accuracy)
    ]


def search_points(trials: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
    """The trials that measured latency_ms (a `--objective accuracy,latency` run) and which of
    them no other trial beats on both best validation accuracy and latency_ms."""
    if "latency_ms" not in trials:
        return trials.iloc[0:0], []
    measured = trials.dropna(subset=["best_val_acc", "latency_ms"]).reset_index(drop=True)
    return measured, pareto_front(list(measured["latency_ms"]), list(measured["best_val_acc"]))


def search_front(trials: pd.DataFrame) -> pd.DataFrame | None:
    """The trials on the search's accuracy-latency front (latency_ms: the model's latency per
    request, measured in the trial), fastest first, with the settings that varied. None for runs
    whose trials measured no latency."""
    measured, on_front = search_points(trials)
    if not len(measured):
        return None
    columns = ["trial_id", "family", *varied(trials), "best_val_acc", "latency_ms", "epochs"]
    return measured[on_front][columns].sort_values("latency_ms").reset_index(drop=True)


def vectors_used(config: dict[str, Any], trials: pd.DataFrame) -> pd.DataFrame | None:
    """The pre-trained vectors a run read (file, SHA-256, vocab words found) and, beside each and
    beside training the embedding from scratch ("none") where the search tried that too, the
    trials and their best and median validation accuracy: vectors against none, on this run.
    None when the run used no vectors (runs from before vector_files list the name alone)."""
    train = config.get("train", {})
    fixed = train.get("vectors")
    files = train.get("vector_files") or ({fixed: {}} if fixed else {})  # older runs: the name
    if not files:
        return None
    column = trials["vectors"] if "vectors" in trials else pd.Series(None, index=trials.index)
    used = column.where(column.notna(), fixed if fixed else "none").astype(str)
    names = [*files, *(["none"] if (used == "none").any() else [])]
    rows = []
    for name in names:
        mine = trials[used == name]
        record = files.get(name, {})
        rows.append(
            {
                "vectors": name,
                "dim": record.get("dim"),
                "words_found": (
                    f"{record['words_found']:,} of {record['vocab_size']:,}" if record else ""
                ),
                "sha256": record.get("sha256", "")[:12],
                "trials": len(mine),
                "best_val_acc": mine["best_val_acc"].max() if len(mine) else np.nan,
                "median_val_acc": mine["best_val_acc"].median() if len(mine) else np.nan,
            }
        )
    return pd.DataFrame(rows)

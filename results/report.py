"""report.md, a self-contained report.html (plots embedded) and trials.csv from one or more runs."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from data.files import atomic_write_bytes, atomic_write_text
from results import plots, tables
from results.load import Run, load_run


def write_report(run_dirs: list[Path], out: Path, importances: dict[str, dict[str, float]] | None = None) -> dict[str, Path]:
    """Write the three report files into `out`; `importances` maps run name to Optuna's importances."""
    runs = [load_run(d) for d in run_dirs]
    out.mkdir(parents=True, exist_ok=True)
    sections = build_sections(runs, importances or {})
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    atomic_write_text(out / "trials.csv", trials.to_csv(index=False))
    figures = build_figures(runs)
    for name, png in figures.items():
        atomic_write_bytes(out / f"{name}.png", png)
    title = "rnn-tune report: " + ", ".join(r.name for r in runs)
    atomic_write_text(out / "report.md", _markdown(title, sections, figures))
    atomic_write_text(out / "report.html", _html(title, sections, figures))
    return {"md": out / "report.md", "html": out / "report.html", "csv": out / "trials.csv"}


def build_sections(runs: list[Run], importances: dict[str, dict[str, float]]) -> list[tuple[str, str, Any]]:
    """(title, note, table or text) in reading order."""
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    test_acc = {(r.name, fam): best["test_acc"] for r in runs if r.summary for fam, best in r.summary["by_family"].items()}
    sections: list[tuple[str, str, Any]] = []
    for r in runs:
        state = "finished" if r.summary else "in progress or interrupted (no summary.json yet)"
        counts = r.trials["status"].value_counts().to_dict()
        sections.append((f"Run {r.name}", f"{state}; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), None))
    sections.append(("Leaderboard", "Top trials by best validation accuracy.", tables.leaderboard(trials)))
    sections.append(("Model families", "RNN vs LSTM vs GRU (and the notebook's seed baseline when present); "
                     "test accuracy is scored once, on each family's best checkpoint.", tables.family_comparison(trials, test_acc)))
    for key, table in tables.hyperparameter_effects(trials).items():
        sections.append((f"Effect of {key}", "Best validation accuracy per trial, grouped.", table))
    for run, values in importances.items():
        if values:
            frame = pd.DataFrame({"parameter": list(values), "importance": list(values.values())})
            sections.append((f"Optuna parameter importances ({run})", "fANOVA importances of the sampled parameters.", frame))
    for r in runs:
        best = tables.best_test_results(r.summary)
        if best:
            family, names, matrix = best
            sections.append((f"Best model on the test split ({r.name}: {family})", "Per-class accuracy.",
                             tables.per_class_accuracy(names, matrix)))
            sections.append(("Confusion matrix", "Rows: true class; columns: predicted.", tables.confusion_table(names, matrix)))
    failed = trials[trials["status"] == "errored"]
    if len(failed):
        sections.append(("Failed trials", "Trials that crashed past their retries or whose loss became NaN/inf.",
                         failed[["run", "trial_id", "family", "lr", "epochs", "error"]]))
    return sections


def build_figures(runs: list[Run]) -> dict[str, bytes]:
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    epochs = pd.concat([r.epochs for r in runs], ignore_index=True)
    if trials["best_val_acc"].notna().sum() == 0:
        return {}
    return {"learning_curves": plots.learning_curves(epochs, trials), "accuracy_vs_lr": plots.accuracy_vs_lr(trials),
            "best_so_far": plots.best_so_far(epochs), "parallel_coordinates": plots.parallel_coordinates(trials)}


def _fmt(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    for column in shown.columns:
        if "acc" in str(column):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2%}")
        elif column == "importance":
            shown[column] = shown[column].map(lambda v: f"{v:.3f}")
        elif column == "lr" and shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{float(v):.2e}")
        elif shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    return shown


def _md_table(frame: pd.DataFrame) -> str:
    shown = _fmt(frame).reset_index() if frame.index.name else _fmt(frame)
    header = "| " + " | ".join(map(str, shown.columns)) + " |\n|" + "---|" * len(shown.columns) + "\n"
    return header + "".join("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |\n" for row in shown.itertuples(index=False))


def _markdown(title: str, sections, figures: dict[str, bytes]) -> str:
    parts = [f"# {title}\n"]
    for heading, note, table in sections:
        parts.append(f"## {heading}\n\n{note}\n")
        if table is not None:
            parts.append(_md_table(table))
    parts.append("## Plots\n")
    parts += [f"![{name}]({name}.png)\n" for name in figures]
    return "\n".join(parts)


def _html(title: str, sections, figures: dict[str, bytes]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, note, table in sections:
        body.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(note)}</p>")
        if table is not None:
            body.append('<div class="scroll">' + _fmt(table).to_html(index=bool(table.index.name), border=0, classes="t", na_rep="") + "</div>")
    body.append("<h2>Plots</h2>")
    for name, png in figures.items():
        body.append(f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                    f"<figcaption>{name.replace('_', ' ')}</figcaption></figure>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table.t{border-collapse:collapse;font-size:13px;margin-bottom:1em}table.t td,table.t th{padding:3px 8px;"
             "border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}.scroll{overflow-x:auto}img{max-width:100%}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")

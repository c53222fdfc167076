"""report.md, a self-contained report.html (plots embedded) and trials.csv from one or more runs.

The report answers first (the headline: what won, how good on test, against what, at what cost),
then shows the few columns that decide a choice; everything else is in trials.csv.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from base.files import atomic_write_bytes, atomic_write_text
from base.run_dir import EFFECTS_PNG, REPORT_HTML, REPORT_MD, TRIALS_CSV
from results import plots, tables
from results.headline import headline, seed_baseline_line, test_size
from results.limits import rechoose
from results.load import Run, load_run, run_names

Section = tuple[str, str, Any]  # (heading, note, table or None)


@dataclass(frozen=True)
class Trade:
    """An accuracy-against-latency figure: its heading, what it shows, its PNG's file name."""

    heading: str
    note: str
    png_name: str
    figure: plots.EffectsFigure


@dataclass(frozen=True)
class Page:
    """What the report says, before it is written as Markdown or HTML."""

    title: str
    lines: list[str]  # the headline
    main: list[Section]
    details: list[Section]
    effects_note: str
    effects: plots.EffectsFigure | None
    figures: dict[str, bytes]  # curve name -> PNG
    trades: list[Trade]  # accuracy against latency


def write_report(
    run_dirs: list[Path],
    out: Path,
    importances: dict[str, dict[str, Any]] | None = None,
    limits: tuple[float | None, float | None] = (None, None),
) -> dict[str, Path]:
    """Write the report files into `out`.

    `importances` maps a run's name to {"n_trials": N, "importances": {param: (mean, std)}}.
    `limits`: (max latency ms, max size MB): each run's final model chosen again under them
    (results/limits.py), without training anything.
    """
    runs = [load_run(d, name) for d, name in zip(run_dirs, run_names(run_dirs))]
    if limits != (None, None):
        runs = [replace(r, summary=rechoose(r.summary, *limits)) if r.summary else r for r in runs]
    out.mkdir(parents=True, exist_ok=True)
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    atomic_write_text(out / TRIALS_CSV, trials.to_csv(index=False))
    figures = build_figures(runs)
    effects_note, effects = build_effects(trials)
    for name, png in figures.items():
        atomic_write_bytes(out / f"{name}.png", png)
    if effects:
        atomic_write_bytes(out / EFFECTS_PNG, effects.png)
    main, details = build_sections(runs, importances or {})
    trades = build_trades(runs)
    for trade in trades:
        atomic_write_bytes(out / trade.png_name, trade.figure.png)
    page = Page(
        "rnn-tune report: " + ", ".join(r.name for r in runs),
        headline_lines(runs),
        main,
        details,
        effects_note,
        effects,
        figures,
        trades,
    )
    atomic_write_text(out / REPORT_MD, _markdown(page))
    atomic_write_text(out / REPORT_HTML, _html(page))
    return {"md": out / REPORT_MD, "html": out / REPORT_HTML, "csv": out / TRIALS_CSV}


def headline_lines(runs: list[Run]) -> list[str]:
    lines = []
    for run in runs:
        if len(runs) > 1:
            lines.append(f"*Run {run.name}:*")
        lines += headline(run)
    seed = seed_baseline_line(runs) if len(runs) > 1 else None
    return lines + ([seed] if seed else [])


def build_sections(
    runs: list[Run], importances: dict[str, dict[str, Any]]
) -> tuple[list[Section], list[Section]]:
    """(main sections in reading order, details for the collapsible part)."""
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    test_acc, test_n, others = {}, {}, {}
    for r in runs:
        for family, best in (r.summary or {}).get("by_family", {}).items():
            test_acc[(r.name, family)] = best["test_acc"]
            test_n[(r.name, family)] = test_size(r.summary, family)
        ensemble = (r.summary or {}).get("ensemble")
        if ensemble:
            others[(r.name, f"ensemble of the top {ensemble['k']}")] = ensemble
        for name, record in (r.summary or {}).get("baselines", {}).items():
            others[(r.name, tables.baseline_label(name))] = record
    main: list[Section] = [
        (
            "Leaderboard",
            "Top trials by best validation accuracy, with the settings that were searched.",
            tables.leaderboard(trials),
        ),
        (
            "Model families",
            "RNN vs LSTM vs GRU (and the notebook's seed baseline when present): best and median "
            "validation accuracy over a family's trials; test accuracy is scored once, on each "
            "family's best checkpoint, with its 95% interval. Then the ensemble of the top trials "
            "(k chosen on validation) and the baseline: a simple model fitted on the same splits, "
            "its settings chosen on validation only. epochs_trained: how the budget was spread.",
            tables.family_comparison(trials, test_acc, test_n, others),
        ),
    ]
    main += _per_run(
        runs,
        "Pre-trained vectors",
        "The word vectors that started the embeddings (read once per run; sha256: the file's "
        "first 12 hex digits; words_found: vocab words the file holds, the rest start random), "
        "and beside each, and beside none where the search trained embeddings from scratch too, "
        "its trials' validation accuracy.",
        lambda r: tables.vectors_used(r.config, r.trials),
    )
    main += _per_run(
        runs,
        "Final model",
        "The options the run compared on validation only, the simpler first; the lowest "
        "validation log loss is the final model, unless the paired test (McNemar, same test "
        "rows) finds another significantly better. Each is scored once on test; val_minus_test "
        "shows how much choosing on validation flattered it. only_here / only_final: test rows "
        "only this option, or only the final model, gets right.",
        lambda r: tables.final_options(r.summary),
    )
    main += _per_run(
        runs,
        "Serving cost",
        "What each option and each family's best trial costs to serve, measured at the end of "
        "the run on validation texts: latency per request at batch 1 on one thread, "
        "tokenization included (median and 95th percentile), rows per second in batches, the "
        "MB `rnn-tune predict` loads. The figures move with the machine (the headline names "
        "it). option: serve it with `rnn-tune predict RUN_DIR --option NAME` (rnn, lstm, gru: "
        "that family's best trial).",
        lambda r: tables.serving_costs(r.summary),
    )
    main += _per_run(
        runs,
        "Search trade",
        "The search weighed validation accuracy against latency (--objective accuracy,latency): "
        "the trials no other trial beats on both, fastest first. latency_ms: the model alone "
        "scoring one request at a time on one thread, measured in the trial while others ran "
        "(tokenization left out: it costs every trial the same), so read it as a ranking; the "
        "serving costs above are measured alone.",
        lambda r: tables.search_front(r.trials),
    )
    for run, found in importances.items():
        values = found.get("importances") or {}
        if values:
            frame = pd.DataFrame(
                {
                    "parameter": list(values),
                    "importance": [m for m, _ in values.values()],
                    "spread": [s for _, s in values.values()],
                }
            )
            main.append(
                (
                    f"Hyperparameter importance ({run})",
                    f"Optuna's importances (PED-ANOVA) from {found['n_trials']} finished trials; "
                    "spread: their standard deviation over 20 bootstrap resamples of those trials."
                    + (
                        " Few trials: read as a hint, not a finding."
                        if found["n_trials"] < 20
                        else ""
                    ),
                    frame,
                )
            )
    for r in runs:
        best = tables.best_test_results(r.summary)
        if best:
            family, names, matrix = best
            main.append(
                (
                    f"Best model on the test split ({r.name}: {family})",
                    "Per-class accuracy.",
                    tables.per_class_accuracy(names, matrix),
                )
            )
            main.append(
                (
                    "Confusion matrix",
                    "Rows: true class; columns: predicted.",
                    tables.confusion_table(names, matrix),
                )
            )
    failed = trials[trials["status"] == "errored"]
    if len(failed):
        main.append(
            (
                "Failed trials",
                "Trials that crashed past their retries or whose loss became NaN/inf.",
                failed[["trial_id", "family", "epochs", "error"]],
            )
        )
    details: list[Section] = [
        (
            "Speed and size per family",
            "Mean seconds per epoch and training samples/s over a family's trials, the "
            "parameter count of its best trial and the spread of best validation accuracy.",
            tables.family_costs(trials),
        ),
    ]
    return main, details


TRADE_TITLE = "Test accuracy against latency per request"
SEARCH_TRADE_TITLE = "What the search found: validation accuracy against latency"


def build_trades(runs: list[Run]) -> list[Trade]:
    """Per run: the serving costs' figure where they were measured, and the trials' where the
    search weighed latency (`--objective accuracy,latency`)."""
    out = []
    for i, r in enumerate(runs):
        suffix = f" ({r.name})" if len(runs) > 1 else ""
        number = "" if len(runs) == 1 else f"-{i + 1}"
        costs = tables.serving_costs(r.summary)
        if costs is not None:
            pareto = tables.pareto_front(list(costs["latency_ms_p50"]), list(costs["test_acc"]))
            out.append(
                Trade(
                    TRADE_TITLE + suffix,
                    "Each final-model option and family best, as measured at the end of the run.",
                    f"serving{number}.png",
                    plots.serving_trade(costs, pareto),
                )
            )
        measured, pareto = tables.search_points(r.trials)
        if len(measured):
            out.append(
                Trade(
                    SEARCH_TRADE_TITLE + suffix,
                    f"Every trial of the search ({len(measured)}); Optuna weighed both, and "
                    f"{sum(pareto)} trials are on the front (the table 'Search trade' lists them).",
                    f"search_trade{number}.png",
                    plots.search_trade(measured, pareto),
                )
            )
    return out


def build_effects(trials: pd.DataFrame) -> tuple[str, plots.EffectsFigure | None]:
    keys = tables.varied(trials)
    enough, few = tables.effect_families(trials)
    note = (
        f"Families with fewer than {tables.MIN_TRIALS_FOR_EFFECTS} finished trials are left out; "
        f"too few to read an effect from: {', '.join(few)}."
        if few
        else ""
    )
    if not keys or not enough:
        return (note or "No searched setting varied across trials.") if keys or few else "", None
    return note, plots.effects(trials, keys, enough)


def build_figures(runs: list[Run]) -> dict[str, bytes]:
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    epochs = pd.concat([r.epochs for r in runs], ignore_index=True)
    if trials["best_val_acc"].notna().sum() == 0:
        return {}
    return {
        "learning_curves": plots.learning_curves(epochs, trials),
        "best_so_far": plots.best_so_far(epochs),
    }


def _fmt(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    for column in shown.columns:
        if "acc" in str(column) or column == "val_minus_test":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2%}")
        elif column in ("importance", "spread", "val_loss"):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        elif column == "lr" and shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{float(v):.2e}")
        elif shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    return shown


def _md_table(frame: pd.DataFrame) -> str:
    shown = _fmt(frame).reset_index() if frame.index.name else _fmt(frame)
    header = (
        "| " + " | ".join(map(str, shown.columns)) + " |\n|" + "---|" * len(shown.columns) + "\n"
    )
    cells = (
        "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |\n"
        for row in shown.itertuples(index=False)
    )
    return header + "".join(cells)


def _per_run(
    runs: list[Run], heading: str, note: str, table_of: Callable[[Run], pd.DataFrame | None]
) -> list[Section]:
    """A section per run that has the table; the run's name in the heading when there are
    several."""
    return [
        (f"{heading} ({r.name})" if len(runs) > 1 else heading, note, table)
        for r in runs
        if (table := table_of(r)) is not None
    ]


def _markdown(page: Page) -> str:
    title, lines, main, details = page.title, page.lines, page.main, page.details
    effects_note, effects, figures = page.effects_note, page.effects, page.figures
    parts = [f"# {title}\n", "\n".join(f"- {line}" for line in lines) + "\n"]
    for heading, note, table in main:
        parts.append(f"## {heading}\n\n{note}\n")
        if table is not None:
            parts.append(_md_table(table))
    for trade in page.trades:
        parts.append(f"## {trade.heading}\n\n{trade.note}\n")
        parts.append(f"![{trade.heading}]({trade.png_name})\n")
    if effects or effects_note:
        parts.append("## Hyperparameter effects\n")
        parts.append((effects_note + "\n") if effects_note else "")
        if effects:
            parts.append(
                f"![Best validation accuracy against each searched setting]({EFFECTS_PNG})\n"
            )
    parts.append("## Curves\n")
    parts += [f"![{name.replace('_', ' ')}]({name}.png)\n" for name in figures]
    for heading, note, table in details:
        parts.append(f"## {heading}\n\n{note}\n")
        parts.append(_md_table(table))
    return "\n".join(parts)


def _inline(text: str) -> str:
    """The headline's Markdown (**bold**, `code`, *emphasis*) as HTML, everything else escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", out)


def _table_html(table: pd.DataFrame) -> str:
    return _fmt(table).to_html(index=bool(table.index.name), border=0, classes="t", na_rep="")


def _html(page: Page) -> str:
    title, lines, main, details = page.title, page.lines, page.main, page.details
    effects_note, effects, figures = page.effects_note, page.effects, page.figures
    body = [
        f"<h1>{html.escape(title)}</h1>",
        '<ul class="headline">' + "".join(f"<li>{_inline(line)}</li>" for line in lines) + "</ul>",
    ]
    for heading, note, table in main:
        body.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(note)}</p>")
        if table is not None:
            body.append(f'<div class="table">{_table_html(table)}</div>')
    for trade in page.trades:
        heading = html.escape(trade.heading)
        body.append(
            f"<h2>{heading}</h2><p>{html.escape(trade.note)} Hover a point for its figures; "
            "outlined points are on the Pareto front (no other is both faster and more "
            "accurate).</p>"
            f'<figure class="trade" aria-label="{heading}">{trade.figure.svg}</figure>'
        )
    if effects or effects_note:
        body.append("<h2>Hyperparameter effects</h2>")
        if effects_note:
            body.append(f"<p>{html.escape(effects_note)}</p>")
        if effects:
            body.append(
                "<p>Hover a point for its trial and settings.</p>"
                '<figure class="effects" aria-label="Best validation accuracy against each '
                'searched setting">'
                f"{effects.svg}</figure>"
            )
    body.append("<h2>Curves</h2>")
    for name, png in figures.items():
        body.append(
            f'<figure><img alt="{name.replace("_", " ")}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        )
    body.append(
        "<details><summary>More columns: speed and size per family (all columns: "
        "trials.csv)</summary>"
    )
    for heading, note, table in details:
        body.append(
            f'<h3>{html.escape(heading)}</h3><p>{html.escape(note)}</p><div class="table">'
            f"{_table_html(table)}</div>"
        )
    body.append("</details>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 "
        "1em;color:#222}"
        "ul.headline{font-size:15px;line-height:1.5;background:#f6f8fa;padding:.8em 1em .8em "
        "2em;border-radius:6px}"
        "code{font-size:12px;word-break:break-all}"
        "table.t{border-collapse:collapse;font-size:13px;margin-bottom:1em}table.t td,table.t "
        "th{padding:3px 7px;"
        "border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}.table{overflow-x:auto}"
        "img,figure svg{max-width:100%;height:auto}figure{margin:1em 0}"
    )
    return (
        "<!doctype html><html lang=en><head><meta "
        f"charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )

"""Headless matplotlib figures, returned as PNG bytes so reports can embed or save them."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter  # noqa: E402

COLORS = {"rnn": "tab:blue", "lstm": "tab:orange", "gru": "tab:green"}
HOVER_POINTS = 200  # points per panel with their own hover text: the best trials


def _color(family: str) -> str:
    return COLORS.get(family.split(" ")[0], "tab:gray")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _svg_with_tooltips(fig, tooltips: dict[str, str]) -> str:
    """The figure as inline SVG where hovering the artist with gid KEY shows tooltips[KEY]."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]

    def titled(match: re.Match) -> str:
        text = tooltips.get(match.group(1))
        return match.group(0) + (f"<title>{html.escape(text)}</title>" if text else "")

    return re.sub(r'<g id="([^"]+)">', titled, svg)  # one pass, however many points


def learning_curves(epochs: pd.DataFrame, trials: pd.DataFrame, top: int = 8) -> bytes:
    """Validation accuracy per epoch of the top trials, labelled with their leaderboard rank."""
    fig, ax = plt.subplots(figsize=(7, 4))
    best = trials.dropna(subset=["best_val_acc"]).sort_values(
        ["best_val_acc", "epochs"], ascending=[False, True]
    )
    for rank, (_, trial) in enumerate(best.head(top).iterrows(), start=1):
        curve = epochs[(epochs["run"] == trial["run"]) & (epochs["trial_id"] == trial["trial_id"])]
        ax.plot(
            curve["epoch"],
            curve["val_acc"],
            marker="o",
            color=_color(trial["family"]),
            label=f"#{rank} {trial['family']} {trial['trial_id']}",
        )
    ax.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        title=f"Learning curves (top {min(top, len(best))} trials)",
    )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)
    return _png(fig)


def best_so_far(epochs: pd.DataFrame) -> bytes:
    """Best validation accuracy seen so far against wall time since each run's first report."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for run, group in epochs.groupby("run"):
        group = group.sort_values("time")
        ax.step(
            (group["time"] - group["time"].min()) / 60,
            group["val_acc"].cummax(),
            where="post",
            label=run,
        )
    ax.set(
        xlabel="minutes since the first result",
        ylabel="best validation accuracy so far",
        title="Best so far against wall time",
    )
    ax.legend(fontsize=7)
    return _png(fig)


@dataclass(frozen=True)
class EffectsFigure:
    png: bytes
    svg: str  # the same figure with a hover tooltip per point (trial, family, settings, accuracy)


def _positions(values: pd.Series) -> tuple[np.ndarray, list[str] | None, bool]:
    """x positions for a hyperparameter's values: (x, category labels or None, log scale?)."""
    numeric = pd.to_numeric(values, errors="coerce")
    few_ints = (
        numeric.notna().all() and (numeric == numeric.round()).all() and numeric.nunique() <= 4
    )
    if (
        numeric.notna().all()
        and values.map(lambda v: not isinstance(v, bool)).all()
        and not few_ints
    ):
        positive = (numeric > 0).all()
        return numeric.to_numpy(float), None, bool(values.name == "lr" and positive)
    if few_ints:
        labels = [str(int(v)) for v in sorted(numeric.unique())]
        return numeric.map(lambda v: labels.index(str(int(v)))).to_numpy(float), labels, False
    labels = sorted(values.astype(str).unique())
    return values.astype(str).map(labels.index).to_numpy(float), labels, False


def _value(key: str, value) -> str:
    if key == "lr":
        return f"{float(value):.2e}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def effects(
    trials: pd.DataFrame, keys: list[str], families: list[str], top: int = 3
) -> EffectsFigure:
    """Best validation accuracy against each varied hyperparameter, in real units (log lr).

    One panel per key; points of the given families only; the top trials carry their rank. The
    HOVER_POINTS best trials are drawn one by one, each with its hover text; the rest, in runs
    of more trials, one scatter per family, so that thousands of trials draw in seconds.
    """
    done = trials.dropna(subset=["best_val_acc"]).sort_values(
        ["best_val_acc", "epochs"], ascending=[False, True]
    )
    done = done.assign(rank=range(1, len(done) + 1))  # the leaderboard's ranks
    done = done[done["family"].isin(families)].reset_index(drop=True)
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False, sharey=True
    )
    tooltips = {}
    for ax, key in zip(axes.flat, keys):
        x, labels, log = _positions(done[key])
        rest = done.index >= HOVER_POINTS
        for family, group in done[rest].groupby("family"):
            ax.scatter(x[group.index], group["best_val_acc"], color=_color(family), s=28, alpha=0.8)
        for i, trial in done[~rest].iterrows():
            gid = f"{key}-{i}"
            settings = ", ".join(f"{k} {_value(k, trial[k])}" for k in keys)
            tooltips[gid] = (
                f"#{trial['rank']} {trial['family']} {trial['trial_id']}: val "
                f"{trial['best_val_acc']:.2%} "
                f"after {trial['epochs']} epochs; {settings}"
            )
            ax.scatter(
                [x[i]],
                [trial["best_val_acc"]],
                color=_color(trial["family"]),
                s=28,
                alpha=0.8,
                gid=gid,
            )
            if trial["rank"] <= top:
                ax.annotate(
                    f"#{trial['rank']}",
                    (x[i], trial["best_val_acc"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 3.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(key)
    for ax in axes[:, 0]:
        ax.set_ylabel("best val accuracy")
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    for family in families:
        axes.flat[0].scatter([], [], color=_color(family), label=family)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Best validation accuracy against each searched setting")
    fig.tight_layout()
    svg = _svg_with_tooltips(fig, tooltips)
    return EffectsFigure(_png(fig), svg)


def serving_trade(costs: pd.DataFrame, pareto: list[bool]) -> EffectsFigure:
    """Test accuracy against latency per request, one point per final-model option and family
    best (the final model a star). `costs`: results/tables.serving_costs."""
    points = pd.DataFrame(
        {
            "label": costs["option"].astype(str),
            "color": costs["option"].astype(str),
            "ms": costs["latency_ms_p50"],
            "acc": costs["test_acc"],
            "star": costs["final"].astype(bool),
            "hover": [
                f"{row['option']}{' (final model)' if row['final'] else ''}: test "
                f"{row['test_acc']:.2%}, {row['latency_ms_p50']:.2f} ms per request (p95 "
                f"{row['latency_ms_p95']:.2f}), {row['rows_per_s']:,.0f} rows/s, "
                f"{row['size_mb']:.1f} MB, {int(row['parameters']):,} parameters"
                for _, row in costs.iterrows()
            ],
        }
    )
    return trade(
        points,
        pareto,
        "latency per request, ms (median, batch 1, one thread)",
        "test accuracy",
        "What each option costs to serve",
    )


def search_trade(trials: pd.DataFrame, pareto: list[bool]) -> EffectsFigure:
    """Best validation accuracy against each trial's measured latency_ms, one point per trial of
    an `--objective accuracy,latency` run; the front's trials labelled."""
    points = pd.DataFrame(
        {
            "label": [t if on else "" for t, on in zip(trials["trial_id"], pareto)],
            "color": trials["family"].astype(str),
            "ms": trials["latency_ms"],
            "acc": trials["best_val_acc"],
            "star": False,
            "hover": [
                f"{row['trial_id']} ({row['family']}): val {row['best_val_acc']:.2%}, "
                f"{row['latency_ms']:.2f} ms per request, {row['epochs']} epochs"
                for _, row in trials.iterrows()
            ],
        }
    )
    return trade(
        points,
        pareto,
        "model latency per request, ms (median, batch 1, one thread, measured in the trial)",
        "best validation accuracy",
        "What the search found: accuracy against latency",
    )


def trade(
    points: pd.DataFrame, pareto: list[bool], xlabel: str, ylabel: str, title: str
) -> EffectsFigure:
    """Accuracy against latency (log scale), the Pareto front drawn through the points no other
    beats on both; each point's hover text holds its figures. `points`: label, color (a family
    or option name), ms, acc, star (drawn larger), hover."""
    fig, ax = plt.subplots(figsize=(7, 4))
    tooltips = {}
    for i, row in points.reset_index(drop=True).iterrows():
        gid = f"trade-{i}"
        tooltips[gid] = row["hover"] + ("; on the Pareto front" if pareto[i] else "")
        ax.scatter(
            [row["ms"]],
            [row["acc"]],
            s=70 if row["star"] else 36,
            marker="*" if row["star"] else "o",
            color=_color(row["color"]),
            edgecolors="black" if pareto[i] else "none",
            gid=gid,
        )
        if row["label"]:
            ax.annotate(
                row["label"], (row["ms"], row["acc"]), fontsize=7, xytext=(4, 3),
                textcoords="offset points",
            )  # fmt: skip
    front = points.reset_index(drop=True)[pareto].sort_values("ms")
    ax.step(
        front["ms"], front["acc"], where="post", color="black", lw=1, alpha=0.6,
        label="Pareto front",
    )  # fmt: skip
    for family in sorted(set(points["color"]) & set(COLORS)):
        ax.scatter([], [], color=_color(family), label=family)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    svg = _svg_with_tooltips(fig, tooltips)
    return EffectsFigure(_png(fig), svg)

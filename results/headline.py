"""The report's first lines: which model to use, how good it is on test, against what, at what cost.

Built from a run's plain files only (summary.json and the trial rows), for Markdown and HTML alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from base.run_dir import final_model
from results.load import Run
from results.stats import wilson_interval
from results.tables import FINAL_OPTION_LABELS, baseline_label, search_front


@dataclass(frozen=True)
class Score:
    """A test accuracy with its 95% Wilson interval over `n` test rows."""

    acc: float
    n: int

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.acc, self.n)

    def text(self) -> str:
        low, high = self.interval
        return f"{self.acc:.2%} (95% CI {low:.1%}–{high:.1%})"


def describe_settings(config: dict[str, Any]) -> str:
    """'bidirectional, 1 layer, embed 128, hidden 128, max pooling, dropout 0.30, lr 2.0e-03'."""
    parts = []
    if config.get("bidirectional") is not None:
        parts.append("bidirectional" if config["bidirectional"] else "unidirectional")
    if config.get("num_layers") is not None:
        parts.append(f"{config['num_layers']} layer{'s' if config['num_layers'] != 1 else ''}")
    if config.get("vectors") not in (None, "none"):
        scale = config.get("embed_lr_scale")
        tuned = "" if scale in (None, 1, 1.0) else " frozen" if scale == 0 else f" at {scale:g}x lr"
        parts.append(f"{config['vectors']} vectors{tuned}")
    for key, label in (("embed_dim", "embed"), ("hidden_dim", "hidden")):
        if config.get(key) is not None:
            parts.append(f"{label} {config[key]}")
    if config.get("pooling"):
        parts.append(f"{config['pooling']} pooling")
    if config.get("dropout") is not None:
        parts.append(f"dropout {float(config['dropout']):.2f}")
    if config.get("word_dropout"):
        parts.append(f"word dropout {float(config['word_dropout']):.2f}")
    if config.get("lr") is not None:
        parts.append(f"lr {float(config['lr']):.1e}")
    if config.get("lr_schedule") not in (None, "constant"):
        parts.append(f"{config['lr_schedule']} schedule")
    if config.get("batch_size") is not None:
        parts.append(f"batch {config['batch_size']}")
    return ", ".join(parts)


def test_size(summary: dict[str, Any], family: str) -> int:
    confusion = summary.get("test_confusion", {}).get(family)
    return int(sum(map(sum, confusion["matrix"]))) if confusion else 0


def family_score(summary: dict[str, Any], family: str) -> Score:
    """The test accuracy of the family's best checkpoint, over the run's test rows."""
    return Score(summary["by_family"][family]["test_acc"], test_size(summary, family))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _compute(hours: float, kind: str) -> str:
    return f"{hours:.2f} {kind}-hours" if hours >= 0.1 else f"{hours * 60:.1f} {kind}-minutes"


def cost_line(run: Run) -> str:
    """Wall time, trials by outcome, CPU/GPU hours and the hardware that ran them."""
    trials = run.trials
    counts = trials["status"].value_counts().to_dict()
    sweep = run.config.get("sweep", {})
    busy = trials["wall_s"].fillna(0)
    cpu_hours = float((busy * trials["cpus"].fillna(sweep.get("cpus_per_trial", 1))).sum()) / 3600
    gpus = float(sweep.get("gpus_per_trial") or 0)
    devices = sorted({str(d) for d in trials["device"].dropna()})
    nodes = trials["node_id"].dropna().nunique()
    wall = run.summary.get("wall_s") if run.summary else None
    budget = (run.summary or {}).get("budget")
    parts = [
        f"wall time {_duration(wall)}"
        if wall
        else "in progress or interrupted (no summary.json yet)",
        *([budget_text(budget)] if budget else []),
        f"{len(trials)} trials ({counts.get('completed', 0)} completed, "
        f"{counts.get('stopped_early', 0)} stopped "
        f"early, {counts.get('errored', 0)} failed)",
        _compute(cpu_hours, "CPU")
        + (", " + _compute(float(busy.sum()) * gpus / 3600, "GPU") if gpus else ""),
        f"on {', '.join(devices) or 'unknown devices'}, {nodes} node{'s' if nodes != 1 else ''}",
    ]
    return "; ".join(parts)


def budget_text(budget: dict[str, Any]) -> str:
    """`search 20 min 04 s of a 20 min 00 s budget (4 s over; 2 trials stopped at an epoch
    boundary)`: how much of a time budget the search used, and how far it ran past it."""
    over = budget["overrun_s"]
    notes = [f"{over:.0f} s over" if over >= 1 else "within it"]
    stopped = budget["stopped_trials"]
    if stopped:
        notes.append(f"{stopped} trial{'s' if stopped != 1 else ''} stopped at an epoch boundary")
    return (
        f"search {_duration(budget['used_s'])} of a {_duration(budget['budget_s'])} budget "
        f"({'; '.join(notes)})"
    )


def verdict(
    final_acc: float, base_acc: float, paired: dict[str, Any] | None, who: str = "the final model"
) -> str:
    """Did tuning pay off? Decided by the paired test on the same test rows
    (tune/outcome/baseline.py) where the run has one; older runs have only the sign of the gap.
    `who`: the model compared with the baseline, as the sentence names it."""
    gap = f"{100 * (final_acc - base_acc):+.2f} points on test"
    if not paired:
        word = "tuning paid off" if final_acc > base_acc else "tuning did not beat it"
        return f"{word} ({gap})"
    p = paired["p_value"]
    if p >= 0.05:
        word = "no significant difference"
    elif final_acc > base_acc:
        word = "tuning paid off"
    else:
        word = "the baseline is better"
    return (
        f"{word} ({gap}; {paired['final_only_right']:,} test rows right only by {who}, "
        f"{paired['baseline_only_right']:,} only by the baseline: McNemar p = {p:.2g})"
    )


def headline(run: Run) -> list[str]:
    """Three to six Markdown lines: the model to use, its test score, families, baselines, cost."""
    summary = run.summary
    if not summary or not summary.get("best"):
        return [f"**{run.name}**: no finished model yet ({cost_line(run)})."]
    best = summary["best"]
    family = best["family"]
    score = family_score(summary, family)
    checkpoint = best["checkpoint"]
    settings = {**run.config.get("train", {}), **best["config"]}
    ensemble = summary.get("ensemble")
    chosen = summary.get("final")
    if chosen:
        final = Score(chosen["test_acc"], chosen.get("n_test") or score.n)
        name, details = describe_final(chosen)
        lines = [
            f"**Use the {name}**{f' ({details})' if details else ''}: "
            f"test accuracy **{final.text()}** "
            f"on {final.n:,} test rows; validation {chosen['val_acc']:.2%}. "
            + chosen_by_text(chosen),
            *rnn_lines(chosen, summary),
            *serving_lines(chosen, summary.get("by_family", {}), run.path),
            f'Classify with `rnn-tune predict {run.path} "some text"`. Best single trial: the '
            f"{family.upper()} of trial {best['trial_id']} ({describe_settings(settings)}), test "
            f"{score.text()}, validation {best['val_acc']:.2%}, checkpoint `{checkpoint}`.",
        ]
    elif final_model(summary).kind == "ensemble":
        final = Score(ensemble["test_acc"], ensemble.get("n_test") or score.n)
        members = ", ".join(f"{m['family'].upper()} {m['trial_id']}" for m in ensemble["members"])
        lines = [
            f"**Use the ensemble of the top {ensemble['k']} trials** ({members}; their class "
            f"probabilities averaged, k chosen on validation): test accuracy **{final.text()}** "
            f"on {final.n:,} test rows; validation {ensemble['val_acc']:.2%}.",
            f'Classify with `rnn-tune predict {run.path} "some text"`. Best single trial: the '
            f"{family.upper()} of trial {best['trial_id']} ({describe_settings(settings)}), test "
            f"{score.text()}, validation {best['val_acc']:.2%}, checkpoint `{checkpoint}`.",
        ]
    else:
        final = score
        lines = [
            f"**Use the {family.upper()}** of trial {best['trial_id']} "
            f"({describe_settings(settings)}): "
            f"test accuracy **{score.text()}** "
            f"on {score.n:,} test rows; validation {best['val_acc']:.2%}.",
            f"Checkpoint `{checkpoint}`; classify with `rnn-tune predict {checkpoint} "
            '"some text"`.',
        ]
        if ensemble:
            lines.append(
                "An ensemble of the top trials did not score higher on validation (k=1 chosen)."
            )
    others = [
        f"{fam.upper()} {family_score(summary, fam).text()}"
        for fam, row in sorted(summary["by_family"].items(), key=lambda kv: -kv[1]["test_acc"])
    ]
    if others:
        lines.append("Best of each family on test: " + "; ".join(others) + ".")
    for name, b in (summary.get("baselines") or {}).items():
        base = Score(b["test_acc"], b.get("n_test") or score.n)
        lines.append(
            f"Against {baseline_label(name)} on the same splits"
            + (f" (C {b['C']:g}, chosen on validation)" if "C" in b else "")
            + f": {base.text()}; {verdict(final.acc, base.acc, b.get('vs_final'))}."
        )
    warm = summary.get("warm_start")
    if warm:
        lines.append(started_from_line(warm))
    front = search_front(run.trials)
    if front is not None:
        lines.append(search_front_line(front))
    lines.append("Cost: " + cost_line(run) + ".")
    return lines


def search_front_line(front: pd.DataFrame) -> str:
    """The search's accuracy-latency front in one line, its two ends named."""
    fast, best = front.iloc[0], front.iloc[-1]
    line = (
        f"The search weighed latency too: {len(front)} trial{'s' * (len(front) > 1)} on its "
        f"accuracy-latency front, from {fast['trial_id']} ({fast['family']}, val "
        f"{fast['best_val_acc']:.2%} at {fast['latency_ms']:.2f} ms)"
    )
    if len(front) > 1:
        line += (
            f" to {best['trial_id']} ({best['family']}, val {best['best_val_acc']:.2%} at "
            f"{best['latency_ms']:.2f} ms)"
        )
    return line + " (section 'Search trade')."


def _member(m: dict[str, Any]) -> str:
    return "linear model" if m["family"] == "linear" else f"{m['family'].upper()} {m['trial_id']}"


def describe_final(final: dict[str, Any]) -> tuple[str, str]:
    """The final model in words: (its name, its members and how they were weighted)."""
    members = final["members"]
    kind = final["kind"]
    if kind == "trial":
        m = members[0]
        return f"{m['family'].upper()} of trial {m['trial_id']}", ""
    if kind == "linear":
        return "run's linear model", (
            "TF-IDF + linear SVM, its margins calibrated into probabilities on validation"
        )
    if kind == "ensemble":
        return f"ensemble of the top {len(members)} trials", (
            f"{', '.join(map(_member, members))}; their class probabilities averaged, k chosen "
            "on validation"
        )
    if kind == "blend":
        rnn = [m for m in members if m["family"] != "linear"]
        w = sum(m["weight"] for m in rnn) / sum(m["weight"] for m in members)
        return f"blend of the top {len(rnn)} trials' ensemble and the linear model", (
            f"{w:.0%} ensemble ({', '.join(map(_member, rnn))}), {1 - w:.0%} TF-IDF + linear "
            "SVM; class probabilities averaged, the weight chosen on validation"
        )
    total = sum(m["weight"] for m in members)
    parts = ", ".join(
        f"{_member(m)} {m['weight'] / total:.0%}"
        for m in sorted(members, key=lambda m: -m["weight"])
    )
    return "greedy weighted ensemble", (
        f"selection with replacement on validation, Caruana et al. 2004: {parts}"
    )


def chosen_by_text(final: dict[str, Any]) -> str:
    """How the final model was chosen: which options validation compared, and whether the paired
    test on test rows overrode it."""
    found = final.get("options", [])
    by_loss = all("val_loss" in o for o in found)  # summaries before log loss: accuracy
    options = ", ".join(
        f"{FINAL_OPTION_LABELS[o['kind']]} {o['val_acc']:.2%}"
        + (f" (log loss {o['val_loss']:.3f})" if by_loss else "")
        for o in found
    )
    rule = "validation log loss" if by_loss else "validation"
    text = f"Chosen on {rule} among: {options}." if options else ""
    if final.get("limits"):
        text += " Only the options within the limits below could be chosen."
    if final.get("chosen_by") == "paired test":
        text += (
            " Validation's choice was significantly worse on test than this model (McNemar "
            "p < 0.05), so the paired test chose it: its test score has been used to choose and "
            "is an optimistic estimate."
        )
    return text


MUCH_CHEAPER = 3.0  # an option this many times faster (or smaller) is worth naming


def cost_text(cost: dict[str, Any]) -> str:
    return (
        f"{cost['latency_ms_p50']:.1f} ms per request (p95 {cost['latency_ms_p95']:.1f} ms), "
        f"{cost['rows_per_s']:,.0f} rows/s in batches, {cost['size_mb']:.1f} MB"
    )


def serving_lines(
    final: dict[str, Any], by_family: dict[str, dict[str, Any]], run_dir: Any
) -> list[str]:
    """What the final model costs to serve, the limits it was chosen under, and a much cheaper
    option whose test accuracy lies within the final model's 95% interval, if there is one."""
    cost, how = final.get("cost"), final.get("measured_on") or {}
    if not cost:
        return []
    lines = [
        f"Serving it costs {cost_text(cost)} (batch 1 on one thread, tokenization included; "
        f"measured on {how.get('cpus', '?')} CPU cores, {how.get('processor') or 'CPU'}: the "
        "figures move with the machine)."
    ]
    limits = final.get("limits")
    if limits:
        asked_for = []
        if limits["max_latency_ms"] is not None:
            asked_for.append(f"at most {limits['max_latency_ms']:g} ms per request")
        if limits["max_size_mb"] is not None:
            asked_for.append(f"at most {limits['max_size_mb']:g} MB")
        asked = " and ".join(asked_for)
        excluded = ", ".join(FINAL_OPTION_LABELS.get(k, k) for k in limits["excluded"])
        lines.append(
            f"Limits: {asked}; "
            + (f"excluded: {excluded}." if excluded else "every option is within them.")
            if limits["fits"]
            else f"No option is within the limits ({asked}); the cheapest one is recommended."
        )
    low = Score(final["test_acc"], final.get("n_test") or 1).interval[0]
    named = [
        (FINAL_OPTION_LABELS.get(o["kind"], o["kind"]), o["kind"], o)
        for o in final.get("options", [])
        if not o.get("chosen")
    ]
    named += [
        (f"best {f.upper()} (trial {r['trial_id']})", f, r) for f, r in sorted(by_family.items())
    ]
    cheaper = [
        (label, option, entry)
        for label, option, entry in named
        if entry.get("cost")
        and entry["test_acc"] >= low
        and (
            entry["cost"]["latency_ms_p50"] * MUCH_CHEAPER <= cost["latency_ms_p50"]
            or entry["cost"]["size_mb"] * MUCH_CHEAPER <= cost["size_mb"]
        )
    ]
    if cheaper:
        label, option, entry = max(
            cheaper, key=lambda c: (c[2]["test_acc"], -c[2]["cost"]["latency_ms_p50"])
        )
        lines.append(
            f"Much cheaper and within the final model's 95% interval on test: the {label}, "
            f"test {entry['test_acc']:.2%}, {cost_text(entry['cost'])} "
            f"(`rnn-tune predict {run_dir} --option {option}`)."
        )
    return lines


def rnn_lines(final: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Did tuning the RNNs pay off? The RNNs alone (their ensemble, else the best trial) against
    the baseline, paired on the same test rows."""
    rnn = final.get("rnn")
    if not rnn:
        return []
    what = "their ensemble" if rnn["kind"] == "ensemble" else "the best single trial"
    out = []
    for name, b in (summary.get("baselines") or {}).items():
        out.append(
            f"The RNNs alone ({what}): test {rnn['test_acc']:.2%}, validation "
            f"{rnn['val_acc']:.2%}; against {baseline_label(name)}: "
            + verdict(rnn["test_acc"], b["test_acc"], b.get("vs_rnn"), "the RNNs")
            + "."
        )
    return out


def started_from_line(warm: dict[str, Any]) -> str:
    """Each configuration taken from the source run: its score there beside this run's."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2%}"

    parts = [
        f"trial {p['source_trial']} (validation {pct(p['source_val_acc'])} there) -> "
        f"validation {pct(p['val_acc'])}, test {pct(p['test_acc'])} here"
        for p in warm["points"]
    ]
    line = f"Started from the best configurations of `{warm['source']}`: " + "; ".join(parts)
    if warm.get("skipped"):
        line += f"; {warm['skipped']} outside this run's search space skipped"
    if warm.get("known_trials"):
        line += f"; TPE started from its {warm['known_trials']} finished trials"
    return line + "."


def seed_baseline_line(runs: list[Run]) -> str | None:
    """Where a seed-preset run (the notebook's settings) is reported: its best family on test."""
    for run in runs:
        if (
            run.config.get("train", {}).get("pooling") == "seed"
            and run.summary
            and run.summary.get("best")
        ):
            best = run.summary["best"]
            return (
                f"Notebook baseline (`{run.name}`, the notebook's settings): best "
                f"{best['family'].upper()} "
                f"{family_score(run.summary, best['family']).text()}."
            )
    return None

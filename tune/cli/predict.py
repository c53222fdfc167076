"""`rnn-tune predict CHECKPOINT|RUN_DIR TEXT...`: the predicted class and class probabilities per
text. A sweep's run directory predicts with its final model, whatever it is (summary.json's
`final`): its members' class probabilities averaged with their weights, the run's linear model
(linear/model.npz) among them where it was chosen. `--option` serves another of the options the
run compared (or a family's best trial) instead, exactly as the end phase scored it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tune.config import ConfigError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="classify texts with a trained checkpoint", description=__doc__
    )
    p.add_argument(
        "checkpoint",
        help="model.pt (or its directory) from `rnn-tune train` or a sweep, a run's "
        "linear/model.npz, or a sweep's run directory (its final model)",
    )
    p.add_argument("texts", nargs="+", help="texts to classify")
    p.add_argument(
        "--option",
        help="with a run directory: serve this option instead of the final model (trial, "
        "ensemble, linear, blend, greedy; or rnn, lstm, gru: that family's best trial)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per text")
    p.set_defaults(run=run)


def read_summary(run_dir: Path) -> dict:
    from base.run_dir import SUMMARY_FILE
    from results.load import ReportError, check_summary

    path = run_dir / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        check_summary(path, summary)
    except (OSError, UnicodeDecodeError, ValueError, ReportError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); restore it or pass a checkpoint") from None
    return summary


def option_members(run_dir: Path, option: str | None) -> list[tuple[str, float]]:
    """(checkpoint, weight) per member: the final model (base/run_dir.final_model), or the
    option the run compared under that name, or a family's best trial."""
    from base.run_dir import final_model

    summary = read_summary(run_dir)
    if option is None:
        final = final_model(summary)
        if final:
            return [(m["checkpoint"], float(m["weight"])) for m in final.members]
        raise ConfigError(f"{run_dir} has no finished model to predict with; pass a checkpoint")
    if option in summary["by_family"]:
        return [(summary["by_family"][option]["checkpoint"], 1.0)]
    listed = (summary.get("final") or {}).get("options") or []
    known = [o["kind"] for o in listed] + list(summary["by_family"])
    found = next((o for o in listed if o["kind"] == option), None)
    if found is None:
        raise ConfigError(
            f"{run_dir} has no option {option!r}; choose one of {', '.join(known) or 'none'}"
        )
    if not isinstance(found.get("members"), list):
        raise ConfigError(
            f"{run_dir} was written before its options listed their members; serve the final "
            "model (no --option), a family (--option rnn|lstm|gru) or a checkpoint"
        )
    return [(m["checkpoint"], float(m["weight"])) for m in found["members"]]


def run(args: argparse.Namespace) -> int:
    if any(not t.strip() for t in args.texts):
        raise ConfigError("an empty text cannot be classified; pass non-empty texts")
    target = Path(args.checkpoint).expanduser()
    from base.run_dir import SUMMARY_FILE
    from tune.outcome.serving import load_member, weighted_probabilities

    if (target / SUMMARY_FILE).is_file():
        members = option_members(target, args.option)
    elif args.option:
        raise ConfigError("--option needs a sweep's run directory; pass one, or drop --option")
    else:
        members = [(args.checkpoint, 1.0)]
    served = [(load_member(path), weight) for path, weight in members]
    names, probs = weighted_probabilities(served, args.texts)
    for text, row in zip(args.texts, probs.tolist()):
        best = max(range(len(names)), key=row.__getitem__)
        if args.json:
            print(
                json.dumps(
                    {"text": text, "label": names[best], "probabilities": dict(zip(names, row))}
                )
            )
        else:
            shown = "  ".join(
                f"{name} {p:.1%}" for name, p in sorted(zip(names, row), key=lambda x: -x[1])
            )
            print(f"{names[best]}\t{text[:60]}\n    {shown}")
    return 0

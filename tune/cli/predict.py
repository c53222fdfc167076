"""`rnn-tune predict CHECKPOINT|RUN_DIR TEXT...`: the predicted class and class probabilities per
text. A sweep's run directory predicts with its final model, whatever it is (summary.json's
`final`): its members' class probabilities averaged with their weights, the run's linear model
(linear/model.npz) among them where it was chosen."""

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
    p.add_argument("--json", action="store_true", help="one JSON object per text")
    p.set_defaults(run=run)


def predict_texts(checkpoint: str, texts: list[str]) -> tuple[list[str], list[list[float]]]:
    """-> (class names, probabilities (len(texts), num_classes)), with the model's own vocab: an
    RNN checkpoint or the run's linear model (an .npz of arrays)."""
    from data.encode import encode_texts
    from data.vocab import Vocab

    if str(checkpoint).endswith(".npz"):
        from models.linear import LinearTextModel

        try:
            linear = LinearTextModel.load(checkpoint)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{checkpoint}: not a readable linear model ({exc})") from None
        split = encode_texts(texts, [0] * len(texts), Vocab(linear.itos), linear.ngrams)
        probs = linear.probabilities(split.ids, split.offsets)
        return list(linear.class_names), probs.tolist()
    from tune.train.checkpoint import load_checkpoint
    from tune.train.inference import probabilities

    loaded = load_checkpoint(checkpoint)
    split = encode_texts(texts, [0] * len(texts), loaded.vocab, loaded.config.data.ngrams)
    return list(loaded.class_names), probabilities(loaded.model, split).tolist()


def final_members(run_dir: Path) -> list[tuple[str, float]]:
    """A finished sweep's final model (base/run_dir.final_model): (checkpoint, weight) per
    member."""
    from base.run_dir import SUMMARY_FILE, final_model
    from results.load import ReportError, check_summary

    path = run_dir / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        check_summary(path, summary)
    except (OSError, UnicodeDecodeError, ValueError, ReportError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); restore it or pass a checkpoint") from None
    final = final_model(summary)
    if final:
        return [(m["checkpoint"], float(m["weight"])) for m in final.members]
    raise ConfigError(f"{run_dir} has no finished model to predict with; pass a checkpoint")


def predict_with_run(run_dir: Path, texts: list[str]) -> tuple[list[str], list[list[float]]]:
    """The final model's probabilities: its members' weighted average, as the sweep scored it."""
    import numpy as np

    members = final_members(run_dir)
    found = [(predict_texts(c, texts), w) for c, w in members]
    names = found[0][0][0]
    total = sum(w * np.asarray(probs, dtype=np.float64) for (_, probs), w in found)
    return names, (total / sum(w for _, w in members)).tolist()


def run(args: argparse.Namespace) -> int:
    if any(not t.strip() for t in args.texts):
        raise ConfigError("an empty text cannot be classified; pass non-empty texts")
    target = Path(args.checkpoint).expanduser()
    from base.run_dir import SUMMARY_FILE

    if (target / SUMMARY_FILE).is_file():
        names, probs = predict_with_run(target, args.texts)
    else:
        names, probs = predict_texts(args.checkpoint, args.texts)
    for text, row in zip(args.texts, probs):
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

"""`rnn-tune predict CHECKPOINT|RUN_DIR TEXT...`: the predicted class and class probabilities per
text. A sweep's run directory predicts with its final model: the ensemble (its members'
probabilities averaged), else its best checkpoint."""

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
        help="model.pt (or its directory) from `rnn-tune train` or a sweep, or a sweep's run "
        "directory (its ensemble)",
    )
    p.add_argument("texts", nargs="+", help="texts to classify")
    p.add_argument("--json", action="store_true", help="one JSON object per text")
    p.set_defaults(run=run)


def predict_texts(checkpoint: str, texts: list[str]) -> tuple[list[str], list[list[float]]]:
    """-> (class names, probabilities (len(texts), num_classes)), with the checkpoint's vocab."""
    from data.encode import encode_texts
    from tune.train.checkpoint import load_checkpoint
    from tune.train.inference import probabilities

    loaded = load_checkpoint(checkpoint)
    split = encode_texts(texts, [0] * len(texts), loaded.vocab, loaded.config.data.ngrams)
    return loaded.class_names, probabilities(loaded.model, split).tolist()


def final_checkpoints(run_dir: Path) -> list[str]:
    """A finished sweep's final model's checkpoints (results/run_files.final_model)."""
    from results.load import ReportError, check_summary
    from results.run_files import SUMMARY_FILE, final_model

    path = run_dir / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        check_summary(path, summary)
    except (OSError, UnicodeDecodeError, ValueError, ReportError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); restore it or pass a checkpoint") from None
    final = final_model(summary)
    if final:
        return final.checkpoints
    raise ConfigError(f"{run_dir} has no finished model to predict with; pass a checkpoint")


def run(args: argparse.Namespace) -> int:
    if any(not t.strip() for t in args.texts):
        raise ConfigError("an empty text cannot be classified; pass non-empty texts")
    target = Path(args.checkpoint).expanduser()
    from results.run_files import SUMMARY_FILE

    if (target / SUMMARY_FILE).is_file():
        import numpy as np

        found = [predict_texts(c, args.texts) for c in final_checkpoints(target)]
        names = found[0][0]
        probs = np.mean([p for _, p in found], axis=0).tolist()
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

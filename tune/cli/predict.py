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
    import numpy as np
    import torch

    from data.batches import gather_batch
    from data.encode import encode
    from data.tokenizer import basic_english, ngrams_iterator
    from tune.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    n = loaded.config.data.ngrams
    split = encode(
        [basic_english(t) for t in texts],
        [0] * len(texts),
        loaded.vocab,
        lambda tokens: list(ngrams_iterator(tokens, n)),
    )
    tokens, lengths, _ = gather_batch(split, np.arange(len(split)))
    with torch.no_grad():
        probs = torch.softmax(loaded.model(tokens, lengths), dim=1)
    return loaded.class_names, probs.tolist()


def final_checkpoints(run_dir: Path) -> list[str]:
    """A finished sweep's final model: its ensemble's members, else its best checkpoint."""
    from results.load import SUMMARY_FILE, ReportError, check_summary

    path = run_dir / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        check_summary(path, summary)
    except (OSError, UnicodeDecodeError, ValueError, ReportError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); restore it or pass a checkpoint") from None
    ensemble = summary.get("ensemble")
    if ensemble:
        return [m["checkpoint"] for m in ensemble["members"]]
    if summary.get("best"):
        return [summary["best"]["checkpoint"]]
    raise ConfigError(f"{run_dir} has no finished model to predict with; pass a checkpoint")


def run(args: argparse.Namespace) -> int:
    if any(not t.strip() for t in args.texts):
        raise ConfigError("an empty text cannot be classified; pass non-empty texts")
    target = Path(args.checkpoint).expanduser()
    if (target / "summary.json").is_file():
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

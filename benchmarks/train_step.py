"""Training-step throughput (samples/s): the notebook's loop, main before issue 8, and this tree.

    python benchmarks/train_step.py --data-dir ../shared/data/ag_news_csv [--rounds 3]

Each contender runs in its own process on the same rows and settings, one after another,
round after round (these machines are noisy); the table gives the median over rounds and its
ratio to the notebook's loop and to the code before. Settings:
- notebook-b16 / notebook-b64: the notebook's model (uni-LSTM, embed 64, hidden 32, last
  state, lr 0.01, no dropout or clipping), one thread, batch 16 / 64;
- default-b64: `rnn-tune train`'s defaults (bi-LSTM 128/128, max pooling), two threads.
This tree runs three ways: padded + sparse embedding (the default on CPU), packed + sparse,
padded + dense Adam. `--cuda` instead times this tree on the GPU (see gpu_check.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import REPO, checkout_before, limited_batches, median, run_json

NOTEBOOK_MODEL = {
    "model": "lstm",
    "embed_dim": 64,
    "hidden_dim": 32,
    "num_layers": 1,
    "bidirectional": False,
    "dropout": 0.0,
    "pooling": "last",
    "lr": 0.01,
    "grad_clip": None,
}
SETTINGS = {
    "notebook-b16": {"train": {**NOTEBOOK_MODEL, "batch_size": 16}, "threads": 1},
    "notebook-b64": {"train": {**NOTEBOOK_MODEL, "batch_size": 64}, "threads": 1},
    "default-b64": {"train": {}, "threads": 2},
}
VARIANTS = {  # this tree's ways of running a step
    "now": {"pack": False, "sparse_embedding": True},
    "now-packed": {"pack": True, "sparse_embedding": True},
    "now-dense": {"pack": False, "sparse_embedding": False},
}


def measure_notebook(setting: dict, samples: int, data_dir: str) -> float:
    import torch
    from notebook_loop import LSTMClassifier, notebook_loader, train

    from data.ag_news import read_ag_news_csv
    from data.tokenizer import basic_english
    from data.vocab import build_vocab

    texts, labels = read_ag_news_csv(Path(data_dir) / "train.csv")
    vocab = build_vocab(basic_english(t) for t in texts)
    t = setting["train"]
    torch.manual_seed(0)
    model = LSTMClassifier(len(vocab), t["embed_dim"], t["hidden_dim"], 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=t["lr"])
    criterion = torch.nn.CrossEntropyLoss()
    warm = notebook_loader(texts[: 5 * t["batch_size"]], labels, vocab, t["batch_size"])
    train(warm, model, optimizer, criterion)
    loader = notebook_loader(texts[:samples], labels[:samples], vocab, t["batch_size"])
    start = time.perf_counter()
    _, seen = train(loader, model, optimizer, criterion)
    return seen / (time.perf_counter() - start)


def measure_tree(
    setting: dict, variant: dict, samples: int, data_dir: str | None, device: str = "cpu"
) -> float:
    import dataclasses

    import torch

    from data.config import DataConfig
    from data.prepare import prepare_data
    from tune.config import TrainConfig
    from tune.train.loop import make_optimizer, model_for, train_one_epoch

    if data_dir:
        data = prepare_data(DataConfig(dataset="ag_news", data_dir=data_dir))
    else:
        data = prepare_data(
            DataConfig(dataset="synthetic", synthetic_samples=max(2 * samples, 4000))
        )
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {**setting["train"], **{k: v for k, v in variant.items() if k != "pack"}}
    cfg = TrainConfig(**{k: v for k, v in values.items() if k in known})
    torch.manual_seed(0)
    target = torch.device(device)
    model = model_for(cfg, len(data.vocab), len(data.class_names)).to(target)
    if "pack" in variant and hasattr(model, "pack"):
        model.pack = variant["pack"]
    optimizer = make_optimizer(model, cfg)
    extra = {"precision": cfg.precision} if "precision" in known else {}
    warm = limited_batches(data.train, cfg.batch_size, 5, shuffle=True, seed=1)
    train_one_epoch(model, warm, optimizer, target, cfg.grad_clip, **extra)
    batches = limited_batches(
        data.train, cfg.batch_size, max(1, samples // cfg.batch_size), shuffle=True
    )
    if target.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    stats = train_one_epoch(model, batches, optimizer, target, cfg.grad_clip, **extra)
    if target.type == "cuda":
        torch.cuda.synchronize()
    return stats.samples / (time.perf_counter() - start)


CUDA_SETTINGS = {
    "notebook-b64": SETTINGS["notebook-b64"],
    "default-b64": SETTINGS["default-b64"],
    "default-b256": {"train": {"batch_size": 256}, "threads": 2},
}
CUDA_VARIANTS = {
    f"{'packed' if pack else 'padded'}-{precision}": {"pack": pack, "precision": precision}
    for pack in (True, False)
    for precision in ("fp32", "bf16")
}


def cuda_table(samples: int, data_dir: str | None) -> None:
    """Every CUDA setting x (packed, padded) x (fp32, bf16), in this process, two rounds."""
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(2):
        for setting_name, setting in CUDA_SETTINGS.items():
            for variant_name, variant in CUDA_VARIANTS.items():
                rate = measure_tree(setting, variant, samples, data_dir, device="cuda")
                rates.setdefault((setting_name, variant_name), []).append(rate)
    print(f"{'setting':<13} {'variant':<13} {'samples/s':>10} {'x packed-fp32':>14}")
    for (setting_name, variant_name), values in rates.items():
        reference = median(rates[(setting_name, "packed-fp32")])
        print(
            f"{setting_name:<13} {variant_name:<13} {median(values):>10,.0f} "
            f"{median(values) / reference:>14.2f}"
        )


def worker(args: argparse.Namespace) -> None:
    import torch

    setting = SETTINGS[args.setting]
    torch.set_num_threads(setting["threads"])
    if args.contender == "notebook":
        rate = measure_notebook(setting, args.samples, args.data_dir)
    else:
        rate = measure_tree(setting, VARIANTS.get(args.contender, {}), args.samples, args.data_dir)
    print(json.dumps({"train_samples_per_s": rate}))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", help="AG_NEWS train.csv/test.csv (required except with --cuda)"
    )
    parser.add_argument(
        "--cuda",
        action="store_true",
        help="only this tree on CUDA: packed vs padded, fp32 vs bf16 "
        "(synthetic data without --data-dir)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4000, help="training samples timed per run")
    parser.add_argument(
        "--before",
        default=None,
        help="git revision of the reference (default: main before issue 8)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cuda:
        cuda_table(args.samples, args.data_dir)
        return 0
    if not args.data_dir:
        parser.error("--data-dir is required")
    args.data_dir = str(Path(args.data_dir).resolve())
    if args.worker:
        worker(args)
        return 0
    before = checkout_before(args.before) if args.before else checkout_before()
    rates: dict[tuple[str, str], list[float]] = {}
    plan = [
        (s, c)
        for s in SETTINGS
        for c in (["notebook"] if s.startswith("notebook") else []) + ["before", *VARIANTS]
    ]
    for round_ in range(args.rounds):
        for setting, contender in plan:
            root = before if contender == "before" else REPO
            cmd = [
                str(Path(__file__).resolve()),
                "--worker",
                "--setting",
                setting,
                "--contender",
                contender,
                "--samples",
                str(args.samples),
                "--data-dir",
                args.data_dir,
            ]
            rate = run_json(
                cmd, root, env={"RNN_TUNE_CACHE_DIR": str(root / ".cache" / "bench-data")}
            )
            rates.setdefault((setting, contender), []).append(rate["train_samples_per_s"])
            print(
                f"round {round_ + 1}: {setting:<13} {contender:<11} "
                f"{rate['train_samples_per_s']:>8,.0f}/s",
                file=sys.stderr,
                flush=True,
            )
    notebook_b16 = median(rates[("notebook-b16", "notebook")])
    print(
        f"\n{'setting':<13} {'contender':<11} {'samples/s':>10} {'x notebook b16':>15} "
        f"{'x same-batch notebook':>22}"
        f" {'x before':>9}"
    )
    for setting, contender in plan:
        rate = median(rates[(setting, contender)])
        same = rates.get((setting, "notebook"))
        vs_same = f"{rate / median(same):.2f}" if same else "-"
        vs_b16 = f"{rate / notebook_b16:.2f}" if setting.startswith("notebook") else "-"
        print(
            f"{setting:<13} {contender:<11} {rate:>10,.0f} {vs_b16:>15} {vs_same:>22}"
            f" {rate / median(rates[(setting, 'before')]):>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput (samples/s) and padding share, bucketed vs random batches, by batch size.

    python benchmarks/train_throughput.py --data-dir ../shared/data/ag_news_csv [--batches 60]

Uses the default model (`rnn-tune train` defaults); numbers go into closing notes, never into tests.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import limited_batches

from data.batches import PaddedBatches
from data.config import DataConfig
from data.prepare import prepare_data
from tune.config import TrainConfig
from tune.train.loop import make_optimizer, model_for, train_one_epoch


def padding_share(batches: PaddedBatches) -> float:
    lengths = batches.split.lengths
    padded = sum(len(idx) * int(lengths[idx].max()) for idx in batches.batch_indices())
    return 1 - int(lengths.sum()) / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--model", default="lstm")
    parser.add_argument(
        "--samples", type=int, default=3000, help="training samples timed per setting"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = prepare_data(
        DataConfig(dataset="ag_news" if args.data_dir else "synthetic", data_dir=args.data_dir)
    )
    print(f"{'batch':>5} {'bucketed':>8} {'padding':>8} {'samples/s':>10}")
    for batch_size in (16, 64, 256):
        for bucket in (50, 0):
            cfg = TrainConfig(model=args.model, batch_size=batch_size)
            torch.manual_seed(0)
            model = model_for(cfg, len(data.vocab), len(data.class_names))
            full = PaddedBatches(data.train, batch_size, shuffle=True, bucket_size=bucket)
            batches = limited_batches(
                data.train,
                batch_size,
                max(1, args.samples // batch_size),
                shuffle=True,
                bucket_size=bucket,
            )
            start = time.perf_counter()
            stats = train_one_epoch(
                model, batches, make_optimizer(model, cfg), torch.device("cpu"), cfg.grad_clip
            )
            elapsed = time.perf_counter() - start
            print(
                f"{batch_size:>5} {'yes' if bucket else 'no':>8} {padding_share(full):>8.1%} "
                f"{stats.samples / elapsed:>10,.0f}"
            )


if __name__ == "__main__":
    main()

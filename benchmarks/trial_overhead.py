"""Per-trial overhead: start-up of later trials on 120,000 rows, and the driver over 500 trials.

    python benchmarks/trial_overhead.py startup --data-dir ../shared/data/ag_news_csv
    python benchmarks/trial_overhead.py driver [--trials 500]

startup: the real train rows repeated until 120,000 (the full AG_NEWS train size), a sweep of
8 one-epoch trials; prints each trial's `startup_s` (trial function start to first finished
training step) and the median over trials 3-8 (later trials: Ray reuses the worker).

driver: 500 one-epoch trials of a tiny model on 40 synthetic rows; samples the driver's
resident memory and the completion times, and prints memory and seconds per trial around
trial 50 and trial 500 with their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, median

from base.run_dir import RECORDS_FILE
from results.load import read_records

TINY = ["--embed-dim", "8", "--hidden-dim", "8", "--no-dashboard", "--no-report", "--quiet"]


def records(run_dir: Path) -> list[dict]:
    return read_records(run_dir / RECORDS_FILE)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def startup(args: argparse.Namespace, work: Path) -> None:
    src = Path(args.data_dir)
    data = work / "ag_news_120k"
    data.mkdir()
    rows = (src / "train.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    repeats = -(-120_000 // len(rows))
    (data / "train.csv").write_text("".join((rows * repeats)[:120_000]), encoding="utf-8")
    shutil.copy(src / "test.csv", data / "test.csv")
    cmd = [
        "rnn-tune",
        "sweep",
        "--data-dir",
        str(data),
        "--num-samples",
        "8",
        "--epochs",
        "1",
        "--grace-period",
        "1",
        "--storage",
        str(work),
        "--name",
        "startup",
        *TINY,
    ]
    env = {**os.environ, "RNN_TUNE_CACHE_DIR": str(work / "cache")}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=3600)
    starts = {r["trial_id"]: r["time"] for r in records(work / "startup") if r["event"] == "start"}
    results = [r for r in records(work / "startup") if r["event"] == "result"]
    results.sort(key=lambda r: starts[r["trial_id"]])
    values = [r["metrics"]["startup_s"] for r in results]
    print("startup_s per trial, in start order:", " ".join(f"{v:.2f}" for v in values))
    print(f"median over later trials (3-{len(values)}): {median(values[2:]):.2f} s")


def driver(args: argparse.Namespace, work: Path) -> None:
    cmd = [
        "rnn-tune",
        "sweep",
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "40",
        "--num-samples",
        str(args.trials),
        "--epochs",
        "1",
        "--grace-period",
        "1",
        "--storage",
        str(work),
        "--name",
        "scale",
        "--batch-size",
        "8",
        *TINY,
    ]
    env = {**os.environ, "RNN_TUNE_CACHE_DIR": str(work / "cache")}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    samples: list[tuple[int, float, float]] = []  # (completed trials, time, driver RSS MB)
    seen = 0
    while proc.poll() is None:
        completed = [r for r in records(work / "scale") if r["event"] in ("complete", "error")]
        if len(completed) != seen:
            seen = len(completed)
            samples.append((seen, time.time(), rss_mb(proc.pid)))
        time.sleep(0.5)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read()[-3000:])

    def around(n: int, window: int = 20) -> tuple[float, float]:
        inside = [s for s in samples if n - window <= s[0] <= n]
        (c0, t0, _), (c1, t1, m1) = inside[0], inside[-1]
        return (t1 - t0) / max(c1 - c0, 1), m1

    early_s, early_mb = around(50)
    late_s, late_mb = around(args.trials)
    print(f"trials 30-50:   {early_s:.3f} s/trial, driver RSS {early_mb:.0f} MB")
    print(
        f"trials {args.trials - 20}-{args.trials}: {late_s:.3f} s/trial, driver RSS {late_mb:.0f} "
        "MB"
    )
    print(f"ratio late/early: time {late_s / early_s:.2f}, memory {late_mb / early_mb:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["startup", "driver"])
    parser.add_argument("--data-dir")
    parser.add_argument("--trials", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(
        dir=REPO / ".cache" if (REPO / ".cache").is_dir() else None
    ) as tmp:
        if args.what == "startup":
            if not args.data_dir:
                parser.error("startup needs --data-dir")
            startup(args, Path(tmp))
        else:
            driver(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())

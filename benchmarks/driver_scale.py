"""The sweep driver's own cost per trial at scale: Ray Tune's bookkeeping benchmark in rnn-tune's
terms.

    python benchmarks/driver_scale.py --trials 2000 --concurrent 16 --epoch-s 1
    python benchmarks/driver_scale.py --trials 5000 --concurrent 16 --epoch-s 1 --json out.json

It measures the driver, not training. The trial is a load generator: it sleeps `--epoch-s` per
epoch and reports a synthetic learning curve drawn from its sampled settings, and it imports
neither torch nor the model code. Everything else is the real driver, run in this process
(`rnn-tune sweep` through `tune.cli.main`): OptunaSearch with the sampler the sweep builds, ASHA,
the study in SQLite, trials.jsonl, the live page's state, the time budget and summary.json
(with `--checkpoint`, the end phase fails after the search: the checkpoints hold no model).

Ray runs as a one-node `ray.cluster_utils.Cluster` with `--concurrent` logical CPUs, and the
sweep joins it with `--address`. Two cores cannot start thousands of actor processes in
minutes, so the trials reuse their actors (`--reuse-actors`), as Ray's own bookkeeping benchmark
isolates its driver; `--one-actor-per-trial` shows what actor creation adds at a concurrency
these cores allow.

Printed: the search's wall time (first trial start to last trial end, from trials.jsonl) against
its minimum (trials x epochs x epoch_s / concurrent), the driver process's CPU-seconds and RSS
over time, the whole machine's busy core-seconds (Linux's /proc/stat: is the machine full, or
the driver's loop the limit?), its CPU-seconds and wall seconds per finished trial over the
first and the last tenth of the trials, and the time per trial in each part over the same
tenths, with their ratios: Optuna's ask and tell, Ray's experiment snapshot (and how many were
written: tune/sweep/snapshot_pacing.py paces them), the state guard (the wait for the
snapshot's copy and its backup, tune/sweep/ray_state.py), the records, the live progress and
the checkpoint pruner.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPACE = """
[sweep.search]
model = {choice = ["rnn", "lstm", "gru"]}
lr = {loguniform = [3e-4, 1e-2]}
embed_dim = {choice = [64, 128, 256]}
hidden_dim = {choice = [64, 128, 256]}
dropout = {uniform = [0.0, 0.5]}
word_dropout = {uniform = [0.1, 0.5]}
pooling = {choice = ["last", "mean", "max"]}
"""


def load_trial(sampled: dict, base: dict, data, sweep: str = "sweep") -> None:
    """The load generator: `epochs` reports of a curve rising towards a ceiling set by the
    sampled lr (best near 2e-3) and hidden_dim, one per `epoch_s` of sleep. No torch here."""
    import math
    import time

    from ray import tune

    epochs = base["train"]["epochs"]
    epoch_s = float(os.environ["DRIVER_SCALE_EPOCH_S"])
    lr = sampled.get("lr", 2e-3)
    ceiling = (
        0.9 - 0.05 * abs(math.log10(lr / 2e-3)) - 0.02 * (sampled.get("hidden_dim", 128) < 128)
    )
    checkpoint = os.environ.get("DRIVER_SCALE_CHECKPOINT") == "1"
    for epoch in range(1, epochs + 1):
        time.sleep(epoch_s)
        folder = tempfile.mkdtemp() if checkpoint else None
        if folder:  # a few bytes, as the real trial's checkpoint each epoch (Ray's copy is timed)
            Path(folder, "state.json").write_text(json.dumps({"epoch": epoch}))
        tune.report(
            {
                "epoch": epoch,
                "val_acc": ceiling * (1 - 0.5**epoch),
                "val_loss": 1.0 / epoch,
                "train_loss": 1.0 / epoch,
                "model": sampled.get("model", "lstm"),
                "epoch_s": epoch_s,
                "error": None,
            },
            checkpoint=tune.Checkpoint.from_directory(folder) if folder else None,
        )
        if folder:  # Ray has copied it into the trial's folder by now
            shutil.rmtree(folder, ignore_errors=True)


class PartTimer:
    """Seconds spent in each wrapped driver method, attributed to how many trials had finished
    when it ran."""

    def __init__(self) -> None:
        self.completed = 0
        self.calls: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def wrap(self, cls: type, method: str, part: str, counts_completion: bool = False) -> None:
        original = getattr(cls, method)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.calls[part].append((self.completed, time.perf_counter() - started))
                if counts_completion:
                    self.completed += 1

        setattr(cls, method, timed)

    def per_trial(self, part: str, low: int, high: int) -> float:
        """Mean seconds per finished trial spent in `part` while low..high trials had finished."""
        spent = sum(s for done, s in self.calls[part] if low <= done < high)
        return spent / max(high - low, 1)


def window(
    samples: list[tuple[float, int, float, float, float]], low: int, high: int
) -> tuple[float, float, float]:
    """(wall s, driver CPU-s, machine busy core-s) per finished trial between `low` and `high`
    finished trials."""
    a = next(x for x in samples if x[1] >= low)
    b = next((x for x in samples if x[1] >= high), samples[-1])
    done = max(b[1] - a[1], 1)
    return (b[0] - a[0]) / done, (b[2] - a[2]) / done, (b[4] - a[4]) / done


def machine_busy_s() -> float:
    """Core-seconds the whole machine has been busy (not idle or waiting on I/O) since boot:
    the driver, Ray's own processes and the trials' actors together."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemoryTracer:
    """The driver's Python heap (tracemalloc) at a tenth and at nine tenths of the trials, and
    the source lines whose allocations grew most between them: what the driver keeps per trial.
    Native memory (Ray's core worker) shows only in RSS."""

    def __init__(self, timer: PartTimer, trials: int) -> None:
        import tracemalloc

        self.timer, self.marks, self.snapshots = timer, [trials // 10, trials - trials // 10], []
        self.rss: list[float] = []
        tracemalloc.start()

    def sample(self) -> None:
        import tracemalloc

        if self.marks and self.timer.completed >= self.marks[0]:
            self.marks.pop(0)
            self.snapshots.append((self.timer.completed, tracemalloc.take_snapshot()))
            self.rss.append(rss_mb())

    def print(self) -> None:
        if len(self.snapshots) < 2:
            print("memory: the sweep ended before both snapshots were taken")
            return
        (n0, a), (n1, b) = self.snapshots
        grown = b.compare_to(a, "lineno")
        total = sum(x.size_diff for x in grown)
        print(
            f"memory from {n0} to {n1} finished trials: Python heap +{total / 2**20:.1f} MB "
            f"({total / max(n1 - n0, 1) / 1024:.1f} KB per trial), RSS "
            f"+{self.rss[1] - self.rss[0]:.0f} MB; the lines that grew most:"
        )
        for x in grown[:15]:
            frame = x.traceback[0]
            print(
                f"  {x.size_diff / max(n1 - n0, 1) / 1024:7.2f} KB/trial {x.count_diff:>8} blocks  "
                f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
            )


def instrument(timer: PartTimer) -> None:
    from ray.tune.execution.tune_controller import TuneController

    import tune.sweep.tuner as tuner
    from tune.sweep.optuna_search import WholeCurveOptunaSearch
    from tune.sweep.pruning import CheckpointPruner
    from tune.sweep.ray_state import ExperimentStateGuard
    from tune.sweep.records import LiveProgress, TrialRecorder

    tuner.run_trial = load_trial
    timer.wrap(WholeCurveOptunaSearch, "suggest", "optuna ask")
    timer.wrap(WholeCurveOptunaSearch, "on_trial_result", "optuna tell")
    timer.wrap(WholeCurveOptunaSearch, "on_trial_complete", "optuna tell", counts_completion=True)
    timer.wrap(TuneController, "checkpoint", "ray snapshot")
    timer.wrap(TuneController, "save_to_dir", "  of which written")
    timer.wrap(ExperimentStateGuard, "on_step_end", "state guard")
    timer.wrap(ExperimentStateGuard, "_back_up", "  of which backup")
    for method in ("on_trial_start", "on_trial_result", "on_trial_complete"):
        timer.wrap(TrialRecorder, method, "records")
    for method in ("on_trial_result", "on_step_end"):
        timer.wrap(LiveProgress, method, "live progress")
    for method in ("on_step_end", "on_checkpoint", "on_trial_complete"):
        timer.wrap(CheckpointPruner, method, "pruner")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--epoch-s", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--one-actor-per-trial", action="store_true")
    parser.add_argument(
        "--checkpoint",
        action="store_true",
        help="report a checkpoint each epoch, as the real trial does (with num_to_keep set, "
        "Ray would snapshot its experiment state after each one)",
    )
    parser.add_argument("--optuna-storage", help="the sweep's --optuna-storage, e.g. journal")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="trace the driver's Python allocations (tracemalloc; slows the driver) and print "
        "where they grew between a tenth and nine tenths of the trials",
    )
    args = parser.parse_args()

    os.environ["DRIVER_SCALE_EPOCH_S"] = str(args.epoch_s)
    os.environ["DRIVER_SCALE_CHECKPOINT"] = "1" if args.checkpoint else "0"
    os.environ.setdefault("RNN_TUNE_CACHE_DIR", tempfile.mkdtemp(prefix="driver-scale-cache-"))
    from ray.cluster_utils import Cluster

    from tune.cli.main import main as rnn_tune

    timer = PartTimer()
    instrument(timer)
    work = Path(tempfile.mkdtemp(prefix="driver-scale-"))
    (work / "space.toml").write_text(SPACE)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": args.concurrent, "include_dashboard": False},
    )
    samples: list[
        tuple[float, int, float, float, float]
    ] = []  # time, completed, CPU-s, RSS MB, busy
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            usage = resource.getrusage(resource.RUSAGE_SELF)
            samples.append(
                (
                    time.time(),
                    timer.completed,
                    usage.ru_utime + usage.ru_stime,
                    rss_mb(),
                    machine_busy_s(),
                )
            )
            if tracer:
                tracer.sample()
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    tracer = MemoryTracer(timer, args.trials) if args.trace_memory else None
    argv = [
        "sweep",
        "--config",
        str(work / "space.toml"),
        "--dataset",
        "synthetic",
        "--synthetic-samples",
        "200",
        "--vectors",
        "none",
        "--num-samples",
        str(args.trials),
        "--time-budget",
        "6h",
        "--epochs",
        str(args.epochs),
        "--max-concurrent",
        str(args.concurrent),
        "--address",
        cluster.address,
        "--storage",
        str(work),
        "--name",
        "scale",
        "--no-report",
        "--quiet",
    ]
    if not args.one_actor_per_trial:
        argv.append("--reuse-actors")
    if args.optuna_storage:
        argv += ["--optuna-storage", args.optuna_storage]
    started = time.time()
    sampler.start()
    try:
        code = rnn_tune(argv)
    finally:
        stop.set()
        sampler.join()
        cluster.shutdown()
    wall = time.time() - started
    if tracer:
        tracer.print()
    path = work / "scale" / "trials.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []
    finished = sum(r["event"] in ("complete", "error") for r in records)
    # The load generator's checkpoints hold no model, so the end phase fails after the search.
    if code != 0 and not (args.checkpoint and finished == args.trials):
        print(f"the sweep failed (exit {code}); its run directory: {work / 'scale'}")
        return code
    search_s = max(r["time"] for r in records) - min(r["time"] for r in records)
    minimum = args.trials * args.epochs * args.epoch_s / args.concurrent
    tenth = max(args.trials // 10, 1)
    first, last = (0, tenth), (args.trials - tenth, args.trials)
    parts = sorted(timer.calls)
    (wall_first, cpu_first, busy_first) = window(samples, *first)
    (wall_last, cpu_last, busy_last) = window(samples, *last)
    figures = {
        "trials": args.trials,
        "finished": finished,
        "concurrent": args.concurrent,
        "epoch_s": args.epoch_s,
        "reuse_actors": not args.one_actor_per_trial,
        "checkpoint_each_epoch": args.checkpoint,
        "optuna_storage": args.optuna_storage or "sqlite",
        "search_s": search_s,
        "minimum_s": minimum,
        "over_minimum": search_s / minimum - 1,
        "command_s": wall,
        "driver_cpu_s": samples[-1][2] - samples[0][2],
        "machine_busy_core_s": samples[-1][4] - samples[0][4],
        "cores": os.cpu_count(),
        "rss_mb_start": samples[0][3],
        "rss_mb_end": samples[-1][3],
        "rss_mb_max": max(x[3] for x in samples),
        "snapshots": len(timer.calls["  of which written"]),
        "per_trial_s": {
            "wall": {"first_tenth": wall_first, "last_tenth": wall_last},
            "driver_cpu": {"first_tenth": cpu_first, "last_tenth": cpu_last},
            "machine_busy": {"first_tenth": busy_first, "last_tenth": busy_last},
        },
        "per_trial_ms": {
            part: {
                "first_tenth": timer.per_trial(part, *first) * 1000,
                "last_tenth": timer.per_trial(part, *last) * 1000,
            }
            for part in parts
        },
        "over_time": [
            {"s": round(t - started, 1), "completed": n, "cpu_s": round(c, 1), "rss_mb": round(m)}
            for t, n, c, m, _ in samples[:: max(len(samples) // 20, 1)]
        ],
    }
    print(
        f"{finished} trials of {args.epochs} x {args.epoch_s:g} s at {args.concurrent} "
        f"concurrent ({'actors reused' if not args.one_actor_per_trial else 'one actor per trial'}"
        f"{', a checkpoint each epoch' if args.checkpoint else ''})"
    )
    print(
        f"search {search_s:.1f} s against a minimum of {minimum:.1f} s: "
        f"{search_s / minimum - 1:+.1%} (the whole command {wall:.1f} s); driver CPU "
        f"{figures['driver_cpu_s']:.1f} s; the machine busy "
        f"{figures['machine_busy_core_s']:.1f} of "
        f"{wall * (os.cpu_count() or 1):.1f} core-s; RSS {figures['rss_mb_start']:.0f} -> "
        f"{figures['rss_mb_end']:.0f} MB (max {figures['rss_mb_max']:.0f}); Ray's state "
        f"snapshotted {figures['snapshots']} times"
    )
    print(f"{'per finished trial':<20} {'first tenth':>12} {'last tenth':>11} {'ratio':>6}")
    rows = [
        ("wall s", wall_first, wall_last),
        ("driver CPU-s", cpu_first, cpu_last),
        ("machine busy core-s", busy_first, busy_last),
    ]
    rows += [
        (
            f"{part} ms",
            figures["per_trial_ms"][part]["first_tenth"],
            figures["per_trial_ms"][part]["last_tenth"],
        )
        for part in parts
    ]
    for name, a, b in rows:
        print(f"{name:<20} {a:>12.3f} {b:>11.3f} {b / a if a else float('nan'):>6.2f}")
    print("over time (s, completed, driver CPU-s, RSS MB):")
    for row in figures["over_time"]:
        print(f"  {row['s']:>7} {row['completed']:>6} {row['cpu_s']:>8} {row['rss_mb']:>6}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

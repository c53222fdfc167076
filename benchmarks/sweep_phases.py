"""Where a sweep's wall time and CPU-seconds go, phase by phase, side by side with main before a
change (checked out beside this tree).

    python benchmarks/sweep_phases.py --data-dir DIR [--before REV] [--now REV] [--now-args ARGS]
        [--rounds N] [-- SWEEP ARGS]

Default sweep: `--preset quick`; pass e.g. `-- --time-budget 20m` for the default preset with a
budget. Each tree runs `rnn-tune sweep` into a fresh run directory (the data cache warmed first,
shared by both), alternating, while /proc/stat is sampled every 0.25 s. Phases:

- start-up: process start to the first trial's start record;
- search: first trial start to the last trial's end record;
- end: last trial end to the process's exit (ensemble, test scores, baseline, summary, report).

Per phase: wall seconds; busy core-seconds of the whole machine (run it on an otherwise idle
machine); training CPU-seconds (each epoch's training seconds x its trial's threads, by the
epoch's record time); everything else (busy - training); idle core-seconds (wall x cores - busy).
Per tree, the trial start: the median over trials of `startup_cpu_s`, CPU-seconds of the trial's
process from its start to the first finished training step (trees that record it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import REPO, checkout_before, median, seed_vectors

from base.run_dir import RECORDS_FILE, SUMMARY_FILE
from results.load import read_records

BEFORE = "4b8b367"  # main before the house and sweep-efficiency changes (issues 20, 22)
TICKS = os.sysconf("SC_CLK_TCK")
PHASES = ("start-up", "search", "end")


def cpu_jiffies() -> tuple[int, int]:
    """(busy, idle) jiffies of all cores since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, idle


class Sampler(threading.Thread):
    def __init__(self, every_s: float = 0.25):
        super().__init__(daemon=True)
        self.every_s, self.samples, self.done = every_s, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.time(), *cpu_jiffies()))
            self.done.wait(self.every_s)
        self.samples.append((time.time(), *cpu_jiffies()))

    def busy_between(self, start: float, end: float) -> float:
        """Busy core-seconds between two wall times (nearest samples)."""

        def at(t: float) -> int:
            return min(self.samples, key=lambda s: abs(s[0] - t))[1]

        return (at(end) - at(start)) / TICKS


WARM = """
import sys
from tune.cli.main import build_parser
from tune.cli.sweep import sweep_config
from tune.sweep.driver import prepare_sweep_data
prepare_sweep_data(sweep_config(build_parser().parse_args(sys.argv[1:])), quiet=True)
"""


def bench_env(root: Path) -> dict[str, str]:
    """The benchmarks' own cache (the data and, seeded from the shared file, the GloVe 50d
    vectors) and no network."""
    cache = REPO / ".cache" / "bench-data"
    seed_vectors(cache)
    return {
        **os.environ,
        "PYTHONPATH": str(root),
        "RNN_TUNE_CACHE_DIR": str(cache),
        "RNN_TUNE_OFFLINE": "1",
    }


def run_one(root: Path, data_dir: str, storage: Path, name: str, sweep_args: list[str]) -> dict:
    args = [*sweep_args, "--data-dir", data_dir, "--storage", str(storage), "--name", name]
    return run_command(root, ["sweep", *args, "--quiet"], storage / name)


def run_command(root: Path, cli_args: list[str], run_dir: Path) -> dict:
    """`rnn-tune CLI_ARGS` from `root`, sampled; its phases and results read from `run_dir`."""
    command = [sys.executable, "-m", "tune.cli.main", *cli_args]
    sampler = Sampler()
    sampler.start()
    started = time.time()
    done = subprocess.run(command, cwd=root, env=bench_env(root), capture_output=True, text=True)
    ended = time.time()
    sampler.done.set()
    sampler.join()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    records = read_records(run_dir / RECORDS_FILE)
    first = min(r["time"] for r in records if r["event"] == "start")
    last = max(r["time"] for r in records if r["event"] in ("complete", "error"))
    bounds = {"start-up": (started, first), "search": (first, last), "end": (last, ended)}
    cores = os.cpu_count() or 1
    phases = {}
    for phase, (a, b) in bounds.items():
        training = sum(
            (r["metrics"].get("epoch_s") or 0) * (r["metrics"].get("threads") or 1)
            for r in records
            if r["event"] == "result" and a <= r["time"] <= b and r.get("metrics")
        )
        busy = sampler.busy_between(a, b)
        phases[phase] = {
            "wall_s": b - a,
            "busy_core_s": busy,
            "training_cpu_s": training,
            "other_cpu_s": busy - training,
            "idle_core_s": (b - a) * cores - busy,
        }
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    ensemble = summary.get("ensemble") or {}
    starts = {  # per trial: its process's CPU-s to the first training step (trees that record it)
        r["trial_id"]: r["metrics"]["startup_cpu_s"]
        for r in records
        if r["event"] == "result" and (r.get("metrics") or {}).get("startup_cpu_s") is not None
    }
    return {
        "wall_s": ended - started,
        "phases": phases,
        "startup_cpu_s": median(list(starts.values())) if starts else None,
        "trials": summary["trials"],
        "test_acc": {f: round(b["test_acc"], 4) for f, b in summary["by_family"].items()},
        "ensemble_test_acc": ensemble.get("test_acc"),
        "budget": summary.get("budget"),
    }


def phase_value(runs: list[dict], phase: str, key: str) -> float:
    """The median over runs of one phase's figure ("all": the phases summed)."""
    phases = PHASES if phase == "all" else (phase,)
    return median([sum(r["phases"][p][key] for p in phases) for r in runs])


def table(results: dict[str, list[dict]]) -> str:
    cores = os.cpu_count() or 1
    lines = [
        "| tree | phase | wall s | busy core-s | training CPU-s | other CPU-s | idle core-s |",
        "|---|---|---|---|---|---|---|",
    ]
    for tree, runs in results.items():
        for phase in (*PHASES, "all"):
            cells = [
                f"{phase_value(runs, phase, key):.1f}"
                for key in ("wall_s", "busy_core_s", "training_cpu_s", "other_cpu_s", "idle_core_s")
            ]
            lines.append(f"| {tree} | {phase} | " + " | ".join(cells) + " |")
        wall = median([r["wall_s"] for r in runs])
        training = median([sum(r["phases"][p]["training_cpu_s"] for p in PHASES) for r in runs])
        busy = median([sum(r["phases"][p]["busy_core_s"] for p in PHASES) for r in runs])
        lines.append(
            f"| {tree} | training share | of busy CPU-s {training / busy:.1%} | of wall x "
            f"{cores} cores {training / (wall * cores):.1%} | | | |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--now", help="a commit to measure instead of this working tree")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--now-args", default="", help="sweep flags for the now tree only, e.g. --reuse-actors"
    )
    parser.add_argument("sweep_args", nargs="*", default=None)
    args = parser.parse_args()
    sweep_args = args.sweep_args or ["--preset", "quick"]
    data_dir = str(Path(args.data_dir).resolve())
    trees = {
        "before": checkout_before(args.before),
        "now": checkout_before(args.now) if args.now else REPO,
    }
    storage = REPO / ".cache" / "bench-phases"
    shutil.rmtree(storage, ignore_errors=True)
    warm = ["sweep", *sweep_args, "--data-dir", data_dir, "--storage", str(storage)]
    subprocess.run(  # the data cache, prepared once outside the timed runs (both read it)
        [sys.executable, "-c", WARM, *warm],
        cwd=trees["now"],
        env=bench_env(trees["now"]),
        check=True,
    )
    results: dict[str, list[dict]] = {name: [] for name in trees}
    own_args = {"before": [], "now": shlex.split(args.now_args)}
    for round_ in range(args.rounds):
        order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
        for name, root in order:
            run_args = [*sweep_args, *own_args[name]]
            result = run_one(root, data_dir, storage, f"{name}-{round_}", run_args)
            results[name].append(result)
            print(f"{name:<7} {json.dumps(result)}", file=sys.stderr, flush=True)
    print(
        f"sweep: rnn-tune sweep {' '.join(sweep_args)} (before = {args.before}; now adds "
        f"{args.now_args or 'nothing'})\n"
    )
    print(table(results))
    for name, runs in results.items():
        end = median([r["phases"]["end"]["wall_s"] for r in runs])
        print(
            f"{name}: wall {median([r['wall_s'] for r in runs]):.1f} s, end phase {end:.1f} s, "
            f"trials {runs[-1]['trials']}, test {runs[-1]['test_acc']}, ensemble "
            f"{runs[-1]['ensemble_test_acc']}, budget {runs[-1]['budget']}, trial start "
            f"(median CPU-s, process start to first step) {[r['startup_cpu_s'] for r in runs]}"
        )
    ratio = median([r["wall_s"] for r in results["now"]]) / median(
        [r["wall_s"] for r in results["before"]]
    )
    print(f"wall now / before: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

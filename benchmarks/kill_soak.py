"""Kill soak: a sweep whose driver is SIGKILLed at many seeded random moments, and whose trial
processes are too, resumed after each kill, then run to the end; then every record must agree.

    python benchmarks/kill_soak.py --seed 0 [--kills 10] [--trials 12] [--before REV]

The moments aim at the windows that matter: each driver kill waits for 1-3 new events in
trials.jsonl (a trial's start, epoch or end), then 0-1.5 s (Ray snapshots its state once a
second). Before some driver kills, a running trial's process is killed instead (Ray retries it
from its checkpoint). The schedule is printed as it runs, so a failure can be replayed with the
same seed. After the last resume the soak checks:
- trials.jsonl: every trial asked for ended exactly once (one complete or error record), no
  trial without an end;
- the Optuna study: none RUNNING; as many COMPLETE/PRUNED trials as trials completed; every other
  trial FAILed;
- summary.json: its counts equal the records';
- `rnn-tune report` reads the run.
Exit code 0 when all hold. `--before REV` runs the same soak on the code of REV checked out beside
this tree (without reconciliation, the soak should fail there).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import REPO, checkout_before

from base.run_dir import RECORDS_FILE, SUMMARY_FILE
from results.load import read_records

SMALL = [
    "--dataset", "synthetic", "--synthetic-samples", "12000", "--epochs", "3",
    "--grace-period", "1", "--max-concurrent", "2", "--embed-dim", "16", "--hidden-dim", "16",
    "--no-dashboard", "--no-report", "--quiet",
]  # fmt: skip


def lines(run_dir: Path) -> list[dict]:
    """The run's trial records so far (a line being written is skipped)."""
    return read_records(run_dir / RECORDS_FILE)


def trial_processes() -> list[int]:
    """PIDs of the Ray worker processes running a trial (process title ray::RNNTuneTrial...)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"ray::RNNTuneTrial" in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return sorted(found)


def driver(root: Path, args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(root)}
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tune.cli.main", "sweep", *args],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_events(process: subprocess.Popen, run_dir: Path, count: int, limit_s: float) -> bool:
    """True once `count` new records appear; False if the driver ended or time ran out."""
    start = len(lines(run_dir))
    deadline = time.time() + limit_s
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        if len(lines(run_dir)) >= start + count:
            return True
        time.sleep(0.05)
    return False


def check(run_dir: Path, trials: int, root: Path) -> list[str]:
    """What disagrees after the last resume (empty: all records agree)."""
    import optuna

    problems = []
    records = lines(run_dir)
    ends = Counter(r["trial_id"] for r in records if r["event"] in ("complete", "error"))
    ids = {r["trial_id"] for r in records}
    twice = {t: n for t, n in ends.items() if n > 1}
    if twice:
        problems.append(f"trials ended more than once in trials.jsonl: {twice}")
    if ids - set(ends):
        problems.append(f"trials without an end in trials.jsonl: {sorted(ids - set(ends))}")
    if len(ends) != trials:
        problems.append(f"{len(ends)} trials ended in trials.jsonl, {trials} asked for")
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.exists():
        return [*problems, "no summary.json"]
    summary = json.loads(summary_path.read_text())
    errored = sum(1 for r in records if r["event"] == "error")
    counted = summary["completed"] + summary["stopped_early"] + summary["errored"]
    if summary["trials"] != len(ends) or counted != summary["trials"]:
        problems.append(f"summary counts {summary['trials']} trials ({counted} by status)")
    if summary["errored"] != errored:
        problems.append(f"summary counts {summary['errored']} errored, records {errored}")
    study = optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir}/optuna.db")
    states = Counter(t.state.name for t in study.trials)
    if states["RUNNING"]:
        problems.append(f"Optuna trials left RUNNING: {states['RUNNING']}")
    if states["COMPLETE"] + states["PRUNED"] != len(ends) - errored:
        problems.append(f"Optuna {dict(states)} against {len(ends) - errored} trials completed")
    report = subprocess.run(
        [sys.executable, "-m", "tune.cli.main", "report", str(run_dir)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    if report.returncode != 0:
        problems.append(f"report failed: {report.stderr.strip()[-300:]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--before", help="run the soak on the code of this git revision")
    args = parser.parse_args()
    root = checkout_before(args.before) if args.before else REPO
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="kill-soak-"))
    run_dir = tmp / "soak"
    first = ["--storage", str(tmp), "--name", "soak", "--num-samples", str(args.trials)]
    first += ["--seed", str(args.seed), *SMALL]
    print(f"kill soak: seed {args.seed}, {args.kills} driver kills, {args.trials} trials, "
          f"code {args.before or 'this tree'}, run {run_dir}", flush=True)  # fmt: skip
    started, kills, trial_kills = time.time(), 0, 0
    while kills < args.kills:
        resume = ["--resume", str(run_dir), "--quiet", "--no-report"]
        sweep = first if kills == 0 else resume
        process = driver(root, sweep, tmp / f"driver-{kills}.log")
        if rng.random() < 0.4 and wait_events(process, run_dir, 1, 300):
            time.sleep(rng.uniform(0, 3))
            victims = trial_processes()
            if victims:
                victim = rng.choice(victims)
                os.kill(victim, signal.SIGKILL)
                trial_kills += 1
                print(f"  [{time.time() - started:6.1f}s] killed trial process {victim}")
        events, delay = rng.randint(1, 3), rng.uniform(0, 1.5)
        if not wait_events(process, run_dir, events, 300):
            print(f"  driver ended by itself before kill {kills + 1} (rc {process.wait()})")
            break
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        print(
            f"  [{time.time() - started:6.1f}s] kill {kills}: driver after {events} new "
            f"event(s) + {delay:.2f}s; {len(lines(run_dir))} records",
            flush=True,
        )
        time.sleep(1)
    resume = ["--resume", str(run_dir), "--quiet", "--no-report"]
    final = driver(root, resume, tmp / "driver-final.log")
    rc = final.wait(timeout=900)
    repaired = [
        line.strip()
        for log in sorted(tmp.glob("driver-*.log"))
        for line in log.read_text().splitlines()
        if line.startswith(("repaired", "removed"))
    ]
    print(f"final resume: rc {rc}; {kills} driver kills, {trial_kills} trial-process kills, "
          f"{time.time() - started:.0f}s")  # fmt: skip
    for line in repaired:
        print(f"  {line}")
    problems = [f"final resume exited {rc}: see {tmp / 'driver-final.log'}"] if rc else []
    problems += check(run_dir, args.trials, root)
    print("outcome: " + ("all records agree" if not problems else "FAILED"))
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

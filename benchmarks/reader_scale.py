"""The readers on a large run, side by side with the code before a change: `rnn-tune report` and
the live page's state.json on a run directory of N trials written as plain records
(tests/synthetic_run.py), never run.

    python benchmarks/reader_scale.py [--trials 5000] [--before REV]

Prints per tree: the report's seconds and the peak memory of the process that wrote it, and
state.json's build seconds and size. Each contender runs in its
own process with its tree's packages first on the path, on its own copy of the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, checkout_before, run_json

sys.path.insert(0, str(REPO / "tests"))
from synthetic_run import write_synthetic_run  # noqa: E402

BEFORE_SESSION = "8387836"  # main before the live page's cache and the readers' scale work

REPORT = """
import json, resource, sys, time
from pathlib import Path
from tune.cli.report import make_report
started = time.perf_counter()
make_report([Path(sys.argv[1])], Path(sys.argv[1]))
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"report_s": seconds, "report_peak_mb": peak}))
"""

STATE = """
import json, resource, sys, time
from pathlib import Path
from results.live import live_state
from results.live_server import _json_safe
started = time.perf_counter()
body = json.dumps(_json_safe(live_state(Path(sys.argv[1]))))
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"state_s": seconds, "state_kb": len(body) / 1024, "state_peak_mb": peak}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--before", default=BEFORE_SESSION)
    args = parser.parse_args()
    trees = {"after": REPO, "before": checkout_before(args.before)}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = write_synthetic_run(Path(tmp) / "source", args.trials)
        epochs = sum(1 for line in (source / "trials.jsonl").open() if '"result"' in line)
        print(f"run: {args.trials} trials, {epochs} epoch records, finished")
        for name, root in trees.items():
            run_dir = Path(tmp) / name / "run"
            shutil.copytree(source, run_dir)
            state = run_json(["-c", STATE, str(run_dir)], root)
            rows[name] = {**run_json(["-c", REPORT, str(run_dir)], root), **state}
            print(json.dumps({"tree": name, **rows[name]}), flush=True)
    print()
    print("| tree | report s | report peak MB | state.json build s | state.json KB | its peak MB |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['report_s']:.1f} | {r['report_peak_mb']:.0f} | {r['state_s']:.2f} | "
            f"{r['state_kb']:.0f} | {r['state_peak_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

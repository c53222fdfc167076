"""Make a run's three records agree before `--resume`, whenever the driver was killed.

A sweep keeps three records of its trials: Ray's experiment state (snapshotted every second
while that is cheap; in a sweep of thousands of trials, paced to 19 times a snapshot's own time:
tune/sweep/snapshot_pacing.py), `trials.jsonl` (a line per event, written as it happens) and the
Optuna study (written as trials are asked and told). A SIGKILL within one snapshot period of a
trial's start or end leaves Ray's snapshot behind the other two:
- a trial that `trials.jsonl` shows ended is still running in Ray's snapshot: Ray would run it
  again. It is marked ended there, with its recorded last result, and its Optuna trial told;
- a trial that started after the snapshot is unknown to Ray, which will start another in its
  place: its records and trial folder go, and its Optuna trial is failed, so that no trial stays
  RUNNING in the study forever (a trial that also ended within that period goes the same way:
  its Optuna trial, complete, still informs the search);
- a record cut mid-line is cut off, so the next line starts on a line of its own.

Ray's state is read and written as JSON (the status and last result of each trial are plain JSON
fields), never unpickled here. Each repair is returned as one line for the user.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from base.files import atomic_write_text
from base.run_dir import RECORDS_FILE, trial_dir_name
from results.load import read_records
from tune.sweep.objective import objective_values
from tune.sweep.optuna_study import open_storage

RAY_TRIAL_ATTR = "ray_trial_id"  # set on each Optuna trial by tune/sweep/optuna_search.py
ENDED = ("TERMINATED", "ERROR")


def reconcile(
    run_dir: Path, optuna_url: str, study_name: str, objective: str = "accuracy"
) -> list[str]:
    """Repair what a killed driver left (see the module's docstring); one line per repair."""
    lines = _mend_cut_record(run_dir / RECORDS_FILE)
    state_path = _newest_state(run_dir)
    if state_path is None:
        return lines
    state = json.loads(state_path.read_text())
    in_ray = {_trial_state(entry)["trial_id"]: entry for entry in state["trial_data"]}
    records = read_records(run_dir / RECORDS_FILE)
    ends = {r["trial_id"]: r for r in records if r["event"] in ("complete", "error")}
    last = {
        r["trial_id"]: r["metrics"]
        for r in records
        if r["event"] == "result" and not r["metrics"].get("error")
    }

    marked = [
        tid
        for tid, entry in in_ray.items()
        if tid in ends and _mark_ended(entry, ends[tid], last.get(tid))
    ]
    if marked:
        atomic_write_text(state_path, json.dumps(state))
        lines += [
            f"trial {tid} had ended ({ends[tid]['event']}) after Ray's last snapshot: taken from "
            "trials.jsonl, not run again"
            for tid in marked
        ]

    unrecorded = [
        tid
        for tid, entry in in_ray.items()
        if tid not in ends and _trial_state(entry)["status"] in ENDED
    ]
    starts = {r["trial_id"]: r for r in records if r["event"] == "start"}
    for tid in unrecorded:
        ends[tid] = _end_record(tid, in_ray[tid], starts.get(tid))
        lines.append(f"trial {tid} had ended in Ray's state only: its end is recorded")

    unknown = {r["trial_id"] for r in records} - set(in_ray)
    for tid in sorted(unknown):
        shutil.rmtree(run_dir / trial_dir_name(run_dir.name, tid), ignore_errors=True)
        lines.append(
            f"trial {tid} started as the driver was killed and is not in Ray's state: its "
            "records and folder are removed; Ray starts another trial in its place"
        )
    if unrecorded or unknown:  # one rewrite of the records, whole
        kept = [r for r in records if r["trial_id"] not in unknown]
        kept += [ends[tid] for tid in unrecorded]
        atomic_write_text(run_dir / RECORDS_FILE, "".join(json.dumps(r) + "\n" for r in kept))
    lines += _reconcile_study(optuna_url, study_name, set(in_ray) - unknown, ends, last, objective)
    return lines


def _mend_cut_record(path: Path) -> list[str]:
    if not path.is_file():
        return []
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return []
    whole = data[: data.rfind(b"\n") + 1]
    atomic_write_text(path, whole.decode("utf-8", errors="replace"))
    return [f"{path.name}: a record cut short by the kill was removed"]


def _newest_state(run_dir: Path) -> Path | None:
    """The experiment state Tuner.restore reads: the newest experiment_state-DATE.json."""
    states = sorted(run_dir.glob("experiment_state-*.json"))
    return states[-1] if states else None


def _trial_state(entry: list[str]) -> dict[str, Any]:
    return json.loads(entry[0])


def _mark_ended(entry: list[str], end: dict[str, Any], metrics: dict[str, Any] | None) -> bool:
    """Mark a trial of Ray's state ended, its last result the recorded one; False if it was."""
    trial = _trial_state(entry)
    if trial["status"] in ENDED:
        return False
    trial["status"] = "TERMINATED"
    runtime = json.loads(entry[1])
    result = {**(runtime.get("last_result") or {}), **(metrics or {})}
    result["trial_id"] = trial["trial_id"]
    if end["event"] == "error":
        result["error"] = end.get("error") or "error"
    result["done"] = True
    runtime["last_result"] = result
    entry[0], entry[1] = json.dumps(trial), json.dumps(runtime)
    return True


def _end_record(tid: str, entry: list[str], start: dict[str, Any] | None) -> dict[str, Any]:
    trial = _trial_state(entry)
    runtime = json.loads(entry[1])
    record = {
        "event": "error" if trial["status"] == "ERROR" else "complete",
        "trial_id": tid,
        "time": runtime.get("last_result_time") or runtime.get("start_time") or 0.0,
        "config": (start or {}).get("config") or {},
    }
    if record["event"] == "error":
        record["error"] = "error (in Ray's state; the driver was killed before recording it)"
    return record


def _reconcile_study(
    url: str,
    study_name: str,
    in_ray: set[str],
    ends: dict[str, dict[str, Any]],
    last: dict[str, dict[str, Any]],
    objective: str,
) -> list[str]:
    """Tell the study what the records know: trials that ended are told (COMPLETE with their last
    val_acc, and latency_ms where it is an objective too, or FAIL), trials that Ray will not
    resume are failed. A study of a run made before trials carried their Ray id is left as it
    is."""
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    except KeyError:  # no study yet: the driver died before asking for a trial
        return []
    trials = study.get_trials(deepcopy=False)
    if not any(RAY_TRIAL_ATTR in t.user_attrs for t in trials):
        return []
    lines = []
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        tid = t.user_attrs.get(RAY_TRIAL_ATTR)
        if tid in in_ray and tid in ends:
            values = objective_values(objective, last.get(tid) or {})
            if ends[tid]["event"] == "error" or values is None:
                study.tell(t.number, state=TrialState.FAIL)
            else:
                study.tell(t.number, values)
            lines.append(f"Optuna trial {t.number} ({tid}) told how it ended, from trials.jsonl")
        elif tid not in in_ray:
            study.tell(t.number, state=TrialState.FAIL)
            lines.append(
                f"Optuna trial {t.number} ({tid or 'no Ray trial'}) was left RUNNING by the "
                "kill and belongs to no trial Ray resumes: marked failed"
            )
    return lines

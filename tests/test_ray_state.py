"""Repairs of Ray's experiment state come only from the run's own backups, checked without
unpickling anything."""

import json
import os
import pickle

import pytest

from tune.config import ConfigError
from tune.ray_state import BACKUP_DIR, back_up_state, intact, repair_state


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def state_dir(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "experiment_state-1.json").write_text(json.dumps({"trial_data": []}))
    (run / "searcher-state-1.pkl").write_bytes(pickle.dumps({"trials": [1, 2, 3]}))
    (run / "search_gen_state-1.json").write_bytes(pickle.dumps({"counter": 3}))  # a pickle
    return run


def test_damaged_files_come_back_from_the_runs_backup(tmp_path):
    run = state_dir(tmp_path)
    back_up_state(run)
    whole = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for path in run.iterdir():
        if path.is_file():
            path.write_bytes(path.read_bytes()[:9])
    assert sorted(repair_state(run)) == sorted(whole)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == whole


def test_no_backup_is_a_clear_error(tmp_path):
    run = state_dir(tmp_path)
    (run / "searcher-state-1.pkl").write_bytes(b"\x80\x04\x95")
    with pytest.raises(ConfigError, match="holds no intact backup"):
        repair_state(run)


def test_checks_never_run_a_pickle(tmp_path):
    marker = tmp_path / "ran"
    run = state_dir(tmp_path)
    (run / "searcher-state-1.pkl").write_bytes(pickle.dumps(Payload(str(marker))))
    assert intact(run / "searcher-state-1.pkl")
    back_up_state(run)
    assert repair_state(run) == []
    assert (run / BACKUP_DIR / "searcher-state-1.pkl").is_file() and not marker.exists()

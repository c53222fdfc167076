"""Repairs of Ray's experiment state come only from the run's own backups, checked without
unpickling anything."""

import json
import os
import pickle

import pytest

from base.run_dir import STATE_BACKUP_DIR
from tune.config import ConfigError
from tune.sweep.ray_state import (
    ExperimentStateGuard,
    back_up_state,
    complete_backups,
    intact,
    repair_state,
)


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


def files(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_a_damaged_file_brings_back_the_newest_whole_set(tmp_path):
    run = state_dir(tmp_path)
    assert back_up_state(run).name == "00000001"
    (run / "searcher-state-1.pkl").write_bytes(pickle.dumps({"trials": [1, 2, 3, 4]}))
    (run / "experiment_state-1.json").write_text(json.dumps({"trial_data": [4]}))
    newest = files(run)
    back_up_state(run)
    back_up_state(run)  # three sets taken, the oldest dropped
    assert sorted(p.name for p in (run / STATE_BACKUP_DIR).iterdir()) == ["00000002", "00000003"]
    (run / "experiment_state-1.json").write_text('{"trial_data": [')  # cut short
    (run / "search_gen_state-1.json").write_bytes(pickle.dumps({"counter": 9}))  # newer, whole
    assert repair_state(run) == ["experiment_state-1.json"]
    assert files(run) == newest  # every file from one set: they agree with each other


def test_a_set_with_a_damaged_file_is_not_backed_up(tmp_path):
    run = state_dir(tmp_path)
    (run / "searcher-state-1.pkl").write_bytes(pickle.dumps([1, 2])[:-1])
    assert back_up_state(run) is None and not (run / STATE_BACKUP_DIR).exists()


def test_a_backup_that_only_looked_whole_is_passed_over_for_the_one_before(tmp_path):
    run = state_dir(tmp_path)
    back_up_state(run)
    older = files(run)
    (run / "experiment_state-1.json").write_text('{"trial_data": [{"a": 1}')  # cut after a brace
    assert back_up_state(run).name == "00000002"  # the cheap check is fooled
    (run / "experiment_state-1.json").write_text('{"trial_data": [')
    assert repair_state(run) == ["experiment_state-1.json"]
    assert files(run) == older


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
    assert (run / STATE_BACKUP_DIR / "00000001" / "searcher-state-1.pkl").is_file()
    assert not marker.exists()


def _write(path, data: bytes, at_s: float) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(int(at_s * 1e9), int(at_s * 1e9)))


def test_a_backup_waits_until_rays_copy_of_the_staging_folder_has_landed(tmp_path):
    run = state_dir(tmp_path)
    staging = tmp_path / "staging"
    staging.mkdir()
    old = {p.name: p.read_bytes() for p in run.iterdir()}
    for name, data in old.items():
        _write(run / name, data, 1000)
        _write(staging / name, data, 1010)  # a snapshot written after the run's last copy
    guard = ExperimentStateGuard(str(run))
    guard.get_state()  # Ray's cue: a snapshot was written
    assert not guard._back_up(staging)
    assert not (run / STATE_BACKUP_DIR).exists()
    for name, data in old.items():  # Ray's copy lands
        _write(run / name, data, 1011)
    assert guard._back_up(staging)
    assert not guard._back_up(staging)  # that snapshot is backed up: nothing new
    new_state = json.dumps({"trial_data": [["a", "b"]]}).encode()
    new_searcher = pickle.dumps({"trials": [1, 2, 3, 4]})
    _write(staging / "experiment_state-1.json", new_state, 1020)
    _write(staging / "searcher-state-1.pkl", new_searcher, 1020)
    guard.get_state()
    _write(run / "experiment_state-1.json", new_state, 1021)  # copied; the searcher's not yet
    assert not guard._back_up(staging)  # no set of a new state and an old searcher
    _write(run / "searcher-state-1.pkl", new_searcher, 1021)
    assert guard._back_up(staging)
    assert files(complete_backups(run)[-1])["searcher-state-1.pkl"] == new_searcher

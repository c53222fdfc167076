"""The study's storage: the run's SQLite file by default, a journal file with
`--optuna-storage journal`; both are read back for the report and a warm start without being
changed."""

from __future__ import annotations

import optuna
import pytest

from tune.config import Config
from tune.sweep.optuna_study import open_storage, optuna_storage_url, param_importances, read_study


def fill(storage, n: int = 30) -> None:
    study = optuna.create_study(study_name="run", storage=storage, direction="maximize")
    study.optimize(
        lambda t: t.suggest_float("lr", 1e-4, 1e-2, log=True) * 10 + t.suggest_int("h", 1, 4) / 100,
        n_trials=n,
    )


@pytest.mark.parametrize("setting, name", [(None, "optuna.db"), ("journal", "optuna.journal")])
def test_the_runs_study_is_written_and_read_back_unchanged(tmp_path, setting, name):
    cfg = Config.from_dict({"sweep": {"optuna_storage": setting}})
    url = optuna_storage_url(cfg, tmp_path)
    assert name in url
    fill(open_storage(url))
    before = (tmp_path / name).read_bytes()
    trials = read_study(tmp_path)
    assert [t.number for t in trials] == list(range(30))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert set(param_importances(tmp_path)["importances"]) == {"lr", "h"}
    assert (tmp_path / name).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_file_that_is_no_study_reads_as_none(tmp_path):
    (tmp_path / "optuna.journal").write_text("not a journal\n")
    assert read_study(tmp_path) is None

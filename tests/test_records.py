import json

import pytest

from base.run_dir import RECORDS_FILE
from results.load import read_records
from tune.sweep.records import scored_epochs


def _line(event, trial_id, **metrics):
    record = {"event": event, "trial_id": trial_id, "time": 1.0, "config": {}}
    return json.dumps({**record, "metrics": metrics} if event == "result" else record)


def test_each_trials_score_is_its_best_error_free_epoch_with_a_resumed_epoch_counted_once(tmp_path):
    lines = [
        _line("start", "a"),
        _line("result", "a", epoch=1, val_acc=0.5, error=None),
        _line("result", "a", epoch=2, val_acc=0.7, error=None),
        _line("result", "a", epoch=3, val_acc=0.9, error="NonFiniteLossError: nan"),
        _line("error", "a"),
        _line("start", "b"),
        _line("result", "b", epoch=1, val_acc=0.6, error=None),
        _line("result", "b", epoch=2, val_acc=0.8, error=None),  # lost with the killed driver
        _line("result", "b", epoch=2, val_acc=0.65, error=None),  # the resumed trial's epoch 2
        _line("complete", "b"),
        _line("start", "c"),  # started, nothing reported
    ]
    (tmp_path / RECORDS_FILE).write_text("\n".join(lines) + "\n")
    scored = scored_epochs(read_records(tmp_path / RECORDS_FILE))
    assert scored == {"a": (0.7, 2), "b": (pytest.approx(0.65), 2)}
    assert scored_epochs(read_records(tmp_path / "elsewhere" / RECORDS_FILE)) == {}

"""The run directory's contract (base/run_dir.py): the final-model rule and summary keys."""

from __future__ import annotations

import json

from base.run_dir import BEST_KEYS, SUMMARY_FILE, SUMMARY_KEYS, final_model
from tune.outcome.summary import write_summary


def best(trial_id: str, val_acc: float, test_acc: float) -> dict:
    return {
        "trial_id": trial_id,
        "family": "gru",
        "config": {"lr": 0.01},
        "val_acc": val_acc,
        "epochs": 2,
        "checkpoint": f"/runs/x/best/{trial_id}/model.pt",
        "test_acc": test_acc,
        "cost": None,  # measured at the end of a real run (tune/outcome/serving.py)
        "class_names": ["a", "b"],
        "test_confusion": [[1, 0], [0, 1]],
    }


def ensemble(k: int) -> dict:
    members = [
        {"trial_id": f"t{i}", "family": "gru", "val_acc": 0.8, "checkpoint": f"/e/t{i}/model.pt"}
        for i in range(k)
    ]
    return {"k": k, "members": members, "val_acc": 0.91, "test_acc": 0.9, "n_test": 10}


def test_the_ensemble_is_final_only_when_validation_chose_more_than_one_member():
    summary = {"best": best("t0", 0.85, 0.84), "ensemble": ensemble(3)}
    final = final_model(summary)
    assert final.kind == "ensemble" and final.checkpoints == [f"/e/t{i}/model.pt" for i in range(3)]
    assert (final.val_acc, final.test_acc) == (0.91, 0.9)
    for chosen in (ensemble(1), None):
        final = final_model({"best": best("t0", 0.85, 0.84), "ensemble": chosen})
        assert final.kind == "trial" and final.checkpoints == ["/runs/x/best/t0/model.pt"]
        assert (final.val_acc, final.test_acc) == (0.85, 0.84)
    assert final_model({"best": None, "ensemble": None}) is None and final_model(None) is None


def test_summary_json_holds_exactly_the_contract_keys(tmp_path):
    rows = [{"trial_id": "t0", "status": "completed", "error": None}]
    written = write_summary(
        tmp_path,
        rows,
        {"gru": best("t0", 0.8, 0.79)},
        "sqlite:///x",
        "x",
        1.0,
        ensemble=ensemble(2),
    )
    on_disk = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert tuple(on_disk) == SUMMARY_KEYS == tuple(written)
    assert tuple(on_disk["best"]) == BEST_KEYS
    assert final_model(on_disk).kind == "ensemble"

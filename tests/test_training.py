"""The training recipe's pieces: the learning-rate schedule, on its own and inside the loop."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from data.batches import PaddedBatches
from data.config import DataConfig
from data.prepare import prepare_data
from tune.config import TrainConfig
from tune.train.loop import lr_factor, make_optimizer, model_for, train_epochs


def test_cosine_falls_from_the_peak_to_zero():
    curve = [lr_factor(step, 100, "cosine") for step in range(100)]
    assert curve[0] == 1.0
    assert curve[-1] < 0.01
    assert all(a >= b for a, b in zip(curve, curve[1:], strict=False))
    assert lr_factor(50, 100, "cosine") == pytest.approx(0.5)


def test_warmup_rises_linearly_then_holds():
    curve = [lr_factor(step, 100, "constant", warmup=0.1) for step in range(100)]
    assert curve[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert set(curve[10:]) == {1.0}


def test_onecycle_rises_to_the_peak_at_30_percent_then_falls():
    curve = [lr_factor(step, 100, "onecycle") for step in range(100)]
    assert curve[0] == pytest.approx(1 / 25)
    assert max(curve) == pytest.approx(1.0) and curve.index(max(curve)) == 30
    assert curve[-1] < 0.01


@pytest.mark.parametrize("schedule, last_share", [("constant", 1.0), ("cosine", 0.0)])
def test_the_loop_sets_the_learning_rate_each_step(tmp_path, schedule, last_share):
    """After the last step of the last epoch the optimizer holds the schedule's final rate; a run
    resumed at epoch 2 follows the same curve (it is a function of the step alone)."""
    data = prepare_data(
        DataConfig(dataset="synthetic", synthetic_samples=200, cache_dir=str(tmp_path))
    )
    cfg = TrainConfig(
        model="gru", embed_dim=8, hidden_dim=8, epochs=2, lr=0.01, lr_schedule=schedule
    )
    model = model_for(cfg, len(data.vocab), len(data.class_names))
    optimizer = make_optimizer(model, cfg)
    list(train_epochs(model, optimizer, data.train, data.val, cfg, torch.device("cpu")))
    steps = 2 * len(PaddedBatches(data.train, cfg.batch_size))
    expected = 0.01 * lr_factor(steps - 1, steps, schedule)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([expected] * 2, abs=1e-9)
    assert math.isclose(expected, 0.01 * last_share, abs_tol=1e-3)
    resumed = make_optimizer(model, cfg)
    list(train_epochs(model, resumed, data.train, data.val, cfg, torch.device("cpu"), 1))
    assert [g["lr"] for g in resumed.param_groups] == pytest.approx([expected] * 2, abs=1e-9)


@pytest.mark.parametrize("scaling, expected", [("none", 0.01), ("sqrt", 0.02), ("linear", 0.04)])
def test_lr_scales_with_the_batch_size(scaling, expected):
    """lr is the rate at batch 64: batch 256 takes 2x (sqrt) or 4x (linear) of it."""
    cfg = TrainConfig(
        model="gru", embed_dim=8, hidden_dim=8, lr=0.01, batch_size=256, lr_scaling=scaling
    )
    optimizer = make_optimizer(model_for(cfg, 50, 4), cfg)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([expected] * 2)
    assert replace(cfg, batch_size=64).effective_lr == pytest.approx(0.01)

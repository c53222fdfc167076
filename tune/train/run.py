"""One model trained end to end: data, model, epochs, the best-validation epoch's checkpoint,
one test score. `rnn-tune train` calls it; a sweep's trials use `tune.sweep.trial` instead.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from base.files import atomic_write_text
from base.run_dir import CONFIG_FILE, METRICS_FILE, MODEL_FILE
from models.classifier import count_parameters
from tune.config import Config, write_config_json
from tune.progress import ProgressBar
from tune.train.checkpoint import save_checkpoint
from tune.train.device import describe, resolve_device
from tune.train.loop import (
    evaluate,
    make_optimizer,
    model_for,
    set_seed,
    train_epochs,
)
from tune.train.prepare import prepare_run


def train_run(cfg: Config, out: Path) -> dict[str, Any]:
    """Train `cfg`, write config.json, model.pt and metrics.json to `out`; return the metrics."""
    device = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    started = time.perf_counter()
    cfg, data = prepare_run(cfg)
    set_seed(cfg.train.seed)
    vectors = data.for_training().vectors_for(cfg.train.vectors)
    model = model_for(cfg.train, len(data.vocab), len(data.class_names), vectors).to(device)
    optimizer = make_optimizer(model, cfg.train)
    print(
        f"model: {cfg.train.model} ({count_parameters(model):,} parameters) on {describe(device)}"
    )
    out.mkdir(parents=True, exist_ok=True)
    write_config_json(cfg, out / CONFIG_FILE)

    best_acc, best_state, best_epoch, history = -1.0, None, 0, []
    bar = ProgressBar("train")
    epochs = train_epochs(model, optimizer, data.train, data.val, cfg.train, device, on_batch=bar)
    for report in epochs:
        bar.close()
        t, v = report.train, report.val
        history.append(report.record())
        print(
            f"epoch {report.epoch}/{cfg.train.epochs}  loss {t.loss:.4f}  acc {t.acc:.2%}  "
            f"val_loss {v.loss:.4f}  "
            f"val_acc {v.acc:.2%}  {t.samples_per_s:,.0f} samples/s  {t.seconds:.1f}s",
            flush=True,
        )
        if v.acc > best_acc:
            best_acc, best_epoch, best_state = (
                v.acc,
                report.epoch,
                copy.deepcopy(model.state_dict()),
            )
        bar = ProgressBar("train")

    model.load_state_dict(best_state)
    test = evaluate(model, data.test, device, cfg.train.precision)
    samples_per_s = sum(h["train_samples_per_s"] for h in history) / len(history)
    metrics = {
        "val_acc": best_acc,
        "test_acc": test.acc,
        "test_loss": test.loss,
        "best_epoch": best_epoch,
        "epochs": len(history),
        "train_samples_per_s": samples_per_s,
        "parameters": count_parameters(model),
        "device": describe(device),
        "wall_s": time.perf_counter() - started,
        "history": history,
    }
    checkpoint = save_checkpoint(
        out, model, cfg, data.class_names, best_epoch, metrics, vocab=data.vocab
    )
    metrics["checkpoint"] = str(checkpoint)
    atomic_write_text(out / METRICS_FILE, json.dumps(metrics, indent=2))
    print(
        f"best val_acc {best_acc:.2%} (epoch {best_epoch}), test_acc {test.acc:.2%}; checkpoint "
        f"{out / MODEL_FILE}"
    )
    return metrics

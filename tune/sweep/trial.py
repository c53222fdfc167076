"""The Ray Tune trial: rebuild the config, train epoch by epoch, checkpoint and report each
epoch."""

from __future__ import annotations

import itertools
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from data.prepare import TrainingData
from models.classifier import count_parameters
from tune.config import Config
from tune.sweep.objective import measures_latency
from tune.sweep.trial_monitor import TrialMonitor
from tune.train.checkpoint import restore_training, save_checkpoint
from tune.train.device import describe, resolve_device
from tune.train.inference import request_latency_ms
from tune.train.loop import NonFiniteLossError, make_optimizer, model_for, set_seed, train_epochs

FAULT_ENV = "RNN_TUNE_FAULT"
_TRIALS_IN_PROCESS = itertools.count()


def trial_config(base: dict[str, Any], sampled: dict[str, Any]) -> Config:
    """Ray's dict of sampled values -> the typed run config (unknown keys rejected)."""
    return Config.from_dict(base).with_train(**sampled)


def run_trial(
    sampled: dict[str, Any], base: dict[str, Any], data: TrainingData, sweep: str = "sweep"
) -> None:
    cfg = trial_config(base, sampled)
    started = time.perf_counter()
    # A new actor's CPU counts from its process start (Ray's worker, imports), a reused one's
    # from this trial's start.
    cpu_origin = 0.0 if next(_TRIALS_IN_PROCESS) == 0 else time.process_time()
    context = ray.get_runtime_context()
    cpus = context.get_assigned_resources().get("CPU", 1)
    trial_id = tune.get_context().get_trial_id()
    monitor = TrialMonitor(sweep, trial_id, cfg.train.model, cfg.train.epochs)
    torch.set_num_threads(cfg.train.threads or max(1, int(cpus)))
    device = resolve_device(cfg.train.device)
    set_seed(cfg.train.seed)
    num_classes = len(data.class_names)
    checkpoint = tune.get_checkpoint()
    optimizer_state, start_epoch = None, 0
    if checkpoint:
        with checkpoint.as_directory() as directory:
            model, optimizer_state, start_epoch = restore_training(
                Path(directory), cfg, data.vocab_size, num_classes, device
            )
    else:
        vectors = data.vectors_for(cfg.train.vectors)
        model = model_for(cfg.train, data.vocab_size, num_classes, vectors).to(device)
    _inject_nan(model, cfg.train.model)
    optimizer = make_optimizer(model, cfg.train)
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    first_step: list[tuple[float, float]] = []
    finished_epochs: list[int] = []

    def on_batch(step: int, total: int) -> None:
        if not first_step:
            first_step.append((time.perf_counter() - started, time.process_time() - cpu_origin))
        if step == total // 2:
            _inject_kill(start_epoch + len(finished_epochs) + 1)

    static = {
        "model": cfg.train.model,
        "device": describe(device),
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "actor_id": context.get_actor_id(),
        "parameters": count_parameters(model),
        "cpus": cpus,
        "threads": torch.get_num_threads(),
    }
    epochs = train_epochs(
        model, optimizer, data.train, data.val, cfg.train, device, start_epoch, on_batch
    )
    try:
        for report in epochs:
            startup = _startup(first_step)
            finished_epochs.append(report.epoch)
            _inject_fault(report.epoch)
            monitor.epoch(
                report.epoch, report.val.acc, report.train.loss, report.train.samples_per_s
            )
            if measures_latency(cfg.sweep.objective) and "latency_ms" not in static:
                static["latency_ms"] = request_latency_ms(model, data.val)
            metrics = {
                **report.record(),
                **startup,
                "resumed_from_epoch": start_epoch,
                "error": None,
                **static,
            }
            last = report.epoch >= cfg.train.epochs
            with tempfile.TemporaryDirectory() as directory:
                save_checkpoint(
                    Path(directory),
                    model,
                    cfg,
                    data.class_names,
                    report.epoch,
                    {k: v for k, v in metrics.items() if k not in startup},
                    optimizer=None if last else optimizer,
                    val_probs=report.val.probs,
                )
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
    except NonFiniteLossError as exc:
        # End this trial as failed without a retry: rerunning from its checkpoint would diverge
        # again.
        tune.report(
            {
                "epoch": start_epoch,
                "val_acc": 0.0,
                "val_loss": float("inf"),
                "error": f"NonFiniteLossError: {exc}",
                **_startup(first_step),
                "latency_ms": None,  # an objective's metric must be present (Ray checks)
                **static,
            }
        )


def _startup(first_step: list[tuple[float, float]]) -> dict[str, float | None]:
    """Wall seconds from the trial function's start and CPU-seconds of its process (from the
    process's start for a new actor) to the first finished training step."""
    wall, cpu = first_step[0] if first_step else (None, None)
    return {"startup_s": wall, "startup_cpu_s": cpu}


def _inject_nan(model: torch.nn.Module, family: str) -> None:
    """Testing hook: RNN_TUNE_FAULT=nan:FAMILY corrupts that family's embedding so its loss is
    NaN."""
    if os.environ.get(FAULT_ENV, "") == f"nan:{family}":
        with torch.no_grad():
            model.embedding.weight.fill_(float("nan"))


def _first_time(kind: str, epoch: int) -> bool:
    """RNN_TUNE_FAULT=KIND:EPOCH:MARKER_FILE names this fault at `epoch`, and it has not happened
    yet (the marker file, created once, remembers it across processes)."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec.startswith(f"{kind}:"):
        return False
    _, at_epoch, marker = spec.split(":", 2)
    if epoch != int(at_epoch):
        return False
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _inject_fault(epoch: int) -> None:
    """Testing hook: RNN_TUNE_FAULT=crash_once:EPOCH:MARKER raises in one trial once at EPOCH."""
    if _first_time("crash_once", epoch):
        raise RuntimeError(f"injected crash at epoch {epoch} ({FAULT_ENV})")


def _inject_kill(epoch: int) -> None:
    """Testing hook: RNN_TUNE_FAULT=kill_once:EPOCH:MARKER SIGKILLs one trial's process once,
    halfway through EPOCH: the process dies, nothing is raised."""
    if _first_time("kill_once", epoch):
        os.kill(os.getpid(), signal.SIGKILL)

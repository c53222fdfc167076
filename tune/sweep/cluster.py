"""Joining or starting Ray, and the cluster checks a sweep makes before its first trial.

Start-up settings, the dashboard's binding, shared-storage and resource checks live here; the
sweep itself (search, scheduler, results) is in `driver.py`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from tune.config import Config, ConfigError
from tune.sweep.ray_env import set_ray_environment

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PACKAGES = ("base", "data", "models", "tune", "results")  # what a trial on another node imports


def shipped_packages() -> list[str]:
    """The project's package folders, shipped to a cluster's nodes as Ray `py_modules`."""
    root = Path(__file__).resolve().parents[2]  # tune/sweep/cluster.py -> the checkout
    return [str(root / p) for p in PACKAGES]


@dataclass(frozen=True)
class RayInfo:
    """Where to watch the sweep: the dashboard, the nodes' metrics endpoints, Ray's session logs."""

    dashboard: str | None
    token_auth: bool
    metrics: list[str]
    logs: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def start_ray(cfg: Config, run_name: str, quiet: bool = False) -> RayInfo:
    """Join a cluster (`--address`, or the one a Ray Job runs in) or start a local Ray.

    A local Ray's dashboard binds 127.0.0.1 unless `--dashboard-host` says otherwise. Joining from
    outside, the project's packages travel to the workers in the runtime environment, so nodes
    need no manual install.
    """
    s = cfg.sweep
    set_ray_environment(cfg)  # the CLI sets it before importing Ray; here for other callers
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "namespace": "rnn-tune",
    }
    in_job = inside_ray_job()
    client_mode = bool(s.address and s.address.startswith("ray://"))
    if not in_job and not client_mode:
        kwargs["job_config"] = ray.job_config.JobConfig(metadata={"rnn_tune_sweep": run_name})
    if s.address:
        kwargs["address"] = s.address
        if not in_job:
            kwargs["runtime_env"] = {"py_modules": shipped_packages()}
    elif not os.environ.get("RAY_ADDRESS"):
        warning = dashboard_warning(cfg)
        if warning:
            print(warning, flush=True)
        kwargs.update(
            include_dashboard=s.dashboard,
            dashboard_host=s.dashboard_host,
            dashboard_port=s.dashboard_port,
        )
    context = _init_with_retries(kwargs, attempts=3 if client_mode else 1)
    url = getattr(context, "dashboard_url", None)
    dashboard = f"http://{url}" if s.dashboard and url else None
    info = RayInfo(
        dashboard=dashboard,
        token_auth=bool(dashboard) and _token_auth(dashboard),
        metrics=[
            f"http://{n['NodeManagerAddress']}:{n['MetricsExportPort']}/metrics"
            for n in ray.nodes()
            if n.get("Alive") and n.get("MetricsExportPort")
        ],
        logs=(getattr(context, "address_info", None) or {}).get("session_dir"),
    )
    if not quiet and dashboard:
        print(dashboard_line(info), flush=True)
    return info


def _token_auth(dashboard: str) -> bool:
    """Whether the dashboard wants Ray's token (its public /api/authentication_mode says so)."""
    try:
        with urllib.request.urlopen(f"{dashboard}/api/authentication_mode", timeout=5) as reply:
            return json.loads(reply.read()).get("authentication_mode") == "token"
    except (OSError, ValueError):
        return False


def dashboard_line(info: RayInfo) -> str:
    """The dashboard's address and, when Ray's token auth is on, how to get in."""
    line = f"dashboard: {info.dashboard}"
    if info.token_auth:
        where = (
            "$RAY_AUTH_TOKEN"
            if os.environ.get("RAY_AUTH_TOKEN")
            else os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"
        )
        line += (
            f"  (it asks for Ray's token: paste what `ray get-auth-token` prints; it is kept in "
            f"{where})"
        )
    return line


def _init_with_retries(kwargs: dict[str, Any], attempts: int):
    """ray.init; a Ray Client server sometimes fails to start its per-client server: retry.

    Joining an address, Ray's own connection warnings are held back: replayed when the join
    works, replaced by one line when it does not.
    """
    for attempt in range(1, attempts + 1):
        try:
            with held_stderr(bool(kwargs.get("address"))) as held:
                context = ray.init(**kwargs)
            sys.stderr.write("".join(held))
            return context
        except ConnectionError as exc:
            if attempt == attempts:
                raise ConfigError(
                    f"cannot connect to {kwargs.get('address')} ({type(exc).__name__}): nothing "
                    "there speaks Ray; check --address and that the cluster is up"
                ) from None
            time.sleep(2 * attempt)


@contextmanager
def held_stderr(hold: bool) -> Iterator[list[str]]:
    """Send file descriptor 2 (where Ray's C++ core logs) to a temporary file for a while; the
    list it yields holds what was written there once the block ends."""
    held: list[str] = []
    if not hold:
        yield held
        return
    with tempfile.TemporaryFile("w+") as file:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(file.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            file.seek(0)
            held.append(file.read())


def dashboard_warning(cfg: Config) -> str | None:
    """The warning printed when the local dashboard binds anything but loopback."""
    s = cfg.sweep
    if not s.dashboard or s.dashboard_host in LOOPBACK:
        return None
    return (
        f"WARNING: the Ray dashboard will listen on {s.dashboard_host}:{s.dashboard_port}. Ray's "
        "job API runs any code "
        "sent to it (CVE-2023-48022): expose it only on a trusted network, with Ray token "
        "authentication on."
    )


def inside_ray_job() -> bool:
    return bool(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"))


def check_storage_visible(run_dir: Path) -> None:
    """On a multi-node cluster, fail early unless every node sees the run directory.

    Since Ray 2.7 checkpoints are no longer synced to the head node: a node-local path would lose
    them.
    """
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) < 2:
        return
    marker = run_dir / f".visible-{os.getpid()}"
    marker.write_text("rnn-tune")
    try:
        probe = ray.remote(num_cpus=0)(os.path.exists)
        refs = [
            probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(marker))
            for n in nodes
        ]
        seen = ray.get(refs, timeout=120)
    finally:
        marker.unlink(missing_ok=True)
    blind = [n["NodeManagerAddress"] for n, ok in zip(nodes, seen) if not ok]
    if blind:
        raise ConfigError(
            f"--storage {run_dir.parent} is not visible from node(s) {', '.join(blind)}: on a "
            "multi-node cluster use a directory every node mounts (e.g. NFS) so checkpoints are "
            "not lost"
        )


def check_resources(cfg: Config, nodes: list[dict[str, float]] | None = None) -> None:
    """Fail early when no node can ever hold one trial (Ray would leave it pending forever).

    `nodes` ({"CPU": n, "GPU": m} each) defaults to the running Ray's live nodes.
    """
    if nodes is None:
        nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
    s = cfg.sweep
    if not any(
        r.get("CPU", 0) >= s.cpus_per_trial and r.get("GPU", 0) >= s.gpus_per_trial for r in nodes
    ):
        largest = max(nodes, key=lambda r: (r.get("GPU", 0), r.get("CPU", 0)), default={})
        raise ConfigError(
            f"no node has {s.cpus_per_trial:g} CPUs and {s.gpus_per_trial:g} GPUs for one trial "
            f"(largest: {largest.get('CPU', 0):g} CPUs, {largest.get('GPU', 0):g} GPUs); lower "
            "--cpus-per-trial/--gpus-per-trial"
        )


def joins_cluster(cfg: Config) -> bool:
    return bool(cfg.sweep.address or os.environ.get("RAY_ADDRESS") or inside_ray_job())


def preflight(cfg: Config) -> None:
    """Checks that need no Ray and write nothing, made before a run directory is touched: the
    cluster address answers, or this machine can hold one trial."""
    if cfg.sweep.address and cfg.sweep.address != "auto":
        check_address(cfg.sweep.address)
    elif not joins_cluster(cfg):
        import torch

        check_resources(cfg, [{"CPU": os.cpu_count() or 1, "GPU": torch.cuda.device_count()}])


# An HTTP/2 client's opening (the preface and an empty SETTINGS frame); a gRPC server such as
# Ray's GCS or Ray Client answers with its own SETTINGS frame (type 4, the frame's 4th byte).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
SETTINGS_FRAME = 4


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """HOST:PORT or ray://HOST:PORT, with a gRPC server answering there (Ray alone would retry
    for minutes against a port that accepts and stays silent)."""
    match = re.fullmatch(r"(?:ray://)?\[?([^\[\]/]+?)\]?:(\d+)", address)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise ConfigError(
            f"--address {address!r} is not HOST:PORT, ray://HOST:PORT or auto (port 1-65535)"
        )
    host, port = match.group(1), int(match.group(2))
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.sendall(HTTP2_PREFACE)
            reply = conn.recv(9)
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ConfigError(
            f"nothing answers at --address {address} ({reason}); check the address and that the "
            "cluster is up"
        ) from None
    if len(reply) < 4 or reply[3] != SETTINGS_FRAME:
        raise ConfigError(
            f"--address {address} answers, but not as Ray does (gRPC over HTTP/2); check the "
            "address and port of the cluster's head"
        )

"""The Kubernetes recipe (deploy/k8s/), checked offline: each manifest against KubeRay's own CRD
schema, its images and packages against the pinned versions, its storage against what a sweep
needs, and the RayJob's entrypoint through rnn-tune's real parser and config checks. The
entrypoint then runs here as written (local folder for the volume), is killed like a head pod,
and run again: it resumes.

What only a real cluster shows (pods start, the operator's CEL rules, the image pulls) is not
checked here."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from processes import kill_tree

from tune.cli.main import build_parser
from tune.cli.sweep import sweep_config
from tune.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
CRDS = Path(os.environ.get("RNN_TUNE_K8S_CRDS", REPO.parent / "shared" / "k8s" / "crds"))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RAY_KINDS = ("RayJob", "RayCluster")
ENTRYPOINT_PREFIX = ["python", "-m", "tune.cli.main"]
RUNTIME_ENV = K8S / "runtime-env.yaml"  # a runtime environment for `ray job submit`, no manifest


def manifests() -> list[tuple[str, dict]]:
    """(file name and document index, document) for every YAML document in deploy/k8s."""
    found = []
    for path in sorted(set(K8S.glob("*.yaml")) - {RUNTIME_ENV}):
        for i, doc in enumerate(yaml.load_all(path.read_text(), Loader=LOADER)):
            if doc is not None:
                found.append((f"{path.name}#{i}", doc))
    return found


def ray_manifests() -> list[tuple[str, dict]]:
    return [(name, doc) for name, doc in manifests() if doc.get("kind") in RAY_KINDS]


def pinned() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def strict(schema):
    """The schema with unknown fields refused, as `kubectl apply` (strict field validation) does:
    every object that lists its properties, and neither allows others nor preserves unknown
    fields, gets additionalProperties: false."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], dict]:
    """{(apiVersion, kind): strict OpenAPI v3 schema} from KubeRay's CRDs in ../shared/k8s."""
    if not CRDS.is_dir():
        pytest.skip(f"KubeRay's CRDs not found at {CRDS} (../shared/k8s/crds)")
    schemas = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.load(path.read_text(), Loader=LOADER)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def schema_errors(doc: dict, schemas: dict) -> list[str]:
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in schemas:
        return [f"no served CRD version for {key}"]
    validator = jsonschema.Draft4Validator(schemas[key])
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(doc)
    ]


def pod_specs(doc: dict) -> list[tuple[str, dict]]:
    """(group, pod spec) of the head and of every worker group of a RayJob or RayCluster."""
    cluster = doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]
    pods = [("head", cluster["headGroupSpec"]["template"]["spec"])]
    pods += [(g["groupName"], g["template"]["spec"]) for g in cluster.get("workerGroupSpecs", [])]
    return pods


def entrypoint_argv(doc: dict) -> list[str]:
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[:3] == ENTRYPOINT_PREFIX, f"entrypoint must start with {ENTRYPOINT_PREFIX}"
    return argv[3:]


def option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def uncommented_gpu_group(text: str) -> dict:
    """The RayJob's commented-out GPU worker group, uncommented and parsed."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# - groupName: gpu")
    indent = lines[start].index("#")
    block = []
    for line in lines[start:]:
        if not line.startswith(" " * indent + "#"):
            break
        block.append(" " * indent + line[indent + 2 :])
    return yaml.safe_load("\n".join(block))[0]


def test_the_recipe_holds_a_rayjob_a_raycluster_and_the_shared_volume():
    kinds = [doc["kind"] for _, doc in manifests()]
    assert {"RayJob", "RayCluster", "PersistentVolumeClaim"} <= set(kinds), kinds


@pytest.mark.parametrize("name,doc", ray_manifests(), ids=[n for n, _ in ray_manifests()])
def test_every_ray_manifest_validates_against_kuberay_schema(name, doc, crd_schemas):
    assert doc["apiVersion"] == "ray.io/v1", "ray.io/v1 is KubeRay's storage version"
    assert schema_errors(doc, crd_schemas) == []
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,45}[a-z0-9])?", doc["metadata"]["name"]), (
        "a RayCluster's name must be a DNS label short enough for the Services KubeRay derives"
    )


@pytest.mark.parametrize(
    "break_it,expected",
    [
        (lambda d: d["spec"].update(shutdownAfterJobFinish=True), "shutdownAfterJobFinish"),
        (lambda d: d["spec"].update(ttlSecondsAfterFinished="600"), "'600' is not of type"),
        (
            lambda d: d["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"][
                "containers"
            ][0].update(volumeMount=[]),
            "volumeMount",
        ),
        (lambda d: d["spec"]["rayClusterSpec"]["authOptions"].update(mode="tokens"), "tokens"),
        (lambda d: d["spec"]["rayClusterSpec"].pop("headGroupSpec"), "headGroupSpec"),
    ],
    ids=["misspelled-field", "wrong-type", "misspelled-pod-field", "bad-enum", "missing-field"],
)
def test_a_broken_copy_of_the_rayjob_fails_validation(break_it, expected, crd_schemas):
    doc = copy.deepcopy(dict(ray_manifests())["rayjob.yaml#0"])
    break_it(doc)
    errors = schema_errors(doc, crd_schemas)
    assert any(expected in e for e in errors), errors


def test_the_commented_gpu_worker_group_validates_once_uncommented(crd_schemas):
    doc = copy.deepcopy(dict(ray_manifests())["rayjob.yaml#0"])
    gpu = uncommented_gpu_group((K8S / "rayjob.yaml").read_text())
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    doc["spec"]["rayClusterSpec"]["workerGroupSpecs"].append(gpu)
    assert schema_errors(doc, crd_schemas) == []


def test_images_and_ray_versions_are_the_pinned_ray():
    ray = pinned()["ray"]
    python = "py" + "".join(map(str, sys.version_info[:2]))
    images = []
    for name, doc in ray_manifests():
        cluster = doc["spec"].get("rayClusterSpec", doc["spec"])
        assert cluster["rayVersion"] == ray, name
        for _, pod in pod_specs(doc):
            images += [c["image"] for c in pod["containers"]]
    gpu = uncommented_gpu_group((K8S / "rayjob.yaml").read_text())
    images.append(gpu["template"]["spec"]["containers"][0]["image"])
    base = re.search(r"^FROM\s+(\S+)", (K8S / "Dockerfile").read_text(), re.M)
    images.append(base.group(1))
    for image in images:
        match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-(py\d+)(-gpu)?", image)
        assert match, f"{image} is not a stock rayproject/ray image"
        assert match.group(1) == ray, f"{image}: Ray {match.group(1)}, constraints.txt pins {ray}"
        assert match.group(2) == python, f"{image}: the tests run on {python}"


def test_runtime_env_pins_the_project_dependencies_as_constraints_does():
    from ray.runtime_env import RuntimeEnv

    pins = pinned()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    needed = {re.match(r"[A-Za-z0-9_-]+", d).group(0).lower() for d in project} - {"ray"}
    standalone = yaml.safe_load(RUNTIME_ENV.read_text())
    envs = [standalone] + [
        yaml.safe_load(doc["spec"]["runtimeEnvYAML"])
        for _, doc in ray_manifests()
        if doc["kind"] == "RayJob"
    ]
    for env in envs:
        RuntimeEnv(**env)  # Ray's own check of the fields
        assert env["pip"] == standalone["pip"], "keep the RayJobs' pip block as runtime-env.yaml"
        packages = dict(p.split("==") for p in env["pip"]["packages"])
        assert set(packages) == needed
        assert {k: v for k, v in packages.items() if pins[k] != v} == {}
    for env in envs[1:]:
        assert re.fullmatch(r"(https|s3|gs)://\S+\.zip", env["working_dir"]), env["working_dir"]


def test_storage_is_a_volume_every_pod_mounts():
    claims = {
        doc["metadata"]["name"]: doc["spec"]["accessModes"]
        for _, doc in manifests()
        if doc["kind"] == "PersistentVolumeClaim"
    }
    for name, doc in ray_manifests():
        mounts = {}
        for group, pod in pod_specs(doc):
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            mounts[group] = {}
            for container in pod["containers"]:
                for mount in container.get("volumeMounts", []):
                    claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
                    assert claim in claims, f"{name}: no claim {claim} in deploy/k8s"
                    mounts[group][mount["mountPath"]] = claim
        if doc["kind"] == "RayCluster":
            assert all("/mnt/runs" in m for m in mounts.values()), (name, mounts)
            continue
        argv = entrypoint_argv(doc)
        storage = option(argv, "--storage")
        shared = storage if "://" not in storage else option(argv, "--local-dir")
        needs = mounts if "://" not in storage else {"head": mounts["head"]}
        for group, paths in needs.items():
            under = [p for p in paths if shared == p or shared.startswith(p.rstrip("/") + "/")]
            assert under, f"{name}: {shared} is on no volume of the {group} pods"
            if "://" not in storage:
                assert "ReadWriteMany" in claims[paths[under[0]]], f"{name}: {group}"


@pytest.mark.parametrize(
    "name,doc",
    [(n, d) for n, d in ray_manifests() if d["kind"] == "RayJob"],
    ids=[n for n, d in ray_manifests() if d["kind"] == "RayJob"],
)
def test_the_rayjob_entrypoint_is_a_valid_resumable_sweep_command(name, doc):
    args = build_parser().parse_args(entrypoint_argv(doc))
    assert args.command == "sweep" and args.resume_existing
    cfg = sweep_config(args)  # every setting and the search space checked, as the CLI does
    assert cfg.sweep.name == args.name


def test_a_broken_entrypoint_is_refused_by_the_same_checks(capsys):
    argv = entrypoint_argv(dict(ray_manifests())["rayjob.yaml#0"])
    with pytest.raises(SystemExit) as parser_refusal:
        build_parser().parse_args([*argv, "--time-budget", "soon"])
    assert parser_refusal.value.code == 2 and "invalid duration 'soon'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="grace_period .* exceeds train.epochs"):
        sweep_config(build_parser().parse_args([*argv, "--grace-period", "99"]))
    name = argv.index("--name")
    with pytest.raises(ConfigError, match="--resume-existing needs --name"):
        sweep_config(build_parser().parse_args(argv[:name] + argv[name + 2 :]))


# A small run of the same command: the synthetic data and tiny models instead of AG_NEWS.
SMALL = [
    "--dataset", "synthetic", "--synthetic-samples", "20000", "--num-samples", "4",
    "--epochs", "2", "--grace-period", "2", "--max-concurrent", "1",
    "--embed-dim", "16", "--hidden-dim", "16", "--no-dashboard", "--no-report",
]  # fmt: skip


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_the_rayjob_entrypoint_run_again_after_a_head_kill_resumes_its_run(tmp_path):
    doc = dict(ray_manifests())["rayjob.yaml#0"]
    volume = tmp_path / "volume"
    argv = [a.replace("/mnt/runs", str(volume)) for a in entrypoint_argv(doc)]
    command = [sys.executable, "-m", "tune.cli.main", *argv, *SMALL]
    run_dir = volume / option(argv, "--name")

    first = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and not any(r["event"] == "complete" for r in records(run_dir)):
        time.sleep(0.5)
    time.sleep(2)  # Ray snapshots its experiment state once a second
    kill_tree(first)  # the head pod dies, and every process in it
    before = records(run_dir)
    finished = {r["trial_id"] for r in before if r["event"] == "complete"}
    assert 1 <= len(finished) < 4, before

    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert f"resuming {run_dir}" in again.stdout
    after = records(run_dir)[len(before) :]
    assert not finished & {r["trial_id"] for r in after if r["event"] == "start"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["completed"] == 4

    third = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "has finished already" in third.stdout
    assert json.loads((run_dir / "summary.json").read_text()) == summary

#!/usr/bin/env bash
# GPU check for one CUDA GPU without network, within 10 minutes (no data download: synthetic rows).
#   bash benchmarks/gpu_check.sh            # from the repository root, with the project installed
# 1. The training step on CUDA: packed vs padded layers, fp32 vs bf16 autocast (samples/s).
# 2. A short sweep with four trials sharing the GPU (--gpus-per-trial 0.25): every trial must
#    report a cuda device and the sweep must finish.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== training step on CUDA"
timeout 300 python benchmarks/train_step.py --cuda --samples 20000

echo "== sweep: 8 trials, 4 per GPU"
out="$(mktemp -d)"
export RNN_TUNE_CACHE_DIR="$out/cache"
timeout 300 rnn-tune sweep --dataset synthetic --synthetic-samples 20000 --num-samples 8 --epochs 2 \
    --gpus-per-trial 0.25 --cpus-per-trial 1 --storage "$out" --name gpu --no-dashboard --no-report
python - "$out/gpu" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
results = [json.loads(l) for l in (run / "trials.jsonl").read_text().splitlines()]
results = [r for r in results if r["event"] == "result"]
devices = {r["metrics"]["device"] for r in results}
starts = sorted((r["time"], r["trial_id"]) for r in map(json.loads, (run / "trials.jsonl").read_text().splitlines()) if r["event"] == "start")
summary = json.loads((run / "summary.json").read_text())
print("devices:", devices)
print("samples/s per trial:", sorted(round(r["metrics"]["train_samples_per_s"]) for r in results if r["metrics"]["epoch"] == 1))
print("trials", summary["trials"], "completed", summary["completed"], "stopped early", summary["stopped_early"],
      "errored", summary["errored"], "wall_s", round(summary["wall_s"], 1))
assert all(d.startswith("cuda") for d in devices), devices
PY

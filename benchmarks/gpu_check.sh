#!/usr/bin/env bash
# The engine on one NVIDIA GPU in under 8 minutes (see ../shared/GPU.md and docs/engine.md).
# On the device machine: carry the pure-Python wheels the image lacks (.whl/), then
#   bash benchmarks/gpu_check.sh            -> last line: one JSON object (also in $OUT/gpu_check.json)
# On a CPU: bash benchmarks/gpu_check.sh --quick (a smoke test of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target .site .whl/*.whl
    export PYTHONPATH="$PWD/.site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
PY=python3
[ -x .venv/bin/python ] && [ -z "${PELSIM_GPU_SYSTEM_PYTHON:-}" ] && PY=.venv/bin/python
export PELSIM_JAX_CACHE="${PELSIM_JAX_CACHE:-$(mktemp -d)}"
out="${OUT:-.}/gpu_check.json"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2
# stderr (progress) also goes to gpu_check.log; each finished part is saved in gpu_check_partial.json
timeout 470 "$PY" benchmarks/gpu_check.py "$@" 2> >(tee "${OUT:-.}/gpu_check.log" >&2) | tail -1 > "$out"
cat "$out"

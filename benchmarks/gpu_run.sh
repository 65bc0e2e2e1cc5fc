#!/usr/bin/env bash
# Every GPU check and benchmark of the project in one command, for a lent GPU machine (the device tool):
#   bash benchmarks/gpu_run.sh OUTDIR [all|tests]
# Writes OUTDIR/cuda.json, OUTDIR/cuda_bf16.json (benchmarks/speed.py on CUDA, fp32 with the
# reference-style loops beside it, and bf16),
# OUTDIR/pytest.log (the whole test suite, whose agents run on CUDA there: device "auto") and
# OUTDIR/env.txt. With `tests`, only the test suite runs (limit GPU_TEST_S, default 330 s) and
# OUTDIR/imports.txt says which optional packages the machine lacks. Wheels for packages the GPU
# image lacks (gymnasium) are taken from .whl/ if present:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl gymnasium==1.4.0 farama-notifications==0.0.6
set -u
OUT_DIR=${1:?usage: gpu_run.sh OUTDIR [all|tests]}
MODE=${2:-all}
mkdir -p "$OUT_DIR"
source benchmarks/gpu_env.sh
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
    python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"
    nproc
} 2>&1 | tee "$OUT_DIR/env.txt"
# The whole suite, agents on CUDA where their device is "auto". -v names every test as it ends
# (addopts emptied: pyproject's -q would cancel it), so a log cut short still says what ran; a test
# stuck past 150 s fails alone. tests/conftest.py gives each of the 12 workers its share of the cores.
run_tests() {
    local t0; t0=$(date +%s)
    timeout "$1" python3 -m pytest tests -o addopts="" -v -p no:cacheprovider -p no:benchmark -n 12 \
        --timeout 150 -rfEs --tb=short > "$OUT_DIR/pytest.log" 2>&1
    local rc=$?
    echo "[pytest: $(( $(date +%s) - t0 )) s, exit $rc]"
    grep -E "passed|failed|error" "$OUT_DIR/pytest.log" | tail -n 3
    grep -E "^(FAILED|ERROR)" "$OUT_DIR/pytest.log" | head -n 40
}
if [ "$MODE" = tests ]; then
    for m in torch numpy gymnasium safetensors tensorboard matplotlib tqdm h5py pytest hypothesis xdist pytest_timeout \
             mujoco gymnasium_robotics metaworld minari ogbench; do
        python3 -c "import $m" >/dev/null 2>&1 && echo "$m ok" || echo "$m MISSING"
    done > "$OUT_DIR/imports.txt"
    tr '\n' ' ' < "$OUT_DIR/imports.txt"; echo
    run_tests "${GPU_TEST_S:-330}"
    exit 0
fi
t0=$(date +%s)
timeout 170 python3 benchmarks/speed.py --device cuda --with-reference-style --json "$OUT_DIR/cuda.json" 2>&1 | tail -n 40
echo "[fp32 speed: $(( $(date +%s) - t0 )) s]"; t0=$(date +%s)
timeout 90 python3 benchmarks/speed.py --device cuda --precision bf16 --json "$OUT_DIR/cuda_bf16.json" 2>&1 | tail -n 25
echo "[bf16 speed: $(( $(date +%s) - t0 )) s]"
run_tests 200

#!/usr/bin/env bash
# The demo's PointRooms comparison at the paper's network sizes and more updates, on a lent GPU:
#   [SEEDS="0 1"] bash benchmarks/investigations/gpu_pointrooms.sh OUTDIR [key=value ...]
# For each seed (default 0): collects the demo's data for that seed (--detour 0.5 --naive 0.5
# --random 0.3), trains GCSL and then GOPlan with the paper preset and the given overrides (default:
# 15000 pretraining updates and 4 rounds), and writes both runs under OUTDIR/seedS/runs (metrics CSV
# per round, config; the last JSON line in OUTDIR/seedS/gcsl.log and OUTDIR/seedS/goplan.log). The
# seeds run side by side, one pipeline each, on the one GPU. With one seed the layout is the same
# under OUTDIR/seed0. Wheels the GPU image lacks are taken from .whl/ as in gpu_run.sh.
set -u
OUT_DIR=${1:?usage: [SEEDS="0 1"] gpu_pointrooms.sh OUTDIR [key=value ...]}
shift
SETTINGS=("pretrain_updates=15000" "finetune_rounds=4" "$@")
mkdir -p "$OUT_DIR"
source benchmarks/gpu_env.sh
GOPLAN="python3 -m goplan.cli"
pipeline() {  # seed
    local dir="$OUT_DIR/seed$1" t0
    mkdir -p "$dir"
    t0=$(date +%s)
    $GOPLAN collect --task PointRooms --episodes 2000 --seed "$1" --detour 0.5 --naive 0.5 --random 0.3 \
        --out "$dir/rooms.npz" --quiet
    $GOPLAN train --task PointRooms --dataset "$dir/rooms.npz" --seed "$1" --out "$dir/runs" --algo gcsl --quiet \
        "${SETTINGS[@]}" > "$dir/gcsl.log" 2>&1
    echo "[seed $1 gcsl: $(( $(date +%s) - t0 )) s] $(tail -n 1 "$dir/gcsl.log")"; t0=$(date +%s)
    $GOPLAN train --task PointRooms --dataset "$dir/rooms.npz" --seed "$1" --out "$dir/runs" --quiet \
        "${SETTINGS[@]}" > "$dir/goplan.log" 2>&1
    echo "[seed $1 goplan: $(( $(date +%s) - t0 )) s]"
    grep -E "return|round" "$dir/goplan.log" | tail -n 7 | sed "s/^/seed $1: /"
}
for seed in ${SEEDS:-0}; do pipeline "$seed" & done
wait

#!/usr/bin/env bash
# The demo's PointRooms comparison at the paper's network sizes and more updates, on a lent GPU:
#   bash benchmarks/gpu_pointrooms.sh OUTDIR [key=value ...]
# Collects the demo's seed-0 data (--detour 0.5 --naive 0.5 --random 0.3), trains GCSL and then
# GOPlan with the paper preset and the given overrides (default: 15000 pretraining updates and 4
# rounds), and writes both runs under OUTDIR/runs (metrics CSV per round, config, last JSON line in
# OUTDIR/gcsl.log and OUTDIR/goplan.log). Wheels the GPU image lacks are taken from .whl/ as in gpu_run.sh.
set -u
OUT_DIR=${1:?usage: gpu_pointrooms.sh OUTDIR [key=value ...]}
shift
SETTINGS=("pretrain_updates=15000" "finetune_rounds=4" "$@")
mkdir -p "$OUT_DIR"
source benchmarks/gpu_env.sh
GOPLAN="python3 -m goplan.cli"
t0=$(date +%s)
$GOPLAN collect --task PointRooms --episodes 2000 --seed 0 --detour 0.5 --naive 0.5 --random 0.3 \
    --out "$OUT_DIR/rooms.npz" --quiet
$GOPLAN train --task PointRooms --dataset "$OUT_DIR/rooms.npz" --seed 0 --out "$OUT_DIR/runs" --algo gcsl --quiet \
    "${SETTINGS[@]}" > "$OUT_DIR/gcsl.log" 2>&1
echo "[gcsl: $(( $(date +%s) - t0 )) s] $(tail -n 1 "$OUT_DIR/gcsl.log")"; t0=$(date +%s)
$GOPLAN train --task PointRooms --dataset "$OUT_DIR/rooms.npz" --seed 0 --out "$OUT_DIR/runs" --quiet \
    "${SETTINGS[@]}" > "$OUT_DIR/goplan.log" 2>&1
echo "[goplan: $(( $(date +%s) - t0 )) s]"
grep -E "return|round" "$OUT_DIR/goplan.log" | tail -n 12

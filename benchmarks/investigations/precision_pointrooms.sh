#!/usr/bin/env bash
# What bf16 changes in training results on the demo's task: the pretrained ACGAN policy's return
# in three precisions, on the demo's data for each seed:
#   bash benchmarks/investigations/precision_pointrooms.sh OUTDIR SEED [SEED ...] [-- key=value ...]
# Precisions: fp32; bf16 (plan, train and value hidden layers in bf16); bf16 with an fp32 value
# network. Each run is `goplan train --preset cpu finetune_rounds=0` (4000 pretraining updates, then
# evaluation of the policy and GOPlan2), one thread each, two runs at a time. The data are the demo's
# (`goplan collect --episodes 2000 --seed S --detour 0.5 --naive 0.5 --random 0.3`), collected into
# OUTDIR once. Prints one line per run (seed, precision, pretrained return, GOPlan2 return) and writes
# OUTDIR/summary.tsv.
set -u
OUT_DIR=${1:?usage: precision_pointrooms.sh OUTDIR SEED [SEED ...] [-- key=value ...]}
shift
SEEDS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do SEEDS+=("$1"); shift; done
[ $# -gt 0 ] && shift
EXTRA=("finetune_rounds=0" "$@")
[ ${#SEEDS[@]} -gt 0 ] || { echo "give at least one seed" >&2; exit 2; }
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
mkdir -p "$OUT_DIR"
declare -A SETTING=(
    [fp32]=""
    [bf16]="plan_precision=bf16 train_precision=bf16 value_precision=bf16"
    [bf16_value_fp32]="plan_precision=bf16 train_precision=bf16 value_precision=fp32"
)
run() {  # seed precision
    local data="$OUT_DIR/rooms_seed$1.npz"
    # shellcheck disable=SC2086
    $PY -m goplan.cli train --task PointRooms --dataset "$data" --seed "$1" --preset cpu --quiet \
        --out "$OUT_DIR/runs_$2" ${SETTING[$2]} "${EXTRA[@]}" > "$OUT_DIR/seed$1_$2.log" 2>&1
}
for seed in "${SEEDS[@]}"; do
    [ -f "$OUT_DIR/rooms_seed$seed.npz" ] || $PY -m goplan.cli collect --task PointRooms --episodes 2000 \
        --seed "$seed" --detour 0.5 --naive 0.5 --random 0.3 --out "$OUT_DIR/rooms_seed$seed.npz" --quiet
done
jobs_list=()
for seed in "${SEEDS[@]}"; do for p in fp32 bf16 bf16_value_fp32; do jobs_list+=("$seed $p"); done; done
running=0
for job in "${jobs_list[@]}"; do
    # shellcheck disable=SC2086
    run $job &
    running=$((running + 1))
    if [ $running -ge 2 ]; then wait -n; running=$((running - 1)); fi
done
wait
printf "seed\tprecision\tpretrained\tgoplan2\twall_s\n" > "$OUT_DIR/summary.tsv"
for job in "${jobs_list[@]}"; do
    set -- $job
    $PY - "$OUT_DIR/seed$1_$2.log" "$1" "$2" >> "$OUT_DIR/summary.tsv" <<'PYEOF'
import json, sys
last = open(sys.argv[1]).read().strip().splitlines()[-1]
r = json.loads(last)
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{r['pretrained_return']}\t{r['goplan2_return']}\t{r['wall_time_s']}")
PYEOF
done
cat "$OUT_DIR/summary.tsv"

"""Planner speed on CPU against the rollout rows per planner batch (plan_cpu_max_rows[_bf16]).

    python benchmarks/investigations/plan_batch_rows.py [--precision fp32|bf16] [--rows 2048 4096 8192 16384]
        [--states 40] [--repeats 7] [--overlap on|off|both]

Plans `--states` states per call at the paper's sizes (FetchPush-shaped synthetic data, as
benchmarks/speed.py), with the planner's batch limit set to each value in turn, in alternation, and
prints the median planned states per second over the repeats (and every repeat). `--overlap both`
measures every limit with the planner's overlap (overlap_cpu_planning: batches two at a time on two
threads) on and off, in alternation too.
"""
from __future__ import annotations

import sys
from pathlib import Path

import argparse
import dataclasses
import statistics
import time

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, benchmarks/speed.py
import speed  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    p.add_argument("--rows", type=int, nargs="+", default=[2048, 4096, 8192, 16384])
    p.add_argument("--states", type=int, default=40)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--overlap", choices=("on", "off", "both"), default="on")
    args = p.parse_args()
    if min(args.repeats, args.states, *args.rows) < 1:
        p.error("--repeats, --states and every --rows value must be at least 1")
    torch.manual_seed(0)
    agent = speed.cpu_agent(args.precision)
    planner = agent.planner
    s = agent.state_norm(agent.data.observations[:args.states, 0])
    g = agent.data.achieved_goals[:args.states, -1]
    overlaps = {"on": [True], "off": [False], "both": [True, False]}[args.overlap]
    rates: dict[tuple[int, bool], list[float]] = {(rows, ov): [] for rows in args.rows for ov in overlaps}
    for _ in range(args.repeats):
        for rows, ov in rates:
            planner.settings = dataclasses.replace(planner.settings, max_rows=rows, overlap=ov)
            planner.plan(s, g)  # warm-up at this batch size
            start = time.perf_counter()
            for _ in range(2):
                planner.plan(s, g)
            rates[(rows, ov)].append(2 * args.states / (time.perf_counter() - start))
    print(f"precision {args.precision}, {args.states} states per call, {torch.get_num_threads()} threads")
    for (rows, ov), r in rates.items():
        print(f"max_rows {rows:6d}, overlap {'on ' if ov else 'off'}: median {statistics.median(r):6.1f} states/s  "
              f"({' '.join(f'{x:.1f}' for x in r)})")


if __name__ == "__main__":
    main()

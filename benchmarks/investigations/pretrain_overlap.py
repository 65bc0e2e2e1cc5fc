"""Pretraining updates per second on CPU with and without the overlapped update (overlap_cpu_update).

    python benchmarks/investigations/pretrain_overlap.py [--precision fp32|bf16] [--repeats 8] [--block 10]
        [--json FILE] [--timeline]

One agent at the paper's sizes (FetchPush-shaped synthetic data, N = 5, as benchmarks/speed.py)
alternates between three settings: sequential, overlapped, and overlapped after 2-thread work, which
runs 20 products of two 512 x 512 matrices with 2 threads before each timed update (what alternating
with 2-thread code does: the idle OpenMP thread left spinning takes the side thread's core). Per
repeat, each setting settles for 3 untimed updates, then times `--block` consecutive updates one by
one. Prints the median ms per update of each setting over all timed updates, their 25th percentiles
and the overlapped / sequential rate; `--json` writes them with every time. The settings share the
machine's load alike, so the ratio is steadier than any one rate.

The sequential side runs with the same 2 threads per kernel as before the overlap existed; the
overlapped side gives each half of the update half of them (goplan/overlap.py). `--timeline` then
times 50 more overlapped updates and prints when each of the update's three steps starts and ends,
counted from the start of the update (medians): the two halves' balance.
"""
from __future__ import annotations

import sys
from pathlib import Path

import argparse
import datetime as _dt
import json
import os
import statistics
import time

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, benchmarks/speed.py
import speed  # noqa: E402
from goplan.agents.goplan import GOPlanAgent

SETTLE = 3  # untimed updates of a setting before its timed block
AFTER_WORK = 20  # 2-thread (512 x 512) products before each update of the third setting


def measure_timeline(agent: GOPlanAgent, updates: int = 50) -> dict[str, list[float]]:
    """Median (start, end) in ms of the ensemble's, V's and the CGAN's steps within an overlapped update."""
    agent.cfg.overlap_cpu_update = True
    marks: dict[str, list[tuple[float, float]]] = {}
    origin = [0.0]
    for name in ("dynamics_step", "_value_step", "_gan_step"):
        step = getattr(agent, name)

        def timed(*args, _step=step, _name=name):
            t0 = time.perf_counter()
            out = _step(*args)
            marks.setdefault(_name, []).append((t0 - origin[0], time.perf_counter() - origin[0]))
            return out
        setattr(agent, name, timed)
    ends = []
    for _ in range(updates):
        origin[0] = time.perf_counter()
        agent.pretrain_step()
        ends.append(time.perf_counter() - origin[0])
    for name in ("dynamics_step", "_value_step", "_gan_step"):
        delattr(agent, name)
    out = {k: [1000 * float(np.median([m[i] for m in v])) for i in (0, 1)] for k, v in marks.items()}
    out["update"] = [0.0, 1000 * float(np.median(ends))]
    thread = {"dynamics_step": "side", "_value_step": "side", "_gan_step": "main"}
    for name, (start, end) in out.items():
        print(f"{name:>14} ({thread.get(name, 'both'):>4}): {start:6.2f} -> {end:6.2f} ms")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--block", type=int, default=10)
    p.add_argument("--json", default=None)
    p.add_argument("--timeline", action="store_true")
    args = p.parse_args()
    if args.repeats < 1 or args.block < 1:
        p.error("--repeats and --block must be at least 1")
    torch.manual_seed(0)
    agent = speed.cpu_agent(args.precision)
    times: dict[str, list[float]] = {"sequential": [], "overlapped": [], "overlapped, after 2-thread work": []}
    x = torch.randn(512, 512)
    for _ in range(args.repeats):
        for name in times:
            agent.cfg.overlap_cpu_update = name != "sequential"
            for _ in range(SETTLE):
                agent.pretrain_step()
            for _ in range(args.block):
                if name.endswith("work"):  # what a benchmark alternating with 2-thread code does
                    for _ in range(AFTER_WORK):
                        x @ x
                t0 = time.perf_counter()
                agent.pretrain_step()
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    p25 = {k: float(np.percentile(v, 25)) for k, v in times.items()}
    print(f"{args.precision}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
    for name in times:
        print(f"{name:>31}: {med[name] * 1000:6.2f} ms per update ({1 / med[name]:5.2f} updates/s), "
              f"25th percentile {p25[name] * 1000:6.2f} ms")
    ratio = med["sequential"] / med["overlapped"]
    print(f"overlapped / sequential rate: {ratio:.3f}")
    timeline = measure_timeline(agent) if args.timeline else None
    if args.json:
        out = {"precision": args.precision, "threads": torch.get_num_threads(), "device": speed.device_description(
            torch.device("cpu")), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "updates_per_s": {k: 1 / v for k, v in med.items()}, "ms_p25": {k: v * 1000 for k, v in p25.items()},
            "ratio": ratio, "timeline_ms": timeline, "repeats": args.repeats, "block": args.block, "settle": SETTLE, "times_s": times}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Where the time of one pretraining update and one planning step goes on this machine.

    python benchmarks/investigations/cpu_profile.py [--precision fp32|bf16] [--threads N] [--updates 3] [--ceiling]

Part 1 profiles `--updates` pretraining updates (paper sizes, FetchPush-shaped synthetic data, as
benchmarks/speed.py) with torch.profiler and groups the self time: matrix products, casts and copies,
the fused Adam kernels, everything else. Part 2 times one planning step (the policy and one dynamics
member on 2000 rows, the planner's CPU batch) eager and under torch.compile, and reports the compile
time of the first call.

`--ceiling` instead times what bounds the overlapped pretraining update on a 2-core machine: one update
at 1 thread (all of an update's work on one core: split perfectly over two cores, it would take half
of that), the overlapped update at 2 threads, and the same two with tiny networks (width 8, batch 8), where
what is left is the Python, dispatch and autograd work of an update. The settings alternate, `--repeats`
times, each a block of 10 updates after 3 untimed ones; medians are printed. It also measures the
1-thread rate of 512 x 512 products on 512 rows and, at that rate, the time of the update's matrix
products (benchmarks/speed.py's count).
"""
from __future__ import annotations

import sys
from pathlib import Path

import argparse
import functools
import time

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, benchmarks/speed.py
import speed  # noqa: E402
from goplan.agents.goplan import GOPlanAgent
from goplan.models import matmul_precision

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
CAST_OPS = ("aten::copy_", "aten::_to_copy")
ADAM_OPS = ("aten::_fused_adam_",)
STEP_ROWS = 2000  # rows per planner batch on CPU in fp32 (plan_cpu_max_rows = 2048, 10 states of C x H = 200)
TIMED_STEPS = 20


def profile_updates(agent: GOPlanAgent, updates: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        agent.pretrain_step()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(updates):
            agent.pretrain_step()
    wall = (time.perf_counter() - start) / updates
    self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(self_us.values())
    groups = {"matrix products": MATMUL_OPS, "casts and copies": CAST_OPS, "fused Adam": ADAM_OPS}
    print(f"pretraining update: {wall * 1000:.1f} ms each under the profiler ({updates} updates)")
    rest = total
    for name, ops in groups.items():
        share = sum(self_us.get(op, 0.0) for op in ops)
        rest -= share
        print(f"  {name}: {share / total:.1%} of the profiled self time")
    print(f"  everything else (elementwise, norms, indexing, autograd): {rest / total:.1%}")


def time_planning_step(agent: GOPlanAgent, precision: str) -> None:
    policy, dyn = agent.policy, agent.dynamics
    s, g = torch.randn(STEP_ROWS, speed.STATE_DIM), torch.randn(STEP_ROWS, speed.GOAL_DIM)
    z, gen = torch.randn(STEP_ROWS, agent.cfg.noise_dim), torch.Generator().manual_seed(0)

    def step(s, g, z):
        return dyn.sample_next(s, policy(s, g, z), gen)

    for name, fn in (("eager", step), ("torch.compile", torch.compile(step, dynamic=False))):
        with torch.no_grad(), matmul_precision(torch.device("cpu"), precision):
            start = time.perf_counter()
            fn(s, g, z)
            first = time.perf_counter() - start
            for _ in range(3):
                fn(s, g, z)
            start = time.perf_counter()
            for _ in range(TIMED_STEPS):
                fn(s, g, z)
            per_step = (time.perf_counter() - start) / TIMED_STEPS
        print(f"planning step ({STEP_ROWS} rows), {name}: {per_step * 1000:.2f} ms; first call {first:.1f} s")


CEILING_BLOCK = 10  # timed consecutive updates per block
CEILING_SETTLE = 3  # untimed updates before each block
MATMUL_REPEATS = 5  # timed blocks of the 1-thread matrix-product rate (the best is kept)
TINY = {"hidden_dim": 8, "dynamics_hidden_dim": 8, "batch_size": 8}  # what is left is overhead


def ceiling(precision: str, repeats: int) -> None:
    agents = {"paper sizes": speed.cpu_agent(precision), "tiny networks": speed.cpu_agent(precision, **TINY)}

    def update(agent: GOPlanAgent, threads: int) -> None:
        torch.set_num_threads(threads)  # at 1 thread the update runs sequentially (goplan/overlap.py)
        agent.pretrain_step()

    fns = {(name, t): functools.partial(update, agent, t) for name, agent in agents.items() for t in (1, 2)}
    rates = speed.paired_rates(fns, torch.device("cpu"), 0, repeats, block=CEILING_BLOCK, settle=CEILING_SETTLE)
    med = {key: 1000 / r for key, (r, _) in rates.items()}  # ms per update
    one, two = med[("paper sizes", 1)], med[("paper sizes", 2)]
    torch.set_num_threads(1)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    rate = speed.matmul_gflops(torch.device("cpu"), agents["paper sizes"].cfg.batch_size, MATMUL_REPEATS, dtype)["best"]
    gflop = speed.pretrain_flops(agents["paper sizes"].cfg)["flops"] / 1e9
    print(f"pretraining update ({precision}), medians of {repeats} blocks of {CEILING_BLOCK}:")
    print(f"  paper sizes: {one:.1f} ms at 1 thread; overlapped at 2 threads {two:.1f} ms "
          f"({1000 / two:.1f} updates/s), {one / 2 / two:.0%} of the rate of half the 1-thread time "
          f"({2000 / one:.1f} updates/s)")
    print(f"  matrix products: {gflop:.2f} GFLOP per update; at 1 thread's best rate, {rate:.1f} GFLOP/s, "
          f"{gflop / rate * 1000:.1f} ms ({gflop / rate * 1000 / one:.0%} of the 1-thread update)")
    print(f"  tiny networks: {med[('tiny networks', 1)]:.2f} ms at 1 thread, {med[('tiny networks', 2)]:.2f} ms "
          f"overlapped at 2 threads (Python, dispatch and autograd)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--updates", type=int, default=3)
    p.add_argument("--ceiling", action="store_true", help="time the overlapped update against its 1-thread work (sets 1 and 2 threads itself; "
                        "--threads and --updates do not apply)")
    p.add_argument("--repeats", type=int, default=6, help="blocks per setting with --ceiling")
    args = p.parse_args()
    if min(args.repeats, args.updates, 1 if args.threads is None else args.threads) < 1:
        p.error("--repeats, --updates and --threads must be at least 1")
    torch.manual_seed(0)
    if args.ceiling:
        ceiling(args.precision, args.repeats)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    agent = speed.cpu_agent(args.precision)
    print(f"precision {args.precision}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    profile_updates(agent, args.updates)
    agent.policy.eval()
    time_planning_step(agent, args.precision)


if __name__ == "__main__":
    main()

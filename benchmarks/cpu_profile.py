"""Where the time of one pretraining update and one planning step goes on this machine.

    python benchmarks/cpu_profile.py [--precision fp32|bf16] [--threads N] [--updates 3]

Part 1 profiles `--updates` pretraining updates (paper sizes, FetchPush-shaped synthetic data, as
benchmarks/speed.py) with torch.profiler and groups the self time: matrix products, casts and copies,
the fused Adam kernels, everything else. Part 2 times one planning step (the policy and one dynamics
member on 2000 rows, the planner's CPU batch) eager and under torch.compile, and reports the compile
time of the first call.
"""
from __future__ import annotations

import argparse
import time

import torch

import speed
from goplan.agents.goplan import GOPlanAgent
from goplan.config import make_config
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--updates", type=int, default=3)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = make_config("paper", {"num_dynamics": speed.NUM_DYNAMICS, "device": "cpu", "plan_precision": args.precision,
                                "train_precision": args.precision, "value_precision": args.precision})
    agent = GOPlanAgent(speed.synthetic_task(), cfg)
    agent.set_dataset(speed.synthetic_dataset())
    print(f"precision {args.precision}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    profile_updates(agent, args.updates)
    agent.policy.eval()
    time_planning_step(agent, args.precision)


if __name__ == "__main__":
    main()

"""Speed benchmark of the goplan engine at the paper's sizes with FetchPush-shaped synthetic data.

    python benchmarks/speed.py --json benchmarks/results/cpu.json [--device cpu|cuda|auto] [--quick]
        [--with-reference-style | --no-with-reference-style] [--threads N]

Measures planner calls per second for one state (GOPlan2 control rate), planned states per second for
1024 states in one call, intra/inter reanalysis trajectories per second, pretraining and finetuning
updates per second, and derives the time of one reanalysis round and of a whole run. Every rate is a
median of repeats with warm-up excluded (torch.cuda.synchronize before every clock read on CUDA).
Next to them: SPEC section 5's reference figures for the same device class, and (on by default on CPU)
the same quantities measured in the same process for benchmarks/reference_style.py, our re-creation of
the reference implementation's loop structure.

Sizes (paper): state 25, goal 3, action 4, 512-unit 3-layer networks, N = 5 dynamics models, C = 20,
H = 10, K = 20, batch 512. `--quick` shrinks repeat counts and trajectory counts, never network or
planning sizes.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from goplan.agents.goplan import GOPlanAgent, resolve_device  # noqa: E402
from goplan.config import make_config  # noqa: E402
from goplan.data.dataset import TrajectoryDataset  # noqa: E402
from goplan.reanalysis import inter_reanalysis, intra_reanalysis  # noqa: E402
from goplan.tasks.registry import TaskSpec, register_task  # noqa: E402

# ---------------------------------------------------------------------------- fixed sizes
STATE_DIM, GOAL_DIM, ACT_DIM = 25, 3, 4
GOAL_INDICES = (3, 4, 5)
EPISODES, STEPS = 2000, 50
NUM_DYNAMICS = 5
B_LARGE = 1024

# SPEC section 5: the reference implementation, paper-size networks, FetchPush-shaped data.
REFERENCE = {
    "cpu-2core": {"plan_hz_b1": 5.6, "pretrain_updates_per_s": 10.0, "intra_traj_per_s": 0.96,
                  "inter_traj_per_s": 0.32},
    "H200": {"plan_hz_b1": 32.5, "pretrain_updates_per_s": 51.8, "intra_traj_per_s": 2.56,
             "inter_traj_per_s": 0.76},
}

# Run lengths per device: (warm-up, repeats) or trajectory counts.
PLANS = {
    "cpu": dict(pretrain=(2, 8), finetune=(2, 6), plan_b1=(3, 12), plan_big=(0, 1), intra_n=24, inter_n=6,
                ref_plan=5, ref_pretrain=4, ref_intra=4, ref_inter=1, matmul=10),
    "cpu-quick": dict(pretrain=(1, 3), finetune=(1, 3), plan_b1=(2, 4), plan_big=(0, 1), intra_n=8, inter_n=2,
                      ref_plan=3, ref_pretrain=2, ref_intra=2, ref_inter=1, matmul=4),
    "cuda": dict(pretrain=(20, 10), finetune=(20, 10), plan_b1=(10, 10), plan_big=(2, 5), intra_n=1000,
                 inter_n=1000, ref_plan=20, ref_pretrain=10, ref_intra=10, ref_inter=4, matmul=50),
    "cuda-quick": dict(pretrain=(5, 3), finetune=(5, 3), plan_b1=(3, 3), plan_big=(1, 2), intra_n=1000,
                       inter_n=1000, ref_plan=5, ref_pretrain=3, ref_intra=3, ref_inter=1, matmul=10),
}
BLOCK = {"cpu": 1, "cuda": 20}  # calls per timed block (one clock read per block)


# ---------------------------------------------------------------------------- synthetic task and data
def synthetic_task() -> TaskSpec:
    return register_task(TaskSpec(
        name="SyntheticFetchPush", obs_dim=STATE_DIM, goal_dim=GOAL_DIM, act_dim=ACT_DIM, eps=0.05,
        goal_indices=GOAL_INDICES, max_steps=STEPS,
        description="FetchPush-shaped synthetic data for speed benchmarks (no environment)"))


def synthetic_dataset(episodes: int = EPISODES, steps: int = STEPS, seed: int = 0) -> TrajectoryDataset:
    """Smooth random walks driven by smooth random actions through a fixed linear map, so the
    dynamics are learnable: s_{t+1} = s_t + 0.03 * a_t W + 0.005 * noise. Goals = states[..., 3:6]."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0, (ACT_DIM, STATE_DIM)) / np.sqrt(ACT_DIM)
    obs = np.empty((episodes, steps + 1, STATE_DIM))
    act = np.empty((episodes, steps, ACT_DIM))
    obs[:, 0] = rng.normal(0.0, 0.1, (episodes, STATE_DIM))
    a = rng.uniform(-1.0, 1.0, (episodes, ACT_DIM))
    for t in range(steps):
        a = np.clip(0.8 * a + 0.4 * rng.normal(size=a.shape), -1.0, 1.0)
        act[:, t] = a
        obs[:, t + 1] = obs[:, t] + 0.03 * a @ w + 0.005 * rng.normal(size=(episodes, STATE_DIM))
    ag = obs[..., list(GOAL_INDICES)]
    desired = np.repeat(ag[:, -1:], steps, axis=1)
    return TrajectoryDataset(obs, ag, desired, act, card={"task": "SyntheticFetchPush", "synthetic": True})


# ---------------------------------------------------------------------------- helpers
def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], Any], dev: torch.device) -> tuple[float, Any]:
    sync(dev)
    t0 = time.perf_counter()
    out = fn()
    sync(dev)
    return time.perf_counter() - t0, out


def rate(fn: Callable[[], Any], dev: torch.device, warmup: int, repeats: int, block: int = 1) -> tuple[float, list[float]]:
    """Calls per second: median over `repeats` timed blocks of `block` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()

    def run_block():
        for _ in range(block):
            fn()

    times = [timed(run_block, dev)[0] / block for _ in range(repeats)]
    return 1.0 / float(np.median(times)), times


def device_description(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def peak_mem_mb(dev: torch.device) -> float:
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def matmul_gflops(dev: torch.device, rows: int, repeats: int) -> float:
    """fp32 rate of (rows x 512) @ (512 x 512), the shape of the hidden layers: median of repeats."""
    x = torch.randn(rows, 512, device=dev)
    w = torch.randn(512, 512, device=dev)
    inner = max(1, (4096 * 64) // rows) if dev.type == "cuda" else max(1, 4096 // rows)
    r, _ = rate(lambda: [x @ w for _ in range(inner)], dev, 2, repeats)
    return 2.0 * rows * 512 * 512 * inner * r / 1e9


def mlp_macs(dims: list[int]) -> int:
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def plan_flops(cfg, members_per_row: int = 1) -> dict[str, float]:
    """Multiply-adds of one plan for one state: policy + dynamics forward passes on C first-step rows
    plus C*H*K rollout rows. goplan evaluates one member per row; the reference style evaluates all N."""
    hid, layers = cfg.hidden_dim, cfg.num_layers
    policy = mlp_macs([STATE_DIM + GOAL_DIM + cfg.noise_dim] + [hid] * (layers - 1) + [ACT_DIM])
    dyn = mlp_macs([STATE_DIM + ACT_DIM] + [cfg.dynamics_hidden_dim] * (layers - 1) + [STATE_DIM])
    rows = cfg.plan_candidates + cfg.plan_candidates * cfg.plan_copies * cfg.plan_horizon
    macs = rows * (policy + members_per_row * dyn)
    return {"rows": rows, "policy_macs_per_row": policy, "dynamics_macs_per_member_row": dyn,
            "macs": macs, "flops": 2.0 * macs}


class CountingPlanner:
    """Delegates to a Planner and counts the states it plans (= imagined reanalysis steps)."""

    def __init__(self, planner):
        self._planner = planner
        self.rows = 0

    def plan(self, s_norm, g_raw, generator=None):
        self.rows += s_norm.shape[0]
        return self._planner.plan(s_norm, g_raw, generator)

    def __getattr__(self, name):
        return getattr(self._planner, name)


def expected_intra_len(t_len: int = STEPS) -> float:
    """E[k - 1] for t uniform in 0..T-1 and k uniform in 1..T-t (the engine's intra segments)."""
    return float(np.mean([(t_len - t + 1) / 2.0 - 1.0 for t in range(t_len)]))


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="where to write the results")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (same sizes): a smoke run")
    ap.add_argument("--with-reference-style", action=argparse.BooleanOptionalAction, default=None,
                    help="also measure the reference-style loops (default: on for CPU, off for CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    load_before = os.getloadavg()
    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    kind = dev.type
    plan = PLANS[f"{kind}-quick" if args.quick else kind]
    block = BLOCK[kind]
    with_ref = (kind == "cpu") if args.with_reference_style is None else args.with_reference_style
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    notes: list[str] = []
    mem_by_phase: dict[str, float] = {}

    def phase_done(name: str) -> None:
        mem_by_phase[name] = round(peak_mem_mb(dev), 1)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)

    task = synthetic_task()
    data = synthetic_dataset(seed=args.seed)
    cfg = make_config("paper", {"num_dynamics": NUM_DYNAMICS, "device": str(dev), "seed": args.seed,
                                "uncertainty_threshold": 1e9})
    agent = GOPlanAgent(task, cfg, device=str(dev))
    agent.set_dataset(data)
    sizes = {"state": STATE_DIM, "goal": GOAL_DIM, "action": ACT_DIM, "hidden": cfg.hidden_dim,
             "dynamics_hidden": cfg.dynamics_hidden_dim, "layers": cfg.num_layers, "noise": cfg.noise_dim,
             "N": cfg.num_dynamics, "C": cfg.plan_candidates, "H": cfg.plan_copies, "K": cfg.plan_horizon,
             "batch": cfg.batch_size, "dataset": f"{EPISODES} episodes x {STEPS} steps (synthetic)",
             "reanalysis_chunk": cfg.reanalysis_chunk, "uncertainty_threshold": cfg.uncertainty_threshold}
    log(f"device: {device_description(dev)}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    phase_done("setup")

    # ---- matmul rate (the arithmetic floor's denominator)
    mm_big = matmul_gflops(dev, 4096, plan["matmul"])
    mm_small = matmul_gflops(dev, cfg.plan_candidates * cfg.plan_copies, plan["matmul"])
    log(f"matmul 4096x512x512: {mm_big:.1f} GFLOP/s; 200x512x512: {mm_small:.1f} GFLOP/s")

    # ---- pretraining
    pre_rate, pre_times = rate(agent.pretrain_step, dev, *plan["pretrain"], block=block)
    log(f"pretraining: {pre_rate:.2f} updates/s")
    phase_done("pretrain")

    # ---- planning: one state per call (GOPlan2 control rate)
    rng = np.random.default_rng(args.seed + 1)
    ep = rng.integers(EPISODES, size=B_LARGE)
    ep2 = (ep + rng.integers(1, EPISODES, size=B_LARGE)) % EPISODES
    starts = data.observations[ep, rng.integers(STEPS + 1, size=B_LARGE)]
    goals = data.achieved_goals[ep2, rng.integers(STEPS + 1, size=B_LARGE)]
    counter = iter(range(10**9))

    def plan_one():
        i = next(counter) % B_LARGE
        return agent.plan(starts[i], goals[i])

    plan_hz, plan_times = rate(plan_one, dev, *plan["plan_b1"], block=block)
    log(f"plan, 1 state per call: {plan_hz:.2f} Hz")
    phase_done("plan_b1")

    # ---- planning: 1024 states in one call
    warm, reps = plan["plan_big"]
    if warm == 0:  # CPU: one warm-up call at a smaller batch keeps the run short
        agent.plan(starts[:64], goals[:64])
    big_rate, big_times = rate(lambda: agent.plan(starts, goals), dev, warm, reps)
    big_rate *= B_LARGE
    log(f"plan, {B_LARGE} states per call: {big_rate:.2f} states/s ({np.median(big_times):.1f} s per call)")
    phase_done("plan_b1024")

    # ---- reanalysis (full-length worst case: uncertainty threshold 1e9)
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    ctx = agent.reanalysis_context(gen)
    counting = CountingPlanner(ctx.planner)
    ctx.planner = counting
    intra_reanalysis(ctx, 2)  # warm-up
    inter_reanalysis(ctx, 2)
    rean: dict[str, Any] = {}
    transitions = []
    for name, fn, n in (("intra", intra_reanalysis, plan["intra_n"]), ("inter", inter_reanalysis, plan["inter_n"])):
        counting.rows = 0
        dt, (trans, fractions) = timed(lambda: fn(ctx, n), dev)
        steps = counting.rows
        rean[name] = {"n": n, "seconds": dt, "traj_per_s": n / dt, "steps": steps, "steps_per_s": steps / dt,
                      "mean_len": steps / n, "cases": fractions}
        if trans:
            transitions.append(trans)
        log(f"{name} reanalysis: {n} trajectories, {steps} planned steps in {dt:.1f}s "
            f"({n / dt:.3f} traj/s, {steps / dt:.1f} steps/s); cases {fractions}")
    phase_done("reanalysis")
    if kind == "cuda" and plan["intra_n"] == 1000 and plan["inter_n"] == 1000:
        round_s = rean["intra"]["seconds"] + rean["inter"]["seconds"]
        notes.append("reanalysis_round_s measured directly: one call of 1000 intra + one of 1000 inter.")
    else:
        round_s = 1000.0 / rean["intra"]["traj_per_s"] + 1000.0 / rean["inter"]["traj_per_s"]
        notes.append(f"reanalysis_round_s extrapolated from the measured rates ({plan['intra_n']} intra and "
                     f"{plan['inter_n']} inter trajectories per call on {kind}): 1000/intra + 1000/inter.")
    notes.append("Reanalysis runs with uncertainty_threshold = 1e9 on untrained networks, so no trajectory stops "
                 "for uncertainty: every trajectory runs its full budget unless it reaches its goal (the worst "
                 "case, the honest throughput measure). Intra budgets are k - 1 steps with k uniform in 1..T-t "
                 f"(expected {expected_intra_len():.2f} planned steps); inter budgets are T = {STEPS} steps.")

    # ---- finetuning (on the transitions reanalysis produced)
    for tr in transitions:
        agent.buffer.add(tr["states"], tr["actions"], tr["next_states"], tr["goals"])
    ft_rate, ft_times = rate(agent.finetune_step, dev, *plan["finetune"], block=block)
    log(f"finetuning: {ft_rate:.2f} updates/s (buffer {len(agent.buffer)} transitions)")
    phase_done("finetune")

    full_run = (cfg.pretrain_updates / pre_rate
                + cfg.finetune_rounds * (round_s + cfg.finetune_updates / ft_rate))

    # ---- arithmetic floor of planning
    fl = plan_flops(cfg, 1)
    floor_b1_s = fl["flops"] / (mm_small * 1e9)
    floor_big_s = fl["flops"] / (mm_big * 1e9)
    floor = {
        **fl, "matmul_gflops_rows4096": mm_big, "matmul_gflops_rows200": mm_small,
        "floor_plan_hz_b1": 1.0 / floor_b1_s, "floor_plans_per_s_large": 1.0 / floor_big_s,
        "fraction_of_floor_b1": plan_hz * floor_b1_s, "fraction_of_floor_b1024": big_rate * floor_big_s,
        "achieved_gflops_b1": plan_hz * fl["flops"] / 1e9, "achieved_gflops_b1024": big_rate * fl["flops"] / 1e9,
        "reference_style_flops": plan_flops(cfg, cfg.num_dynamics)["flops"],
    }
    log(f"planning floor: {fl['flops'] / 1e9:.2f} GFLOP per plan -> {floor['floor_plan_hz_b1']:.2f} Hz at 200 rows, "
        f"{floor['floor_plans_per_s_large']:.2f} plans/s at 4096 rows; achieved {floor['fraction_of_floor_b1']:.0%} "
        f"and {floor['fraction_of_floor_b1024']:.0%}")

    # ---- reference style, same process, same networks and data
    ref_out: dict[str, Any] | None = None
    if with_ref:
        from reference_style import RefStyleAgent, measure

        log("reference-style loops (our re-creation of the reference's loop structure):")
        ref = RefStyleAgent(agent, data)
        ref_out = measure(ref, starts, goals, plan["ref_plan"], plan["ref_pretrain"], plan["ref_intra"],
                          plan["ref_inter"], seed=args.seed, log=log)
        phase_done("reference_style")

    # ---- results
    ref_class = "cpu-2core" if kind == "cpu" else "H200"
    reference = dict(REFERENCE[ref_class], device_class=ref_class,
                     source="SPEC section 5 (reference implementation, paper-size networks, FetchPush-shaped data)")
    results = {
        "plan_hz_b1": plan_hz,
        "plans_per_s_b1024": big_rate,
        "intra_traj_per_s": rean["intra"]["traj_per_s"],
        "inter_traj_per_s": rean["inter"]["traj_per_s"],
        "reanalysis_round_s": round_s,
        "pretrain_updates_per_s": pre_rate,
        "finetune_updates_per_s": ft_rate,
        "full_run_estimate_s": full_run,
        "full_run_estimate_h": full_run / 3600.0,
    }
    speedup = {k: results[k] / v for k, v in REFERENCE[ref_class].items()}
    speedup_ref_style = None
    if ref_out:
        speedup_ref_style = {
            "plan_hz_b1": plan_hz / ref_out["plan_hz_b1"],
            "pretrain_updates_per_s": pre_rate / ref_out["pretrain_updates_per_s"],
            "intra_steps_per_s": rean["intra"]["steps_per_s"] / ref_out["intra_steps_per_s"],
            "inter_steps_per_s": rean["inter"]["steps_per_s"] / ref_out["inter_steps_per_s"],
            "intra_traj_per_s": rean["intra"]["traj_per_s"] / ref_out["intra_traj_per_s"],
            "inter_traj_per_s": rean["inter"]["traj_per_s"] / ref_out["inter_traj_per_s"],
        }
        notes.append("speedup_vs_reference_style compares with our re-creation of the reference's loop structure "
                     "(benchmarks/reference_style.py), measured in the same process on the same machine with the same "
                     "networks; the *_steps_per_s ratios are the fair reanalysis comparison because the two sides "
                     "draw different numbers of trajectories (and the reference style plans T - 1 = 49 inter steps, "
                     "goplan T = 50).")
    if kind == "cuda" and "H200" not in device_description(dev):
        notes.append(f"reference figures are for an H200; this run used {device_description(dev)}.")
    notes.append("full_run_estimate_s = pretrain_updates / pretrain rate + rounds * (reanalysis_round_s + "
                 "finetune_updates / finetune rate), with 5e5, 10 and 1000; evaluation is not included.")
    notes.append("Speedups against SPEC's reference figures compare different machines of the same class; the "
                 "side-by-side reference-style numbers are measured here.")
    if kind == "cpu":
        notes.append(f"plans_per_s_b1024 on CPU: {reps} timed call(s) of 1024 states after a 64-state warm-up call.")

    out = {
        **results,
        "peak_mem_mb": max(mem_by_phase.values()),
        "peak_mem_mb_by_phase": mem_by_phase,
        "peak_mem_kind": "torch.cuda.max_memory_allocated" if kind == "cuda" else "peak RSS (getrusage ru_maxrss)",
        "device": device_description(dev),
        "device_type": kind,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else "main(" + repr(argv) + ")",
        "quick": args.quick,
        "sizes": sizes,
        "matmul_gflops": mm_big,
        "matmul_gflops_rows200": mm_small,
        "planning_floor": floor,
        "reference": reference,
        "speedup": speedup,
        "reference_style": ref_out,
        "speedup_vs_reference_style": speedup_ref_style,
        "reanalysis": rean,
        "repeats": {k: v for k, v in plan.items()},
        "raw_times_s": {"pretrain": pre_times, "finetune": ft_times, "plan_b1": plan_times, "plan_b1024": big_times},
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "wall_s": time.perf_counter() - t_start,
        "notes": notes,
    }
    if load_before[0] > 0.5 * (os.cpu_count() or 1) and kind == "cpu":
        notes.append(f"the 1-minute load average was {load_before[0]:.2f} at the start: other processes shared the "
                     "CPU, so rates are lower bounds of an idle machine.")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float))
    print_table(out)
    log(f"wrote {path} ({out['wall_s']:.0f} s)")
    return out


def print_table(out: dict[str, Any]) -> None:
    ref, rs = out["reference"], out.get("reference_style") or {}
    rows = [
        ("plan_hz_b1", "plan, 1 state (Hz)"),
        ("plans_per_s_b1024", "plan, 1024 states (states/s)"),
        ("intra_traj_per_s", "intra reanalysis (traj/s)"),
        ("inter_traj_per_s", "inter reanalysis (traj/s)"),
        ("reanalysis_round_s", "round 1000+1000 (s)"),
        ("pretrain_updates_per_s", "pretraining (updates/s)"),
        ("finetune_updates_per_s", "finetuning (updates/s)"),
        ("full_run_estimate_s", "full run estimate (s)"),
    ]
    print(f"\n{'metric':32s} {'goplan':>12s} {'ref-style':>12s} {'SPEC ref':>10s} {'x SPEC':>8s} {'x ref-style':>11s}")
    for key, label in rows:
        ours = out[key]
        r = ref.get(key)
        rsv = rs.get(key)
        x_spec = f"{ours / r:8.2f}" if r else f"{'':8s}"
        x_rs = f"{ours / rsv:11.2f}" if rsv else f"{'':11s}"
        print(f"{label:32s} {ours:12.3f} {(f'{rsv:12.3f}' if rsv else f'{chr(45):>12s}')} "
              f"{(f'{r:10.2f}' if r else f'{chr(45):>10s}')} {x_spec} {x_rs}")
    print(f"peak memory {out['peak_mem_mb']:.0f} MB; device {out['device']}; torch {out['torch_version']}; "
          f"threads {out['threads']}")


if __name__ == "__main__":
    main()

"""Speed benchmark of the goplan engine at the paper's sizes with FetchPush-shaped synthetic data.

    python benchmarks/speed.py --json benchmarks/results/cpu_zen3_avx2.json [--device cpu|cuda|auto] [--quick]
        [--with-reference-style | --no-with-reference-style] [--diagnostics] [--threads N] [--seed S]
        [--precision fp32|bf16|auto] [--value-precision fp32|bf16|auto] [--force-bf16]

Measures planner calls per second for one state (GOPlan2 control rate), planned states per second for
1024 states in one call, intra/inter reanalysis trajectories per second, pretraining and finetuning
updates per second, and derives the time of one reanalysis round and of a whole run. Every rate is a
median of repeats with warm-up excluded (torch.cuda.synchronize before every clock read on CUDA).
Next to them: SPEC section 5's reference figures for the same device class, and (on by default on CPU)
the same quantities measured in the same process for benchmarks/reference_style.py, our re-creation of
the reference implementation's loop structure, with the ratio of each pair. Absolute rates belong to the
machine that made them, so the printed header and the JSON name it: the CPU's model and vector
extensions (goplan/hardware.py), torch's version and build, and the thread count. The ratios are the
claim that carries over between machines of a kind; the absolute rates do not.

Precisions resolve as in the engine: bf16 on a CPU without native bfloat16 arithmetic runs fp32 (the
JSON's "precision" is what ran, "precision_requested" what was asked) unless --force-bf16.

Sizes (paper): state 25, goal 3, action 4, 512-unit 3-layer networks, N = 5 dynamics models, C = 20,
H = 10, K = 20, batch 512. `--quick` shrinks repeat counts and trajectory counts, never network or
planning sizes.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
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
from goplan.hardware import describe_device, describe_machine, machine_record, resolve_precisions  # noqa: E402
from goplan.reanalysis import inter_reanalysis, intra_reanalysis  # noqa: E402
from goplan.tasks.registry import TaskSpec, register_task  # noqa: E402

# ---------------------------------------------------------------------------- fixed sizes
STATE_DIM, GOAL_DIM, ACT_DIM = 25, 3, 4
GOAL_INDICES = (3, 4, 5)
EPISODES, STEPS = 2000, 50
NUM_DYNAMICS = 5
B_LARGE = 1024
DIAG_CHUNK = 8  # states per Planner.plan call in the --diagnostics what-if (1600 rows)

# SPEC section 5: the reference implementation, paper-size networks, FetchPush-shaped data.
REFERENCE = {
    "cpu-2core": {"plan_hz_b1": 5.6, "pretrain_updates_per_s": 10.0, "intra_traj_per_s": 0.96,
                  "inter_traj_per_s": 0.32},
    "H200": {"plan_hz_b1": 32.5, "pretrain_updates_per_s": 51.8, "intra_traj_per_s": 2.56,
             "inter_traj_per_s": 0.76},
}

# Run lengths per device: (warm-up, repeats) or trajectory counts.
PLANS = {
    "cpu": dict(pretrain=(2, 8), finetune=(2, 6), plan_b1=(2, 10), plan_big=(0, 1), intra_n=80, inter_n=20,
                ref_intra=4, ref_inter=1, matmul=10),
    "cpu-quick": dict(pretrain=(1, 3), finetune=(1, 3), plan_b1=(1, 4), plan_big=(0, 1), intra_n=8, inter_n=2,
                      ref_intra=2, ref_inter=1, matmul=4),
    "cuda": dict(pretrain=(20, 10), finetune=(20, 10), plan_b1=(10, 10), plan_big=(2, 5), intra_n=1000,
                 inter_n=1000, ref_intra=10, ref_inter=4, matmul=20),
    "cuda-quick": dict(pretrain=(5, 3), finetune=(5, 3), plan_b1=(3, 3), plan_big=(1, 2), intra_n=1000,
                       inter_n=1000, ref_intra=3, ref_inter=1, matmul=10),
}
BLOCK = {"cpu": 1, "cuda": 20}  # calls per timed block (one clock read per block)
# Pretraining is timed as (untimed settling calls, timed calls) per block. On CPU a timed block of
# updates follows one untimed update of the same kind: the reference style's 2-thread kernels leave an
# idle OpenMP thread spinning for milliseconds, on the core that goplan's overlapped update gives its
# side thread (goplan/overlap.py); a pretraining run's updates follow each other, not that.
PRETRAIN_BLOCK = {"cpu": (1, 3), "cuda": (0, BLOCK["cuda"])}


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


def cpu_agent(precision: str, **overrides: Any) -> GOPlanAgent:
    """A CPU agent at the paper's sizes (N = NUM_DYNAMICS) on the synthetic task and dataset, every
    network at `precision`, with `overrides` of its settings: the other CPU benchmarks' subject."""
    cfg = make_config("paper", {"num_dynamics": NUM_DYNAMICS, "device": "cpu", "plan_precision": precision,
                                "train_precision": precision, "value_precision": precision, **overrides})
    agent = GOPlanAgent(synthetic_task(), resolve_precisions(cfg, "cpu"))  # bf16 only where native (or forced)
    agent.set_dataset(synthetic_dataset())
    return agent


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
    """The GPU's name, or the CPU's model, family and vector extensions (goplan/hardware.py), with its cores."""
    if dev.type == "cuda":
        return describe_device(dev)
    return f"{describe_device(dev)}, {os.cpu_count()} logical cores"


def peak_mem_mb(dev: torch.device) -> float:
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def matmul_gflops(dev: torch.device, rows: int, repeats: int, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Rate of (rows x 512) @ (512 x 512) in `dtype` into a preallocated output, the hidden-layer shape.
    Returns the best and the median over repeats: other processes can only slow a run down, so the
    best repeat is the machine's rate and the one the arithmetic floor uses."""
    x = torch.randn(rows, 512, device=dev, dtype=dtype)
    w = torch.randn(512, 512, device=dev, dtype=dtype)
    o = torch.empty(rows, 512, device=dev, dtype=dtype)
    inner = max(1, (1 << 22 if dev.type == "cuda" else 8192) // rows)

    def block():
        for _ in range(inner):
            torch.mm(x, w, out=o)

    for _ in range(2):
        block()
    times = [timed(block, dev)[0] / inner for _ in range(repeats)]
    flops = 2.0 * rows * 512 * 512
    return {"best": flops / min(times) / 1e9, "median": flops / float(np.median(times)) / 1e9}


MATMUL_ROWS = (200, 1600, 4096)


def matmul_rates(dev: torch.device, repeats: int, dtype: torch.dtype = torch.float32) -> dict[str, dict[str, float]]:
    return {str(rows): matmul_gflops(dev, rows, repeats, dtype) for rows in MATMUL_ROWS}


# environment variables that set torch's CPU threads and how they wait: saved with the results
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_AFFINITY", "GOMP_CPU_AFFINITY")
TIME_FIGURES = ("reanalysis_round_s", "full_run_estimate_s", "full_run_estimate_h")  # lower is faster


def speed_ratio(key: str, goplan: float, reference_style: float) -> float:
    """How many times as fast goplan is: a ratio of rates, or the inverse ratio of times."""
    return reference_style / goplan if key in TIME_FIGURES else goplan / reference_style


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


def pretrain_flops(cfg) -> dict[str, float]:
    """Multiply-adds of one pretraining update (GOPlanAgent.update with train_dynamics=True), per sample,
    counting a full backward pass as twice its forward and one that needs only input gradients as once:
    dynamics fwd+bwd (N members); V on s (kept for the loss) and on s', and the target on s'; V's
    backward; the policy forward for the discriminator step; the discriminator on real and fake actions,
    fwd+bwd; the policy fwd+bwd and the discriminator fwd + input-gradient bwd for the generator step."""
    hid, layers, n = cfg.hidden_dim, cfg.num_layers, cfg.num_dynamics
    h = [hid] * (layers - 1)
    policy = mlp_macs([STATE_DIM + GOAL_DIM + cfg.noise_dim] + h + [ACT_DIM])
    disc = mlp_macs([STATE_DIM + ACT_DIM + GOAL_DIM] + h + [1])
    value = mlp_macs([STATE_DIM + GOAL_DIM] + h + [1])
    dyn = mlp_macs([STATE_DIM + ACT_DIM] + [cfg.dynamics_hidden_dim] * (layers - 1) + [STATE_DIM])
    value_passes = 3 + 2
    per_sample = 3 * n * dyn + value_passes * value + policy + 2 * 3 * disc + 3 * policy + 2 * disc
    macs = per_sample * cfg.batch_size
    # the value network follows value_precision, the rest train_precision
    value_flops = 2.0 * value_passes * value * cfg.batch_size
    return {"macs_per_sample": per_sample, "macs": macs, "flops": 2.0 * macs, "value_flops": value_flops}


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
def paired_rates(fns: dict[Any, Callable[[], Any]], dev: torch.device, warmup: int, repeats: int,
                 block: int = 1, settle: int = 0) -> dict[Any, tuple[float, list[float]]]:
    """Like `rate` for several functions, timed in alternation (ours, reference style, ours, ...) so
    that load from other processes falls on both sides alike. `settle` untimed calls of a function
    precede each of its timed blocks (the same for every function)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[Any, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(settle):
                fn()
            def run_block(fn=fn):
                for _ in range(block):
                    fn()
            times[name].append(timed(run_block, dev)[0] / block)
    return {k: (1.0 / float(np.median(v)), v) for k, v in times.items()}


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall clock, CPU seconds used by all processes, CPU seconds used by this one), from /proc/stat."""
    busy = float("nan")
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        vals = [int(x) for x in fields]
        busy = (sum(vals[:8]) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return time.perf_counter(), busy, t.user + t.system


def eager_plan(agent: GOPlanAgent) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """agent.plan without CUDA graphs: every kernel of Algorithm 2 launched from Python."""
    def fn(obs, goal):
        s, g, single = agent._to_tensors(obs, goal)
        a = agent.planner.plan(agent.state_norm(s), g).cpu().numpy()
        return a[0] if single else a
    return fn


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="where to write the results")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (same sizes): a smoke run")
    ap.add_argument("--with-reference-style", action=argparse.BooleanOptionalAction, default=None,
                    help="also measure the reference-style loops (default: on for CPU, off for CUDA)")
    ap.add_argument("--diagnostics", action="store_true",
                    help="also plan the 1024 states in chunks of 8 states through the engine's Planner "
                         "(what-if measurement for the large-batch planner; adds a minute or two on CPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                    help="goplan's plan_precision and train_precision (the reference style always runs fp32); "
                         "bf16 runs fp32 on a CPU without native bfloat16 arithmetic unless --force-bf16")
    ap.add_argument("--value-precision", choices=("fp32", "bf16", "auto"), default=None,
                    help="goplan's value_precision (the value network's hidden layers); default: --precision")
    ap.add_argument("--force-bf16", action="store_true",
                    help="goplan's force_bf16: keep bf16 where it is only emulated (to measure the emulation)")
    ap.add_argument("--overlap", action=argparse.BooleanOptionalAction, default=True,
                    help="goplan's overlap_cpu_update: on CPU, the two halves of a pretraining update on two "
                         "threads (default: on, as the engine)")
    args = ap.parse_args(argv)
    args.value_precision = args.value_precision or args.precision

    t_start = time.perf_counter()
    load_before = os.getloadavg()
    snap0 = cpu_snapshot()
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
                                "uncertainty_threshold": 1e9, "plan_precision": args.precision,
                                "train_precision": args.precision, "value_precision": args.value_precision,
                                "overlap_cpu_update": args.overlap, "force_bf16": args.force_bf16})
    requested = {"precision": args.precision, "value_precision": args.value_precision}
    cfg = resolve_precisions(cfg, dev)  # as the engine does: bf16 only where native, unless forced
    args.precision, args.value_precision = cfg.train_precision, cfg.value_precision
    agent = GOPlanAgent(task, cfg, device=str(dev))
    agent.set_dataset(data)
    sizes = {"state": STATE_DIM, "goal": GOAL_DIM, "action": ACT_DIM, "hidden": cfg.hidden_dim,
             "dynamics_hidden": cfg.dynamics_hidden_dim, "layers": cfg.num_layers, "noise": cfg.noise_dim,
             "N": cfg.num_dynamics, "C": cfg.plan_candidates, "H": cfg.plan_copies, "K": cfg.plan_horizon,
             "batch": cfg.batch_size, "dataset": f"{EPISODES} episodes x {STEPS} steps (synthetic)",
             "reanalysis_chunk": cfg.reanalysis_chunk, "uncertainty_threshold": cfg.uncertainty_threshold,
             "plan_cuda_graphs": cfg.plan_cuda_graphs, "cuda_small_batch_rows": cfg.cuda_small_batch_rows,
             "overlap_cpu_update": cfg.overlap_cpu_update}
    machine = machine_record(dev)
    env = " ".join(f"{k}={os.environ[k]}" for k in THREAD_ENV if k in os.environ)
    log(f"machine: {describe_machine(dev)}; {os.cpu_count()} logical cores; load {load_before[0]:.2f}"
        + (f"; {env}" if env else ""))
    log(f"precision: {args.precision} (value network {args.value_precision}); asked for {requested['precision']} "
        f"({requested['value_precision']}); native bf16 here: {machine['native_bf16']}")
    ref = None
    if with_ref:
        from reference_style import RefStyleAgent, measure_reanalysis

        ref = RefStyleAgent(agent, data)  # copies of the same initial weights
        log("reference style = our re-creation of the reference implementation's loop structure (not its code)")
    phase_done("setup")

    # ---- matmul rate (the arithmetic floor's denominator); measured again at the end, the higher kept
    mm_runs = [matmul_rates(dev, plan["matmul"])]
    log("matmul (rows x 512) @ (512 x 512), best of repeats: " +
        ", ".join(f"{r} rows {v['best']:.1f} GFLOP/s" for r, v in mm_runs[0].items()))

    # ---- pretraining (paired with the reference style when measured)
    fns = {"goplan": agent.pretrain_step}
    if ref:
        fns["reference_style"] = ref.pretrain_step
    pre_settle, pre_block = PRETRAIN_BLOCK[kind]
    pre = paired_rates(fns, dev, *plan["pretrain"], block=pre_block, settle=pre_settle)
    pre_rate, pre_times = pre["goplan"]
    log("pretraining: " + ", ".join(f"{k} {v[0]:.2f} updates/s" for k, v in pre.items()))
    phase_done("pretrain")

    # ---- planning: one state per call (GOPlan2 control rate), numpy in, numpy out
    rng = np.random.default_rng(args.seed + 1)
    ep = rng.integers(EPISODES, size=B_LARGE)
    ep2 = (ep + rng.integers(1, EPISODES, size=B_LARGE)) % EPISODES
    starts = data.observations[ep, rng.integers(STEPS + 1, size=B_LARGE)]
    goals = data.achieved_goals[ep2, rng.integers(STEPS + 1, size=B_LARGE)]
    counters = {"goplan": iter(range(10**9)), "reference_style": iter(range(10**9))}

    def one_state(name, planner_fn):
        def fn():
            i = next(counters[name]) % B_LARGE
            return planner_fn(starts[i], goals[i])
        return fn

    fns = {"goplan": one_state("goplan", agent.plan)}
    if ref:
        fns["reference_style"] = one_state("reference_style", ref.plan)
    if kind == "cuda":  # agent.plan replays a CUDA graph there; the same plan launched eagerly, beside it
        counters["goplan_eager"] = iter(range(10**9))
        fns["goplan_eager"] = one_state("goplan_eager", eager_plan(agent))
    f0 = minor_faults()
    pl = paired_rates(fns, dev, *plan["plan_b1"], block=block)
    faults_b1 = (minor_faults() - f0) / max(1, sum(len(v[1]) for v in pl.values()) * block)
    plan_hz, plan_times = pl["goplan"]
    log("plan, 1 state per call: " + ", ".join(f"{k} {v[0]:.2f} Hz" for k, v in pl.items()))
    phase_done("plan_b1")

    # ---- planning: 1024 states in one call
    warm, reps = plan["plan_big"]
    if warm == 0:  # CPU: one warm-up call at a smaller batch keeps the run short
        agent.plan(starts[:64], goals[:64])
    f0 = minor_faults()
    big_rate, big_times = rate(lambda: agent.plan(starts, goals), dev, warm, reps)
    faults_big = (minor_faults() - f0) / (warm + reps)
    big_rate *= B_LARGE
    log(f"plan, {B_LARGE} states in one call: {big_rate:.2f} states/s ({np.median(big_times):.1f} s per call, "
        f"{faults_big / B_LARGE:.0f} page faults per state)")
    phase_done("plan_b1024")

    diagnostics: dict[str, Any] = {"page_faults_per_call_b1": faults_b1, "page_faults_per_call_b1024": faults_big}
    if args.diagnostics:
        s_all = torch.as_tensor(starts, device=dev)
        g_all = torch.as_tensor(goals, device=dev)
        chunk = DIAG_CHUNK

        @torch.no_grad()
        def chunked():
            sn = agent.state_norm(s_all)
            return torch.cat([agent.planner.plan(sn[i:i + chunk], g_all[i:i + chunk])
                              for i in range(0, B_LARGE, chunk)]).cpu()

        f0 = minor_faults()
        c_rate, c_times = rate(chunked, dev, 0 if kind == "cpu" else 1, reps)
        diagnostics.update({
            "plans_per_s_b1024_chunked": c_rate * B_LARGE, "chunk_states": chunk, "chunked_times_s": c_times,
            "page_faults_per_call_chunked": (minor_faults() - f0) / len(c_times),
            "what": f"the same 1024 states planned by the engine's Planner.plan in chunks of {chunk} states "
                    f"({chunk * cfg.plan_candidates * cfg.plan_copies} rows per tensor instead of "
                    f"{B_LARGE * cfg.plan_candidates * cfg.plan_copies})"})
        log(f"diagnostic: 1024 states in chunks of {chunk}: {c_rate * B_LARGE:.2f} states/s")
        phase_done("diagnostics")

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
    e_len = {"intra": expected_intra_len(), "inter": float(STEPS)}
    for name, fn, n in (("intra", intra_reanalysis, plan["intra_n"]), ("inter", inter_reanalysis, plan["inter_n"])):
        counting.rows = 0
        dt, (trans, fractions) = timed(lambda: fn(ctx, n), dev)
        steps = counting.rows
        rean[name] = {"n": n, "seconds": dt, "traj_per_s": steps / dt / e_len[name], "traj_per_s_measured": n / dt,
                      "steps": steps, "steps_per_s": steps / dt, "mean_len": steps / n, "expected_len": e_len[name],
                      "cases": fractions}
        if trans:
            transitions.append(trans)
        log(f"{name} reanalysis: {n} trajectories, {steps} planned steps in {dt:.1f}s "
            f"({n / dt:.3f} traj/s as drawn, {steps / dt:.2f} steps/s, {steps / dt / e_len[name]:.3f} full-budget "
            f"traj/s); cases {fractions}")
    phase_done("reanalysis")
    planned_per_round = 1000 * (e_len["intra"] + e_len["inter"])
    round_from_rean = 1000 * e_len["intra"] / rean["intra"]["steps_per_s"] + 1000 * e_len["inter"] / rean["inter"]["steps_per_s"]
    round_from_big = planned_per_round / big_rate
    if kind == "cuda" and plan["intra_n"] == 1000 and plan["inter_n"] == 1000:
        round_s = rean["intra"]["seconds"] + rean["inter"]["seconds"]
        notes.append("reanalysis_round_s measured directly: one call of 1000 intra plus one of 1000 inter trajectories.")
    else:
        round_s = round_from_big
        notes.append(
            f"reanalysis_round_s is extrapolated on {kind}, not measured: a round plans about "
            f"{planned_per_round:.0f} states (1000 x {e_len['intra']:.2f} intra + 1000 x {e_len['inter']:.0f} inter) "
            f"in batches of up to reanalysis_chunk = {cfg.reanalysis_chunk} trajectories, i.e. at the large-batch "
            f"planning rate plans_per_s_b1024: {planned_per_round:.0f} / {big_rate:.2f} = {round_from_big:.0f} s. "
            f"From the small-n reanalysis rates measured here ({plan['intra_n']} intra, {plan['inter_n']} inter per call, "
            f"steps/s scaled to the expected lengths) it would be {round_from_rean:.0f} s.")
    notes.append("Reanalysis runs with uncertainty_threshold = 1e9 on barely trained networks, so no trajectory stops "
                 "for uncertainty: each runs its full step budget unless it reaches its goal (the worst case, the honest "
                 f"throughput measure). Intra budgets are k - 1 planned steps with k uniform in 1..T-t (expected "
                 f"{e_len['intra']:.2f}); inter budgets are T = {STEPS}. Some trajectories still end early by reaching "
                 "their goals (see the cases), so intra_traj_per_s and inter_traj_per_s are the full-budget rates: planned "
                 "steps per second divided by the expected budget; reanalysis.*.traj_per_s_measured are the rates as drawn.")

    ref_rean = None
    if ref:
        log("reference-style reanalysis, one trajectory at a time:")
        ref_rean = measure_reanalysis(ref, plan["ref_intra"], plan["ref_inter"], seed=args.seed, log=log,
                                      expected_len={"intra": e_len["intra"], "inter": float(STEPS - 1)})
        phase_done("reference_style_reanalysis")

    # ---- calibration at the reference code's own ensemble sizes (N = 3 members of width 256)
    calib = None
    if ref:
        cfg_rc = make_config("paper", {"num_dynamics": 3, "dynamics_hidden_dim": 256, "device": str(dev),
                                       "seed": args.seed, "reanalysis_buffer_size": 1000,
                                       "overlap_cpu_update": args.overlap})
        agent_rc = GOPlanAgent(task, cfg_rc, device=str(dev))
        agent_rc.set_dataset(data)
        ref_rc = RefStyleAgent(agent_rc, data)
        counters.update(goplan_rc=iter(range(10**9)), reference_style_rc=iter(range(10**9)))
        pl_rc = paired_rates({"goplan": one_state("goplan_rc", agent_rc.plan),
                              "reference_style": one_state("reference_style_rc", ref_rc.plan)},
                             dev, *plan["plan_b1"], block=block)
        pre_rc = paired_rates({"goplan": agent_rc.pretrain_step, "reference_style": ref_rc.pretrain_step},
                              dev, *plan["pretrain"], block=pre_block, settle=pre_settle)
        calib = {
            "what": "plan (1 state) and pretraining at the reference code's dynamics sizes (N = 3, width 256; the "
                    "other networks as above), to relate the reference-style re-creation to SPEC's figures",
            **{f"{k}_plan_hz_b1": v[0] for k, v in pl_rc.items()},
            **{f"{k}_pretrain_updates_per_s": v[0] for k, v in pre_rc.items()},
        }
        ref_fig = REFERENCE["cpu-2core" if kind == "cpu" else "H200"]
        calib["reference_style_vs_spec"] = {
            "plan_hz_b1": calib["reference_style_plan_hz_b1"] / ref_fig["plan_hz_b1"],
            "pretrain_updates_per_s": calib["reference_style_pretrain_updates_per_s"] / ref_fig["pretrain_updates_per_s"]}
        calib["goplan_vs_spec"] = {
            "plan_hz_b1": calib["goplan_plan_hz_b1"] / ref_fig["plan_hz_b1"],
            "pretrain_updates_per_s": calib["goplan_pretrain_updates_per_s"] / ref_fig["pretrain_updates_per_s"]}
        log("at the reference code's ensemble sizes (N=3, width 256): plan " +
            ", ".join(f"{k} {v[0]:.2f} Hz" for k, v in pl_rc.items()) + "; pretraining " +
            ", ".join(f"{k} {v[0]:.2f} updates/s" for k, v in pre_rc.items()))
        del agent_rc, ref_rc
        phase_done("calibration")

    # ---- finetuning (on the transitions reanalysis produced)
    for tr in transitions:
        agent.buffer.add(tr["states"], tr["actions"], tr["next_states"], tr["goals"])
    fns = {"goplan": agent.finetune_step}
    if ref and ref.reanalysis_store:  # the reference style finetunes on what its own reanalysis stored
        fns["reference_style"] = ref.finetune_step
    ft = paired_rates(fns, dev, *plan["finetune"], block=block)
    ft_rate, ft_times = ft["goplan"]
    log("finetuning: " + ", ".join(f"{k} {v[0]:.2f} updates/s" for k, v in ft.items()) +
        f" (goplan's buffer {len(agent.buffer)} transitions)")
    phase_done("finetune")

    full_run = (cfg.pretrain_updates / pre_rate + cfg.finetune_rounds * (round_s + cfg.finetune_updates / ft_rate))

    # ---- arithmetic floor of planning
    mm_runs.append(matmul_rates(dev, plan["matmul"]))
    peak = max(v["best"] for run in mm_runs for v in run.values())
    fl = plan_flops(cfg, 1)
    floor_s = fl["flops"] / (peak * 1e9)
    floor = {
        **fl, "matmul_gflops": peak, "matmul_runs": mm_runs,
        "floor_plans_per_s": 1.0 / floor_s,
        "fraction_of_floor_b1": plan_hz * floor_s, "fraction_of_floor_b1024": big_rate * floor_s,
        "achieved_gflops_b1": plan_hz * fl["flops"] / 1e9, "achieved_gflops_b1024": big_rate * fl["flops"] / 1e9,
        "reference_style_flops": plan_flops(cfg, cfg.num_dynamics)["flops"],
    }
    pf = pretrain_flops(cfg)
    floor.update(pretrain_flops_per_update=pf["flops"], floor_pretrain_updates_per_s=peak * 1e9 / pf["flops"],
                 fraction_of_floor_pretrain=pre_rate * pf["flops"] / (peak * 1e9))
    if args.precision == "bf16":
        # the same floors at the machine's bf16 matmul rate (the value network's share at the fp32 rate
        # unless value_precision is bf16 too)
        bf_runs = [matmul_rates(dev, plan["matmul"], torch.bfloat16) for _ in range(2)]
        peak_bf = max(v["best"] for run in bf_runs for v in run.values())
        bf_plan_s = fl["flops"] / (peak_bf * 1e9)
        value_rate = peak_bf if args.value_precision == "bf16" else peak
        bf_pre_s = pf["value_flops"] / (value_rate * 1e9) + (pf["flops"] - pf["value_flops"]) / (peak_bf * 1e9)
        floor.update(matmul_gflops_bf16=peak_bf, matmul_runs_bf16=bf_runs, floor_plans_per_s_bf16=1.0 / bf_plan_s,
                     fraction_of_bf16_floor_b1=plan_hz * bf_plan_s, fraction_of_bf16_floor_b1024=big_rate * bf_plan_s,
                     floor_pretrain_updates_per_s_bf16=1.0 / bf_pre_s, fraction_of_bf16_floor_pretrain=pre_rate * bf_pre_s)
        log(f"bf16 matmul {peak_bf:.1f} GFLOP/s: planning floor {1.0 / bf_plan_s:.2f} plans/s (achieved "
            f"{plan_hz * bf_plan_s:.0%} at 1 state, {big_rate * bf_plan_s:.0%} at 1024); pretraining floor "
            f"{1.0 / bf_pre_s:.2f} updates/s (achieved {pre_rate * bf_pre_s:.0%})")
    if "plans_per_s_b1024_chunked" in diagnostics:
        floor["fraction_of_floor_b1024_chunked"] = diagnostics["plans_per_s_b1024_chunked"] * floor_s
    log(f"planning floor: {fl['flops'] / 1e9:.2f} GFLOP per plan at {peak:.1f} GFLOP/s -> "
        f"{floor['floor_plans_per_s']:.2f} plans/s; achieved {floor['fraction_of_floor_b1']:.0%} (1 state) and "
        f"{floor['fraction_of_floor_b1024']:.0%} (1024 states)")

    # ---- results
    ref_class = "cpu-2core" if kind == "cpu" else "H200"
    reference = dict(REFERENCE[ref_class], device_class=ref_class,
                     source="SPEC section 5 (reference implementation, paper-size networks, FetchPush-shaped data)")
    results = {
        "plan_hz_b1": plan_hz,
        **({"plan_hz_b1_eager": pl["goplan_eager"][0]} if "goplan_eager" in pl else {}),
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
    ref_out = speedup_rs = None
    side_by_side: dict[str, dict[str, Any]] = {}
    if ref:
        ref_out = {
            "label": "our re-creation of the reference implementation's loop structure (benchmarks/reference_style.py), "
                     "not its code",
            "plan_hz_b1": pl["reference_style"][0], "plan_times_s": pl["reference_style"][1],
            "pretrain_updates_per_s": pre["reference_style"][0], "pretrain_times_s": pre["reference_style"][1],
            **{f"{k}_traj_per_s": v["traj_per_s"] for k, v in ref_rean.items()},
            **{f"{k}_steps_per_s": v["steps_per_s"] for k, v in ref_rean.items()},
            "reanalysis": ref_rean,
        }
        # it plans one state per call whatever the number of states: its rate for 1024 states (and for a
        # plan without CUDA graphs) is its one-state rate, measured above
        ref_out["plans_per_s_b1024"] = ref_out["plan_hz_b1"]
        if "plan_hz_b1_eager" in results:
            ref_out["plan_hz_b1_eager"] = ref_out["plan_hz_b1"]
        if "reference_style" in ft:
            ref_out.update(finetune_updates_per_s=ft["reference_style"][0], finetune_times_s=ft["reference_style"][1])
        if {"intra", "inter"} <= set(ref_rean):  # a round at its own steps/s and step budgets (inter: T - 1)
            ref_out["reanalysis_round_s"] = (1000 * e_len["intra"] / ref_rean["intra"]["steps_per_s"]
                                             + 1000 * (STEPS - 1) / ref_rean["inter"]["steps_per_s"])
            if "finetune_updates_per_s" in ref_out:
                ref_out["full_run_estimate_s"] = (cfg.pretrain_updates / ref_out["pretrain_updates_per_s"]
                                                  + cfg.finetune_rounds * (ref_out["reanalysis_round_s"]
                                                                           + cfg.finetune_updates / ref_out["finetune_updates_per_s"]))
                ref_out["full_run_estimate_h"] = ref_out["full_run_estimate_s"] / 3600.0
        speedup_rs = {k: speed_ratio(k, results[k], ref_out[k]) for k in results if k in ref_out}
        for k in ref_rean:
            speedup_rs[f"{k}_steps_per_s"] = rean[k]["steps_per_s"] / ref_rean[k]["steps_per_s"]
        notes.append("speedup_vs_reference_style: against our re-creation of the reference's loop structure, measured "
                     "in the same process with the same networks and data; plan, pretraining and finetuning are timed "
                     "in alternation with goplan. Every ratio is goplan's speed over the reference style's (for times, "
                     "the reference style's time over goplan's). For reanalysis the *_steps_per_s ratios are the fair "
                     "comparison (the two sides draw different trajectories, and the reference style plans at most "
                     "T - 1 = 49 inter steps, goplan T = 50). The reference style plans one state per call, so its "
                     "plans_per_s_b1024 is its plan_hz_b1; its reanalysis_round_s is 1000 x 12.25 intra steps and "
                     "1000 x 49 inter steps at its measured steps/s, and its full_run_estimate_s adds its measured "
                     "pretraining and finetuning rates as goplan's does.")
    for k, v in results.items():
        r = (ref_out or {}).get(k)
        side_by_side[k] = {"goplan": v, "reference_style": r,
                           "speedup": speed_ratio(k, v, r) if r else None}
    if kind == "cuda" and "H200" not in device_description(dev):
        notes.append(f"reference figures are for an H200; this run used {device_description(dev)}.")
    notes.append("full_run_estimate_s = pretrain_updates / pretraining rate + rounds * (reanalysis_round_s + "
                 "finetune_updates / finetuning rate) with 5e5, 10 and 1000; evaluation is not included.")
    notes.append("Speedups against SPEC's reference figures compare different machines of the same class; the "
                 "reference-style numbers are measured here, side by side.")
    notes.append("matmul_gflops: fp32 (rows x 512) @ (512 x 512) into a preallocated output for rows in "
                 f"{MATMUL_ROWS}, measured at the start and at the end of the run; the best repeat of all is kept "
                 "(other processes only slow runs down), and the planning and pretraining floors divide FLOPs by it.")
    if kind == "cpu":
        notes.append(f"plans_per_s_b1024 on CPU: {reps} timed call(s) of 1024 states after a 64-state warm-up call.")
    load_after = os.getloadavg()
    snap1 = cpu_snapshot()
    wall = snap1[0] - snap0[0]
    other_cores = ((snap1[1] - snap0[1]) - (snap1[2] - snap0[2])) / wall
    if kind == "cpu" and other_cores > 0.2:
        notes.append(f"other processes used {other_cores:.2f} of the {os.cpu_count()} cores on average during the run "
                     f"(1-minute load {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end): absolute rates "
                     "are lower than on an idle machine; paired goplan/reference-style timings share the load alike.")

    out = {
        **results,
        "peak_mem_mb": max(mem_by_phase.values()),
        "peak_mem_mb_by_phase": mem_by_phase,
        "peak_mem_kind": "torch.cuda.max_memory_allocated" if kind == "cuda" else "peak RSS (getrusage ru_maxrss)",
        "device": device_description(dev),
        "device_type": kind,
        "cpu_model": machine["cpu_model"],
        "cpu_vector_extensions": machine["cpu_vector_extensions"],
        "machine": machine,
        # thread settings from the environment (OMP_WAIT_POLICY=PASSIVE keeps idle OpenMP threads from
        # spinning on cores that other processes need; docs/performance.md, "Under load")
        "environment": {k: os.environ.get(k) for k in THREAD_ENV},
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv) if argv is None else f"main({argv!r})",
        "quick": args.quick,
        "precision": args.precision,
        "value_precision": args.value_precision,
        "precision_requested": requested,
        "force_bf16": args.force_bf16,
        "sizes": sizes,
        "matmul_gflops": peak,
        "planning_floor": floor,
        "reference": reference,
        "speedup": speedup,
        "reference_style": ref_out,
        "speedup_vs_reference_style": speedup_rs,
        "side_by_side": side_by_side,
        "at_reference_code_sizes": calib,
        "reanalysis": rean,
        "reanalysis_round_s_from_small_n_rates": round_from_rean,
        "diagnostics": diagnostics,
        "repeats": dict(plan),
        "pretrain_block": {"settle": pre_settle, "timed": pre_block},
        "raw_times_s": {"pretrain": pre_times, "finetune": ft_times, "plan_b1": plan_times, "plan_b1024": big_times},
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "other_processes_cores_avg": other_cores,
        "wall_s": time.perf_counter() - t_start,
        "notes": notes,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float))
    print_table(out)
    log(f"wrote {path} ({out['wall_s']:.0f} s)")
    return out


def print_table(out: dict[str, Any]) -> None:
    """Every figure beside the reference style's from the same run and their ratio (goplan's speed over
    the reference style's), then SPEC's figure for the device class; the machine named above the table."""
    spec, side = out["reference"], out["side_by_side"]
    rows = [
        ("plan_hz_b1", "plan, 1 state (Hz)"),
        ("plan_hz_b1_eager", "plan, 1 state, no graph (Hz)"),
        ("plans_per_s_b1024", "plan, 1024 states (states/s)"),
        ("intra_traj_per_s", "intra reanalysis (traj/s)"),
        ("inter_traj_per_s", "inter reanalysis (traj/s)"),
        ("reanalysis_round_s", "round 1000+1000 (s)"),
        ("pretrain_updates_per_s", "pretraining (updates/s)"),
        ("finetune_updates_per_s", "finetuning (updates/s)"),
        ("full_run_estimate_s", "full run estimate (s)"),
    ]
    m = out["machine"]
    print(f"\nmachine: {out['device']}; torch {m['torch_build']['version']} ({m['torch_cpu_capability']} kernels, "
          f"BLAS {m['torch_build'].get('blas', '?')}); {out['threads']} threads; precision {out['precision']} "
          f"(value network {out['value_precision']})")
    if not out.get("reference_style"):
        print("reference style not measured in this run (--with-reference-style): no ratios")
    print(f"{'metric':32s} {'goplan':>12s} {'ref-style':>12s} {'x ref-style':>11s} {'SPEC ref':>10s} {'x SPEC':>8s}")
    dash = "-"
    for key, label in rows:
        if key not in side:
            continue
        ours, rs, x_rs = side[key]["goplan"], side[key]["reference_style"], side[key]["speedup"]
        r = spec.get(key)
        print(f"{label:32s} {ours:12.3f} {(f'{rs:12.3f}' if rs else f'{dash:>12s}')} "
              f"{(f'{x_rs:11.2f}' if x_rs else f'{dash:>11s}')} {(f'{r:10.2f}' if r else f'{dash:>10s}')} "
              f"{(f'{ours / r:8.2f}' if r else f'{dash:>8s}')}")
    print(f"x ref-style: goplan's speed over the reference style's, both measured in this run on this machine; "
          f"x SPEC compares with another machine. Peak memory {out['peak_mem_mb']:.0f} MB.")


if __name__ == "__main__":
    main()

"""Success of each task's behaviour policy (noise-free unless --noise), and simulation speed.

For every task: run N episodes (default 200) of the scripted behaviour policy without action noise (or, with
--noise STD, with the N(0, STD^2) action noise of dataset collection), in chunks of --num-envs parallel
episodes, and report the success rate (final achieved goal within eps), the average return (steps with
reward 1, 0..50), and the wall time per 1000 environment steps, split into simulator time and policy time.
Prints a table, and the same numbers as JSON (to --json if given).

    python benchmarks/behaviour_success.py                      # every MuJoCo benchmark task
    python benchmarks/behaviour_success.py --tasks FetchSlide HandReach --episodes 500
    python benchmarks/behaviour_success.py --tasks FetchSlide --noise 0.2   # as when collecting datasets
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from goplan.tasks import get_task, task_names

DEFAULT_EPISODES = 200
DEFAULT_NUM_ENVS = 200
DEFAULT_SEED = 0
STEPS_PER_UNIT = 1000  # timings are reported per this many environment steps
POINT_TASKS = ("PointReach", "PointRooms")


def measure(task: str, episodes: int, num_envs: int, seed: int, noise: float = 0.0) -> dict:
    spec = get_task(task)
    rng = np.random.default_rng(seed)
    seeds = np.random.SeedSequence(seed).generate_state((episodes + num_envs - 1) // num_envs)
    successes, returns = [], []
    sim_time = policy_time = build_time = 0.0
    done = 0
    for chunk_seed in seeds:
        n = min(num_envs, episodes - done)
        t0 = time.perf_counter()
        env = spec.make_vec_env(n, seed=int(chunk_seed))
        build_time += time.perf_counter() - t0
        t0 = time.perf_counter()
        obs = env.reset()
        sim_time += time.perf_counter() - t0
        ret = np.zeros(n)
        for _ in range(spec.max_steps):
            t0 = time.perf_counter()
            act = spec.behaviour_policy(obs, rng)
            t1 = time.perf_counter()
            if noise > 0:  # as goplan.data.collect does: Gaussian noise on the action, clipped to the action box
                act = np.clip(act + rng.normal(0.0, noise, size=act.shape), -1.0, 1.0)
            obs, reward = env.step(act)
            sim_time += time.perf_counter() - t1
            policy_time += t1 - t0
            ret += reward
        successes.append(spec.reward(obs["achieved_goal"], obs["desired_goal"]))
        returns.append(ret)
        done += n
        if hasattr(env, "close"):
            env.close()
    steps = episodes * spec.max_steps
    success = np.concatenate(successes)
    return {
        "task": task,
        "episodes": episodes,
        "action_noise_std": noise,
        "success_rate": float(success.mean()),
        "success_stderr": float(success.std() / np.sqrt(len(success))),
        "average_return": float(np.concatenate(returns).mean()),
        "sim_seconds_per_1000_steps": sim_time / steps * STEPS_PER_UNIT,
        "policy_seconds_per_1000_steps": policy_time / steps * STEPS_PER_UNIT,
        "build_seconds_per_env": build_time / episodes,
        "behaviour_policy": spec.behaviour_policy_name,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", help="task names (default: every registered MuJoCo task)")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES)
    parser.add_argument("--num-envs", type=int, default=DEFAULT_NUM_ENVS, help="episodes run in parallel")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--noise", type=float, default=0.0, help="std of Gaussian action noise (default 0: none)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.episodes <= 0 or args.num_envs <= 0:
        parser.error("--episodes and --num-envs must be positive")
    if not np.isfinite(args.noise) or args.noise < 0:
        parser.error("--noise must be a finite number >= 0")
    tasks = args.tasks or [t for t in task_names() if t not in POINT_TASKS]
    rows = []
    header = f"{'task':28s} {'success':>8s} {'+-':>6s} {'return':>7s} {'sim s/1k':>9s} {'policy s/1k':>11s}"
    print(header)
    print("-" * len(header))
    for task in tasks:
        row = measure(task, args.episodes, args.num_envs, args.seed, args.noise)
        rows.append(row)
        print(f"{task:28s} {row['success_rate']:8.3f} {row['success_stderr']:6.3f} {row['average_return']:7.2f} "
              f"{row['sim_seconds_per_1000_steps']:9.3f} {row['policy_seconds_per_1000_steps']:11.3f}", flush=True)
    result = {"episodes": args.episodes, "num_envs": args.num_envs, "seed": args.seed, "action_noise_std": args.noise,
              "machine": platform.platform(), "python": sys.version.split()[0], "results": rows}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

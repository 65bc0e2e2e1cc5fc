"""Make an offline dataset: roll out a task's behaviour policy with Gaussian action noise.

Episodes run in chunks of num_envs as one vectorised environment. Each chunk draws its own seeds
from a numpy SeedSequence built from the user's seed, so a seed (with the same num_envs) always
gives the same dataset.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from goplan.data.dataset import TrajectoryDataset
from goplan.errors import ConfigError, TaskError
from goplan.tasks.registry import TaskSpec, get_task

DEFAULT_NOISE_STD = 0.2
DEFAULT_NUM_ENVS = 1000
DEFAULT_EVAL_EPISODES = 200
ACTION_LIMIT = 1.0
GENERATOR = "goplan collect"
DEFAULT_POLICY_NAME = "scripted"


def _resolve(task: str | TaskSpec) -> TaskSpec:
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if spec.make_vec_env is None or spec.behaviour_policy is None:
        raise TaskError(f"task {spec.name} has no vectorised environment or behaviour policy to collect with")
    return spec


def _check_args(episodes: int, noise_std: float, num_envs: int) -> None:
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes <= 0:
        raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs <= 0:
        raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
    if not isinstance(noise_std, (int, float, np.floating)) or not math.isfinite(noise_std) or noise_std < 0:
        raise ConfigError(f"noise_std must be a finite number >= 0, got {noise_std!r}")


def _rollout_chunk(spec: TaskSpec, n: int, seq: np.random.SeedSequence, noise_std: float,
                   detour_prob: float = 0.0, naive_prob: float = 0.0) -> dict[str, np.ndarray]:
    """Run n episodes of spec.max_steps steps; returns the four arrays and the rewards (n, T).

    With probability detour_prob an episode first pursues a random waypoint from the task's goal
    sampler and turns to its real goal once the waypoint is reached (within eps). With probability
    naive_prob an episode is driven by the task's naive policy (spec.extra["naive_policy"], e.g. a
    straight line that ignores walls) instead of the competent one."""
    env_seed, policy_seed = seq.spawn(2)
    env = spec.make_vec_env(n, seed=int(env_seed.generate_state(1)[0]))
    rng = np.random.default_rng(policy_seed)
    obs = env.reset()
    detouring = np.zeros(n, dtype=bool)
    waypoint = np.zeros((n, spec.goal_dim), dtype=np.float32)
    if detour_prob > 0:
        if spec.goal_sampler is None:
            raise TaskError(f"task {spec.name} has no goal sampler to draw detour waypoints from")
        detouring = rng.random(n) < detour_prob
        waypoint = np.asarray(spec.goal_sampler(n, rng), dtype=np.float32)
    naive = np.zeros(n, dtype=bool)
    if naive_prob > 0:
        if "naive_policy" not in spec.extra:
            raise TaskError(f"task {spec.name} has no naive policy to mix into its behaviour")
        naive = rng.random(n) < naive_prob
    t_max = spec.max_steps
    observations = np.empty((n, t_max + 1, spec.obs_dim), dtype=np.float32)
    achieved = np.empty((n, t_max + 1, spec.goal_dim), dtype=np.float32)
    actions = np.empty((n, t_max, spec.act_dim), dtype=np.float32)
    rewards = np.empty((n, t_max), dtype=np.float32)
    goal = np.asarray(obs["desired_goal"], dtype=np.float32).copy()
    for t in range(t_max):
        observations[:, t] = obs["observation"]
        achieved[:, t] = obs["achieved_goal"]
        if detour_prob > 0:
            detouring &= spec.reward(obs["achieved_goal"], waypoint) == 0
            obs = dict(obs, desired_goal=np.where(detouring[:, None], waypoint, obs["desired_goal"]))
        act = np.asarray(spec.behaviour_policy(obs, rng), dtype=np.float64)
        if naive.any():
            act = np.where(naive[:, None], spec.extra["naive_policy"](obs, rng), act)
        if noise_std > 0:
            act = act + rng.normal(0.0, noise_std, size=act.shape)
        act = np.clip(act, -ACTION_LIMIT, ACTION_LIMIT).astype(np.float32)
        actions[:, t] = act
        obs, rewards[:, t] = env.step(act)
    observations[:, t_max] = obs["observation"]
    achieved[:, t_max] = obs["achieved_goal"]
    desired = np.repeat(goal[:, None, :], t_max, axis=1)
    return {"observations": observations, "achieved_goals": achieved, "desired_goals": desired,
            "actions": actions, "rewards": rewards}


def collect(
    task: str | TaskSpec,
    episodes: int,
    seed: int,
    noise_std: float = DEFAULT_NOISE_STD,
    num_envs: int = DEFAULT_NUM_ENVS,
    progress: bool = True,
    detour_prob: float = 0.0,
    naive_prob: float = 0.0,
) -> TrajectoryDataset:
    """Collect `episodes` behaviour-policy episodes with N(0, noise_std) action noise (clipped to [-1, 1]).

    detour_prob > 0 makes the data suboptimal and multi-modal the way multi-goal datasets are: that
    fraction of episodes first visits a random waypoint, then goes to the episode's goal."""
    _check_args(episodes, noise_std, num_envs)
    if not isinstance(detour_prob, (int, float)) or not 0.0 <= detour_prob <= 1.0:
        raise ConfigError(f"detour_prob must be in [0, 1], got {detour_prob!r}")
    if not isinstance(naive_prob, (int, float)) or not 0.0 <= naive_prob <= 1.0:
        raise ConfigError(f"naive_prob must be in [0, 1], got {naive_prob!r}")
    spec = _resolve(task)
    episodes, num_envs, noise_std = int(episodes), int(num_envs), float(noise_std)
    sizes = [min(num_envs, episodes - start) for start in range(0, episodes, num_envs)]
    chunk_seeds = np.random.SeedSequence(int(seed)).spawn(len(sizes))
    parts: list[dict[str, np.ndarray]] = []
    with tqdm(total=episodes, disable=not progress, unit="ep", desc=f"collect {spec.name}") as bar:
        for n, seq in zip(sizes, chunk_seeds):
            parts.append(_rollout_chunk(spec, n, seq, noise_std, float(detour_prob), float(naive_prob)))
            bar.update(n)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rewards = arrays.pop("rewards")
    final = spec.reward(arrays["achieved_goals"][:, -1], arrays["desired_goals"][:, -1])
    card: dict[str, Any] = {
        "task": spec.name,
        "episodes": episodes,
        "behaviour_policy": spec.extra.get("behaviour_policy_name", DEFAULT_POLICY_NAME),
        "noise_std": noise_std,
        "detour_prob": float(detour_prob),
        "naive_prob": float(naive_prob),
        "seed": int(seed),
        "behaviour_success_rate": float(final.mean(dtype=np.float64)),
        "average_return": float(rewards.sum(axis=1, dtype=np.float64).mean()),
        "generator": GENERATOR,
    }
    return TrajectoryDataset(**arrays, card=card)


def behaviour_success(task: str | TaskSpec, episodes: int = DEFAULT_EVAL_EPISODES, seed: int = 0) -> dict[str, Any]:
    """Noise-free success rate and average return of the task's behaviour policy."""
    ds = collect(task, episodes, seed, noise_std=0.0, num_envs=episodes, progress=False)
    return {
        "task": ds.card["task"],
        "episodes": episodes,
        "success_rate": ds.card["behaviour_success_rate"],
        "average_return": ds.card["average_return"],
    }


__all__ = ["collect", "behaviour_success"]

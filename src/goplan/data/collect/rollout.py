"""Roll out one chunk: n episodes of a task's behaviour policy in one vectorised environment, with the
actions spoiled as a `Behaviour` says (Gaussian noise, detours, a naive policy, random actions).

Every random draw comes from the chunk's SeedSequence, so a chunk is the same whichever process rolls
it out.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from goplan.errors import ConfigError, TaskError
from goplan.tasks.registry import TaskSpec

DEFAULT_NOISE_STD = 0.2  # std of the Gaussian action noise of the paper's datasets
ACTION_LIMIT = 1.0  # actions are clipped to [-ACTION_LIMIT, ACTION_LIMIT]


@dataclass(frozen=True)
class Behaviour:
    """How the behaviour policy's actions are spoiled (every field is recorded in the dataset card).

    noise_std: std of the Gaussian noise added to every action (clipped to the action box after).
    detour_prob: the fraction of episodes that first pursue a random waypoint from the task's goal
    sampler and turn to their real goal once the waypoint is reached (within eps).
    naive_prob: the fraction of episodes driven by the task's naive policy (spec.naive_policy,
    e.g. a straight line that ignores walls) instead of the competent one.
    random_prob: the probability that a step's action (after the noise) is replaced by one drawn
    uniformly from the action box, as the exploration of the DDPG + HER agents that made the
    benchmark's data does (its random_eps)."""

    noise_std: float = DEFAULT_NOISE_STD
    detour_prob: float = 0.0
    naive_prob: float = 0.0
    random_prob: float = 0.0

    def checked(self) -> "Behaviour":
        """The same values as floats; a ConfigError names the first probability out of [0, 1] (the noise
        is checked with collect's other arguments)."""
        for name in ("detour_prob", "naive_prob", "random_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value!r}")
        return Behaviour(*(float(v) for v in dataclasses.astuple(self)))


def rollout_chunk(spec: TaskSpec, n: int, seq: np.random.SeedSequence,
                  behaviour: Behaviour = Behaviour()) -> dict[str, np.ndarray]:
    """Run n episodes of spec.max_steps steps with the behaviour policy spoiled as `behaviour` says;
    returns the four arrays and the rewards (n, T)."""
    noise_std, detour_prob, naive_prob, random_prob = dataclasses.astuple(behaviour)
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
        if spec.naive_policy is None:
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
            act = np.where(naive[:, None], spec.naive_policy(obs, rng), act)
        if noise_std > 0:
            act = act + rng.normal(0.0, noise_std, size=act.shape)
        act = np.clip(act, -ACTION_LIMIT, ACTION_LIMIT)
        if random_prob > 0:  # no draws otherwise: datasets made without it stay bit-identical
            uniform = rng.uniform(-ACTION_LIMIT, ACTION_LIMIT, size=act.shape)
            act = np.where((rng.random(n) < random_prob)[:, None], uniform, act)
        act = act.astype(np.float32)
        actions[:, t] = act
        obs, rewards[:, t] = env.step(act)
    observations[:, t_max] = obs["observation"]
    achieved[:, t_max] = obs["achieved_goal"]
    desired = np.repeat(goal[:, None, :], t_max, axis=1)
    return {"observations": observations, "achieved_goals": achieved, "desired_goals": desired,
            "actions": actions, "rewards": rewards}


__all__ = ["ACTION_LIMIT", "Behaviour", "DEFAULT_NOISE_STD", "rollout_chunk"]

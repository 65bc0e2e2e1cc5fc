"""Evaluation: many episodes in parallel, in policy mode or test-time planning mode (GOPlan2).

Return (SPEC section 1) = number of steps of a 50-step episode with reward 1, averaged over episodes.
"""
from __future__ import annotations

import numbers

import numpy as np

from goplan.errors import ConfigError, NumericalError

MODES = ("policy", "plan")


def evaluate(agent, episodes: int = 100, mode: str = "policy", seed: int = 0) -> dict[str, float]:
    if mode not in MODES:
        raise ConfigError(f"unknown evaluation mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "plan" and not hasattr(agent, "plan"):
        raise ConfigError(f"a {agent.algorithm.upper()} agent has no planner; use --mode policy")
    if isinstance(episodes, bool) or not isinstance(episodes, numbers.Integral) or episodes <= 0:
        raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
    task = agent.task
    env = task.make_vec_env(episodes, seed=seed)
    obs = env.reset(seed=seed)
    returns = np.zeros(episodes)
    reward = np.zeros(episodes)
    step_fn = agent.act if mode == "policy" else agent.plan
    for t in range(task.max_steps):
        actions = step_fn(obs["observation"], obs["desired_goal"])
        if not np.isfinite(actions).all():
            raise NumericalError(f"the {mode} action became NaN or infinite at evaluation step {t}")
        obs, reward = env.step(actions)
        returns += reward
    return {
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "success_rate": float((reward > 0).mean()),
        "episodes": float(episodes),
    }

"""Shared machinery for the MuJoCo tasks: a goal-conditioned Gymnasium env and its vectorised form.

Each MuJoCo task supplies a *core*: a small object that owns one simulator and knows how to reset it
(drawing randomness from a given numpy Generator) and advance it by one control step. The core returns
raw float64 arrays (observation, achieved goal, desired goal). On top of a core:

- `GoalTaskEnv` is a single-episode Gymnasium environment with dict observations (float32), the
  project's sparse reward 1[||achieved - desired|| <= eps], optional Gaussian action noise added by the
  environment, and truncation after `max_steps` (never early termination).
- `MujocoVecGoalEnv` steps num_envs of them as one VecGoalEnv (a tight loop over the simulators).

Nothing here imports mujoco itself; the task modules import their simulators lazily inside factories.
The model cache lets many simulators share one read-only `MjModel` (a Fetch model is about 10 MB, its
`MjData` about 0.5 MB), which keeps a thousand parallel episodes affordable.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

import gymnasium
import numpy as np
from gymnasium import spaces

OBS_KEYS = ("observation", "achieved_goal", "desired_goal")
OBS_DTYPE = np.float32
ACTION_LIMIT = 1.0
SEED_WORDS = 1  # 32-bit words drawn per environment seed from a SeedSequence

# (key) -> MjModel, shared by every simulator built from the same file with the same patches
_MODEL_CACHE: dict[Hashable, Any] = {}
_NAMES_CACHE: dict[int, Any] = {}


def cached_model(key: Hashable, build: Callable[[], Any]) -> Any:
    """The MjModel for `key`, built once by `build()` and shared afterwards.

    Simulators that share a model must never change it in a way that differs between them."""
    model = _MODEL_CACHE.get(key)
    if model is None:
        model = build()
        _MODEL_CACHE[key] = model
    return model


def cached_model_names(model: Any, build: Callable[[], Any]) -> Any:
    """A per-model read-only name table (e.g. gymnasium-robotics' MujocoModelNames), built once."""
    names = _NAMES_CACHE.get(id(model))
    if names is None:
        names = build()
        _NAMES_CACHE[id(model)] = names
    return names


def sparse_success(achieved: np.ndarray, desired: np.ndarray, eps: float) -> np.ndarray:
    """1.0 where ||achieved - desired||_2 <= eps else 0.0 (float32), any leading shape."""
    diff = np.asarray(achieved, dtype=np.float64) - np.asarray(desired, dtype=np.float64)
    return (np.linalg.norm(diff, axis=-1) <= eps).astype(np.float32)


class GoalCore:
    """Interface of a task core: one simulator, reset and stepped with raw float64 arrays."""

    obs_dim: int
    goal_dim: int
    act_dim: int

    def reset(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start a new episode using `rng` for every random draw; returns (obs, achieved, desired)."""
        raise NotImplementedError

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply one action (already clipped to [-1, 1]); returns (obs, achieved, desired)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class GoalTaskEnv(gymnasium.Env):
    """One goal-conditioned episode over a core, as a Gymnasium environment with dict observations."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        core_factory: Callable[[], GoalCore],
        eps: float,
        max_steps: int,
        action_noise_std: float = 0.0,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError("goplan MuJoCo task environments do not render")
        self.core = core_factory()
        self.eps = float(eps)
        self.max_steps = int(max_steps)
        self.action_noise_std = float(action_noise_std)
        self.render_mode = render_mode
        dims = {"observation": self.core.obs_dim, "achieved_goal": self.core.goal_dim,
                "desired_goal": self.core.goal_dim}
        self.observation_space = spaces.Dict(
            {k: spaces.Box(-np.inf, np.inf, shape=(dims[k],), dtype=OBS_DTYPE) for k in OBS_KEYS}
        )
        self.action_space = spaces.Box(-ACTION_LIMIT, ACTION_LIMIT, shape=(self.core.act_dim,), dtype=OBS_DTYPE)
        self._t = 0
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # ---- fast path used by the vectorised environment ----
    def reset_arrays(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        super().reset(seed=seed)
        self._t = 0
        self._last = tuple(np.asarray(x, dtype=OBS_DTYPE) for x in self.core.reset(self.np_random))
        return self._last

    def advance(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noise (if any), clip, step the core; returns float32 (obs, achieved, desired)."""
        act = np.asarray(action, dtype=np.float64).reshape(self.core.act_dim)
        if not np.isfinite(act).all():
            raise ValueError("step: the action contains NaN or infinity")
        if self.action_noise_std > 0:
            act = act + self.np_random.normal(0.0, self.action_noise_std, size=act.shape)
        act = np.clip(act, -ACTION_LIMIT, ACTION_LIMIT)
        self._t += 1
        self._last = tuple(np.asarray(x, dtype=OBS_DTYPE) for x in self.core.step(act))
        return self._last

    # ---- Gymnasium API ----
    @staticmethod
    def _as_dict(arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in zip(OBS_KEYS, arrays)}

    def compute_reward(self, achieved_goal, desired_goal, info=None) -> np.ndarray:
        """The project's sparse reward: 1.0 where ||achieved - desired|| <= eps, else 0.0."""
        return sparse_success(achieved_goal, desired_goal, self.eps)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs = self._as_dict(self.reset_arrays(seed))
        return obs, {"is_success": bool(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))}

    def step(self, action):
        if self._last is None:
            raise RuntimeError("call reset() before step()")
        obs = self._as_dict(self.advance(action))
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))
        return obs, reward, False, self._t >= self.max_steps, {"is_success": reward > 0}

    def close(self):
        self.core.close()


class MujocoVecGoalEnv:
    """num_envs GoalTaskEnvs stepped together as one VecGoalEnv (numpy in, numpy out).

    reset(seed) reseeds every episode from a SeedSequence of `seed` (or of the constructor's seed on
    the first reset); reset() without a seed afterwards continues each episode's random stream.
    step(actions) returns the dict of (num_envs, dim) float32 arrays and the sparse reward (num_envs,).
    """

    def __init__(self, env_factory: Callable[[], GoalTaskEnv], num_envs: int, seed: int | None = None):
        if isinstance(num_envs, bool) or int(num_envs) != num_envs or num_envs <= 0:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.envs = [env_factory() for _ in range(self.num_envs)]
        first = self.envs[0]
        self.eps = first.eps
        self.max_steps = first.max_steps
        self.obs_dim, self.goal_dim, self.act_dim = first.core.obs_dim, first.core.goal_dim, first.core.act_dim
        self._seed = seed
        self._seeded = False
        n = self.num_envs
        self._obs = np.zeros((n, self.obs_dim), dtype=OBS_DTYPE)
        self._ag = np.zeros((n, self.goal_dim), dtype=OBS_DTYPE)
        self._dg = np.zeros((n, self.goal_dim), dtype=OBS_DTYPE)

    def _seeds(self, seed: int | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        words = np.random.SeedSequence(int(seed)).generate_state(self.num_envs * SEED_WORDS, dtype=np.uint32)
        return [int(w) for w in words]

    def _result(self) -> dict[str, np.ndarray]:
        return {"observation": self._obs.copy(), "achieved_goal": self._ag.copy(), "desired_goal": self._dg.copy()}

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        if seed is None and not self._seeded:
            seed = self._seed
        self._seeded = True
        for i, (env, s) in enumerate(zip(self.envs, self._seeds(seed))):
            self._obs[i], self._ag[i], self._dg[i] = env.reset_arrays(s)
        return self._result()

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        act = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, self.act_dim)
        if not np.isfinite(act).all():
            raise ValueError("step: actions contain NaN or infinity")
        obs, ag, dg = self._obs, self._ag, self._dg
        for i, env in enumerate(self.envs):
            obs[i], ag[i], dg[i] = env.advance(act[i])
        return self._result(), sparse_success(ag, dg, self.eps)

    def close(self) -> None:
        for env in self.envs:
            env.close()


class RoboticsCore(GoalCore):
    """A GoalCore over a Gymnasium-Robotics (MuJoCo bindings) goal env, stepped without its reward."""

    def __init__(self, env, obs_dim: int, goal_dim: int, act_dim: int):
        self.env = env
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim

    @staticmethod
    def _triple(obs: dict[str, np.ndarray]):
        return obs["observation"], obs["achieved_goal"], obs["desired_goal"]

    def reset(self, rng: np.random.Generator):
        self.env.np_random = rng  # every draw of the env comes from the wrapper's generator
        obs, _ = self.env.reset()
        return self._triple(obs)

    def step(self, action: np.ndarray):
        env = self.env
        env._set_action(action)
        env._mujoco_step(action)
        env._step_callback()
        return self._triple(env._get_obs())

    def close(self) -> None:
        self.env.close()


def init_shared_simulation(env, key: Hashable, build: Callable[[], Any]) -> None:
    """Body of MujocoRobotEnv._initialize_simulation for a Gymnasium-Robotics env, on a cached MjModel.

    Call it from an override of `_initialize_simulation`; `build()` loads (and patches) the model."""
    import mujoco
    from gymnasium_robotics.utils import mujoco_utils

    env.model = cached_model(key, build)
    env.data = mujoco.MjData(env.model)
    env._model_names = cached_model_names(env.model, lambda: mujoco_utils.MujocoModelNames(env.model))
    env._env_setup(initial_qpos=env.initial_qpos)
    env.initial_time = env.data.time
    env.initial_qpos = np.copy(env.data.qpos)
    env.initial_qvel = np.copy(env.data.qvel)


__all__ = [
    "GoalCore", "GoalTaskEnv", "MujocoVecGoalEnv", "RoboticsCore", "init_shared_simulation", "cached_model", "cached_model_names", "sparse_success",
    "OBS_KEYS",
]

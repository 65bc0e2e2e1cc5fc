"""Task registry: everything the algorithm needs to know about a task.

The rest of the code asks the registry for the goal map phi, the success radius eps, the
episode length and the environments; nothing else hard-codes a task.

This module imports no task module. Each task module registers its TaskSpecs with `register_task`
when it is imported, and `goplan.tasks.catalog` imports every built-in one; the package's
`__init__` imports the catalog, and Python runs a package's `__init__` before any of its modules, so
whoever imports this module finds the built-in tasks registered.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from goplan.errors import TaskError


class VecGoalEnv(Protocol):
    """Many goal-conditioned episodes stepped as one array (numpy in, numpy out).

    reset() and step() return dicts of arrays shaped (num_envs, dim) with the keys
    `observation`, `achieved_goal` and `desired_goal`; step() also returns the sparse
    reward (num_envs,) computed from the state reached.
    """

    num_envs: int

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]: ...

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]: ...


DEFAULT_BEHAVIOUR_POLICY_NAME = "scripted"  # dataset cards name the behaviour policy of a task that names none


@dataclass(frozen=True)
class TaskSpec:
    """Static description of a goal-conditioned task.

    Besides the dimensions, the goal map and the environment factories, a spec carries the facts that
    other modules need about how the task's data is made:

    behaviour_policy_name  the name the dataset card records for `behaviour_policy`
    naive_policy           a second, naive behaviour policy (same signature as `behaviour_policy`) that
                           `collect(..., naive_prob=p)` drives a fraction p of the episodes with; None: none
    simulator              the physics simulator behind `make_vec_env` (e.g. "gymnasium Reacher-v5 model
                           (MuJoCo)"); None for tasks simulated in numpy. Collection sizes its chunks by it.
    layout_origin          the point in goal space the task's object and goal regions are laid out around
                           (the Fetch arm's initial gripper position); None for tasks without one. The OOD
                           groups anchor their IID regions there.
    action_noise_std       std of the Gaussian noise the environment itself adds to every action
                           (FetchReachNoise-*); 0.0 for noise-free environments
    """

    name: str
    obs_dim: int
    goal_dim: int
    act_dim: int
    eps: float  # success radius in raw goal space
    goal_indices: tuple[int, ...]  # phi(s) = s[..., goal_indices]
    max_steps: int = 50
    gym_id: str | None = None
    description: str = ""
    # (num_envs, seed, **kwargs) -> VecGoalEnv
    make_vec_env: Callable[..., VecGoalEnv] | None = field(default=None, compare=False)
    # (obs dict of arrays, rng) -> actions in [-1, 1]; noise-free behaviour policy
    behaviour_policy: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None = field(
        default=None, compare=False
    )
    # (n, rng) -> goals (n, goal_dim)
    goal_sampler: Callable[[int, np.random.Generator], np.ndarray] | None = field(default=None, compare=False)
    behaviour_policy_name: str = field(default=DEFAULT_BEHAVIOUR_POLICY_NAME, compare=False)
    naive_policy: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None = field(
        default=None, compare=False
    )
    simulator: str | None = field(default=None, compare=False)
    layout_origin: tuple[float, ...] | None = field(default=None, compare=False)
    action_noise_std: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        for key in ("obs_dim", "goal_dim", "act_dim", "max_steps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise TaskError(f"task {self.name}: {key} must be a positive integer, got {value!r}")
        if not isinstance(self.eps, (int, float, np.floating)) or not np.isfinite(self.eps) or self.eps <= 0:
            raise TaskError(f"task {self.name}: eps (the success radius) must be a positive number, got {self.eps!r}")
        if len(self.goal_indices) != self.goal_dim or not all(0 <= i < self.obs_dim for i in self.goal_indices):
            raise TaskError(f"task {self.name}: goal_indices {self.goal_indices} must be {self.goal_dim} state "
                            f"indices in [0, {self.obs_dim})")

    # ---- goal map and reward, for numpy arrays and torch tensors alike ----
    def phi(self, states):
        """Achieved goal of a batch of states (numpy or torch, any leading shape)."""
        if isinstance(states, torch.Tensor):
            idx = torch.as_tensor(self.goal_indices, device=states.device)
            return states.index_select(-1, idx)
        return np.asarray(states)[..., list(self.goal_indices)]

    def reward(self, achieved, desired):
        """Sparse reward 1[||achieved - desired|| <= eps] (numpy or torch)."""
        if isinstance(achieved, torch.Tensor):
            return (torch.linalg.vector_norm(achieved - desired, dim=-1) <= self.eps).to(achieved.dtype)
        dist = np.linalg.norm(np.asarray(achieved) - np.asarray(desired), axis=-1)
        return (dist <= self.eps).astype(np.float32)


_REGISTRY: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add (or replace) a task under its name; returns the spec."""
    _REGISTRY[spec.name] = spec
    return spec


def task_names() -> list[str]:
    """The names of every registered task, sorted."""
    return sorted(_REGISTRY)


def get_task(name: str) -> TaskSpec:
    """The registered task of that name; TaskError (with close matches) for an unknown one."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known tasks: {', '.join(sorted(_REGISTRY))}"
        raise TaskError(f"unknown task {name!r}{hint}")
    return _REGISTRY[name]


def register_gym_env(gym_id: str, entry_point: str, kwargs: dict[str, Any], max_steps: int) -> None:
    """Register a Gymnasium id once (re-importing a module must not re-register)."""
    import gymnasium

    if gym_id not in gymnasium.registry:
        gymnasium.register(id=gym_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=max_steps)


def check_shapes(spec: TaskSpec, obs_dim: int, goal_dim: int, act_dim: int, what: str = "data") -> None:
    want = (spec.obs_dim, spec.goal_dim, spec.act_dim)
    got = (obs_dim, goal_dim, act_dim)
    if want != got:
        raise TaskError(
            f"{what} has (state, goal, action) dimensions {got} but task {spec.name} needs {want}"
        )


__all__: Sequence[str] = ["DEFAULT_BEHAVIOUR_POLICY_NAME", "TaskSpec", "VecGoalEnv", "register_task", "register_gym_env",
                          "get_task", "task_names", "check_shapes"]

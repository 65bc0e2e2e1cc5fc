"""Registration of the Fetch tasks: one TaskSpec and one Gymnasium id (goplan/<task>-v0) per layout.

Each task joins its layout (`layouts.py`), its environment (`env.py`) and its scripted behaviour
policy (`scripted.py`, `slide.py`).
"""
from __future__ import annotations

import numpy as np

from goplan.tasks.fetch.env import (ACT_DIM, EPS, GOAL_DIM, GRIP_SLICE, MAX_STEPS, OBJECT_OBS_DIM, OBJECT_SLICE,
                                    REACH_OBS_DIM, vec_env_factory)
from goplan.tasks.fetch.layouts import LAYOUTS, FetchLayout, action_noise, sample_goals
from goplan.tasks.fetch.scripted import pick_policy, push_policy, reach_policy
from goplan.tasks.fetch.slide import slide_policy
from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

# the Gymnasium entry point of every Fetch task (the package re-exports make_gym_env from env.py)
GYM_ENTRY_POINT = f"{__package__}:make_gym_env"
# the behaviour policy of each layout base and the name the dataset cards record for it
_POLICIES = {"reach": (reach_policy, "scripted-fetch-reach"), "push": (push_policy, "scripted-fetch-push"),
             "pick": (pick_policy, "scripted-fetch-pick"), "slide": (slide_policy, "scripted-fetch-slide")}


def _goal_sampler(layout: FetchLayout):
    """(n, rng) -> float32 goals (n, 3) of the layout: the TaskSpec's goal_sampler."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_goals(layout, n, rng).astype(np.float32)

    return sample


def _register(task: str, layout: FetchLayout) -> TaskSpec:
    """Register the task's Gymnasium id and its TaskSpec."""
    gym_id = f"goplan/{task}-v0"
    register_gym_env(gym_id, GYM_ENTRY_POINT, {"task": task}, MAX_STEPS)
    policy, policy_name = _POLICIES[layout.base]
    reach = layout.base == "reach"
    noise = action_noise(task)
    desc = {
        "reach": "Fetch arm: move the gripper to a 3-D goal",
        "push": "Fetch arm: push a block across the table to a goal",
        "pick": "Fetch arm: pick a block up and place it at a goal (on the table or in the air)",
        "slide": "Fetch arm: slide a puck along a low-friction table to a goal out of reach",
    }[layout.base]
    if noise:
        desc += f"; the environment adds N(0, {noise}^2) noise to every action"
    if "OOD" in task:
        desc += f"; OOD layout: object {layout.obj_region}, goal {layout.goal_xy}/{layout.goal_z}"
    return register_task(
        TaskSpec(
            name=task,
            obs_dim=REACH_OBS_DIM if reach else OBJECT_OBS_DIM,
            goal_dim=GOAL_DIM,
            act_dim=ACT_DIM,
            eps=EPS,
            goal_indices=GRIP_SLICE if reach else OBJECT_SLICE,
            max_steps=MAX_STEPS,
            gym_id=gym_id,
            description=desc,
            make_vec_env=vec_env_factory(task),
            behaviour_policy=policy,
            goal_sampler=_goal_sampler(layout),
            behaviour_policy_name=policy_name,
            simulator=f"gymnasium-robotics Fetch{layout.base.capitalize()}-v4 (MuJoCo)",
            layout_origin=layout.grip0,
            action_noise_std=noise,
        )
    )


FETCH_TASKS: dict[str, TaskSpec] = {task: _register(task, layout) for task, layout in LAYOUTS.items()}

__all__ = ["FETCH_TASKS"]

"""Fetch tasks of Gymnasium-Robotics as goplan tasks: Reach, Push, Pick(AndPlace), Slide, the OOD groups
of GOAT (Push/Pick Left-Right, Push Near-Far, Pick Low-High) and noisy FetchReach.

One job per module:

    layouts.py   where objects start and goals lie (FetchLayout, the samplers, LAYOUTS by task name)
    env.py       the simulators: Gymnasium-Robotics Fetch envs driven by a layout (mujoco loads lazily)
    scripted.py  scripted behaviour policies of Reach, Push and Pick
    glide.py     the fitted glide model of a struck FetchSlide puck
    slide.py     the scripted FetchSlide policy (aims with the glide model)
    register.py  one TaskSpec and Gymnasium id per task (importing it registers them)

Every task wraps a subclass of the Gymnasium-Robotics MuJoCo environment (`Fetch*-v4`) whose object
placement and goal sampling come from the layout's vectorised samplers, so a task's goal_sampler and
its environment draw from the same distribution by construction. This package re-exports the names
the rest of goplan uses.
"""
from goplan.tasks.fetch.env import (ACT_DIM, EPS, GOAL_DIM, GRIP_SLICE, MAX_STEPS, OBJECT_OBS_DIM, OBJECT_SLICE,
                                    REACH_OBS_DIM, make_fetch_core, make_gym_env, vec_env_factory)
from goplan.tasks.fetch.glide import puck_launch_velocity, puck_rest_point
from goplan.tasks.fetch.layouts import (FAR_RADII, GRIP0_PICK, GRIP0_PUSH, GRIP0_PUSH_OOD, GRIP0_REACH, GRIP0_SLIDE,
                                        LAYOUTS, NEAR_RADII, NOISE_LEVELS, OOD_RANGE, PICK_HIGH_Z, PICK_LOW_TOP,
                                        PUSH_OOD_TABLE_HALF, TABLE_Z_PUSH_PICK, TABLE_Z_SLIDE, FetchLayout,
                                        action_noise, sample_goals, sample_object_xy)
from goplan.tasks.fetch.register import FETCH_TASKS
from goplan.tasks.fetch.scripted import pick_policy, push_policy, reach_policy
from goplan.tasks.fetch.slide import slide_policy

__all__ = ["FETCH_TASKS", "LAYOUTS", "FetchLayout", "sample_goals", "sample_object_xy", "reach_policy",
           "push_policy", "pick_policy", "slide_policy", "puck_rest_point", "puck_launch_velocity",
           "make_gym_env", "make_fetch_core", "vec_env_factory", "action_noise",
           "ACT_DIM", "EPS", "GOAL_DIM", "GRIP_SLICE", "MAX_STEPS", "OBJECT_OBS_DIM", "OBJECT_SLICE", "REACH_OBS_DIM",
           "FAR_RADII", "GRIP0_PICK", "GRIP0_PUSH", "GRIP0_PUSH_OOD", "GRIP0_REACH", "GRIP0_SLIDE", "NEAR_RADII",
           "NOISE_LEVELS", "OOD_RANGE", "PICK_HIGH_Z", "PICK_LOW_TOP", "PUSH_OOD_TABLE_HALF", "TABLE_Z_PUSH_PICK",
           "TABLE_Z_SLIDE"]

"""Fetch layouts: where a task's object starts and where its goals lie.

A `FetchLayout` describes one task's object-start and goal distributions relative to the initial
gripper position; `sample_object_xy` and `sample_goals` draw from them, vectorised. The environment
(`env.py`) places its object and draws its goal with these samplers and the task's goal_sampler
(`register.py`) uses them too, so both draw from the same distribution by construction. The OOD
variants of GOAT sample the object and the goal directly inside their regions (no rejection over
resets). `LAYOUTS` maps every Fetch task name to its layout.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# initial gripper position after the env's setup, per model
GRIP0_REACH = (1.34183525, 0.74910104, 0.53472381)
GRIP0_PUSH = (1.3455407, 0.74902433, 0.41361656)
GRIP0_PUSH_OOD = (1.35162794, 0.74902808, 0.41355544)  # the enlarged Push table touches the arm while it settles
GRIP0_PICK = (1.34193525, 0.74910105, 0.53472382)
GRIP0_SLIDE = (0.99272972, 0.74904077, 0.41266129)
# height of the object's centre resting on the table
TABLE_Z_PUSH_PICK = 0.4246997490299934
TABLE_Z_SLIDE = 0.413536328354387
# default sampling ranges of Gymnasium-Robotics
REACH_TARGET_RANGE = 0.15
OBJ_RANGE = 0.15
TARGET_RANGE = 0.15
SLIDE_OBJ_RANGE = 0.1
SLIDE_TARGET_RANGE = 0.3
SLIDE_TARGET_OFFSET = (0.4, 0.0)
OBJ_MIN_DIST = 0.1  # the default object start is at least this far (xy) from the gripper
PICK_AIR_PROB = 0.5  # FetchPickAndPlace: probability that the goal is lifted off the table
PICK_AIR_HEIGHT = 0.45  # lifted goals rise up to this much above the table
# OOD regions (GOAT)
OOD_RANGE = 0.15  # obj_range = target_range for the OOD groups
NEAR_RADII = (0.0, 0.15)
FAR_RADII = (0.15, 0.3)
PICK_LOW_TOP = 0.6  # Low: goal z in [table, 0.6]
PICK_HIGH_Z = (0.6, 0.9)  # High: goal z in [0.6, 0.9]
PUSH_OOD_TABLE_HALF = (0.35, 0.35)  # GOAT enlarges the Push table so Far goals stay on it
NOISE_LEVELS = (0.5, 1.0, 1.5)
NOISE_TASK_PREFIX = "FetchReachNoise-"  # FetchReachNoise-<std>: FetchReach with that action noise


@dataclass(frozen=True)
class FetchLayout:
    """Object-start and goal distributions of one Fetch task, relative to the initial gripper."""

    base: str  # "reach", "push", "pick" or "slide"
    grip0: tuple[float, float, float]
    table_z: float
    obj_region: str = "default"  # "none", "default", "right", "left", "near", "far"
    obj_range: float = OBJ_RANGE
    goal_xy: str = "square"  # "square", "right", "left", "near", "far"
    goal_range: float = TARGET_RANGE
    goal_offset: tuple[float, float] = (0.0, 0.0)
    goal_z: str = "table"  # "reach", "table", "pick", "air", "low", "high"
    table_half: tuple[float, float] | None = None  # enlarge the table (half sizes in x, y)


def _annulus(n: int, rng: np.random.Generator, radii: tuple[float, float]) -> np.ndarray:
    """n points uniform (by area) in the annulus r0 <= r <= r1 around the origin."""
    r0, r1 = radii
    r = np.sqrt(rng.uniform(r0 * r0, r1 * r1, size=n))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _side(n: int, rng: np.random.Generator, rng_range: float, sign: float) -> np.ndarray:
    """x offset uniform in [-range, range], y offset uniform in [0, range] on the side `sign`."""
    x = rng.uniform(-rng_range, rng_range, size=n)
    y = sign * rng.uniform(0.0, rng_range, size=n)
    return np.stack([x, y], axis=1)


def _region_offsets(kind: str, n: int, rng: np.random.Generator, rng_range: float) -> np.ndarray:
    """n xy offsets (n, 2) from the initial gripper, uniform in the region `kind`."""
    if kind == "right":
        return _side(n, rng, rng_range, 1.0)
    if kind == "left":
        return _side(n, rng, rng_range, -1.0)
    if kind == "near":
        return _annulus(n, rng, NEAR_RADII)
    if kind == "far":
        return _annulus(n, rng, FAR_RADII)
    if kind == "square":
        return rng.uniform(-rng_range, rng_range, size=(n, 2))
    raise ValueError(f"unknown region {kind!r}")


def sample_object_xy(layout: FetchLayout, n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial object xy (n, 2) for the layout."""
    grip = np.asarray(layout.grip0[:2])
    if layout.obj_region == "default":
        # Gymnasium-Robotics: uniform in the square, at least OBJ_MIN_DIST from the gripper (vectorised rejection)
        out = np.empty((n, 2))
        missing = np.arange(n)
        while missing.size:
            cand = rng.uniform(-layout.obj_range, layout.obj_range, size=(missing.size, 2))
            ok = np.linalg.norm(cand, axis=1) >= OBJ_MIN_DIST
            out[missing[ok]] = cand[ok]
            missing = missing[~ok]
        return grip + out
    return grip + _region_offsets(layout.obj_region, n, rng, layout.obj_range)


def sample_goals(layout: FetchLayout, n: int, rng: np.random.Generator) -> np.ndarray:
    """Goals (n, 3) for the layout."""
    grip = np.asarray(layout.grip0)
    if layout.base == "reach":
        return grip + rng.uniform(-REACH_TARGET_RANGE, REACH_TARGET_RANGE, size=(n, 3))
    goals = np.empty((n, 3))
    goals[:, :2] = grip[:2] + np.asarray(layout.goal_offset) + _region_offsets(
        layout.goal_xy, n, rng, layout.goal_range)
    z = np.full(n, layout.table_z)
    if layout.goal_z == "pick":
        lifted = rng.uniform(size=n) < PICK_AIR_PROB
        z = z + np.where(lifted, rng.uniform(0.0, PICK_AIR_HEIGHT, size=n), 0.0)
    elif layout.goal_z == "air":
        z = z + rng.uniform(0.0, PICK_AIR_HEIGHT, size=n)
    elif layout.goal_z == "low":
        z = rng.uniform(layout.table_z, PICK_LOW_TOP, size=n)
    elif layout.goal_z == "high":
        z = rng.uniform(*PICK_HIGH_Z, size=n)
    elif layout.goal_z != "table":
        raise ValueError(f"unknown goal height rule {layout.goal_z!r}")
    goals[:, 2] = z
    return goals


def _layouts() -> dict[str, FetchLayout]:
    """Every Fetch task's layout, by task name."""
    reach = FetchLayout("reach", GRIP0_REACH, TABLE_Z_PUSH_PICK, obj_region="none", goal_z="reach")
    push = FetchLayout("push", GRIP0_PUSH, TABLE_Z_PUSH_PICK)
    pick = FetchLayout("pick", GRIP0_PICK, TABLE_Z_PUSH_PICK, goal_z="pick")
    slide = FetchLayout("slide", GRIP0_SLIDE, TABLE_Z_SLIDE, obj_range=SLIDE_OBJ_RANGE,
                        goal_range=SLIDE_TARGET_RANGE, goal_offset=SLIDE_TARGET_OFFSET)
    out = {"FetchReach": reach, "FetchPush": push, "FetchPick": pick, "FetchSlide": slide}
    for level in NOISE_LEVELS:
        out[f"{NOISE_TASK_PREFIX}{level}"] = reach
    sides = ("Right", "Left")
    push_ood = replace(push, grip0=GRIP0_PUSH_OOD, obj_range=OOD_RANGE, goal_range=OOD_RANGE,
                       table_half=PUSH_OOD_TABLE_HALF)
    pick_ood = replace(pick, obj_range=OOD_RANGE, goal_range=OOD_RANGE)
    for start in sides:
        for end in sides:
            suffix = f"{start}2{end}"
            out[f"FetchPushOOD-{suffix}"] = replace(push_ood, obj_region=start.lower(), goal_xy=end.lower())
            out[f"FetchPickOOD-{suffix}"] = replace(pick_ood, obj_region=start.lower(), goal_xy=end.lower(),
                                                     goal_z="air")
    for start in ("Near", "Far"):
        for end in ("Near", "Far"):
            out[f"FetchPushOOD-{start}2{end}"] = replace(push_ood, obj_region=start.lower(), goal_xy=end.lower())
    out["FetchPickOOD-Low2Low"] = replace(pick_ood, goal_z="low")
    out["FetchPickOOD-Low2High"] = replace(pick_ood, goal_z="high")
    return out


LAYOUTS: dict[str, FetchLayout] = _layouts()


def action_noise(task: str) -> float:
    """Std of the Gaussian noise the environment adds to every action: <std> for FetchReachNoise-<std>, else 0."""
    return float(task.split("-")[1]) if task.startswith(NOISE_TASK_PREFIX) else 0.0


__all__ = ["FetchLayout", "LAYOUTS", "action_noise", "sample_goals", "sample_object_xy"]

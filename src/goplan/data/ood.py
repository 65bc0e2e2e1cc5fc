"""The OOD task groups of GOAT (SPEC section 7) and their IID regions, as vectorised predicates.

A group's dataset is collected on its IID task and keeps only the trajectories whose achieved goals
(all T+1 of them) stay inside the IID region:

    Right  object y > initial gripper y                       (Push / Pick Left-Right)
    Near   object xy within 0.15 of the initial gripper xy     (Push Near-Far)
    Low    object z < 0.6                                      (Pick Low-High)

The thresholds are the ones `goplan.tasks.fetch` samples the regions with; the initial gripper
position is the IID task's layout origin (`TaskSpec.layout_origin`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from goplan.errors import ConfigError, DatasetError
from goplan.tasks.fetch import NEAR_RADII, PICK_LOW_TOP
from goplan.tasks.registry import get_task

REGION_RIGHT = "right"
REGION_NEAR = "near"
REGION_LOW = "low"
REGION_KINDS = (REGION_RIGHT, REGION_NEAR, REGION_LOW)
X_AXIS, Y_AXIS, Z_AXIS = 0, 1, 2
XY = slice(0, 2)
GOAL_DIM = 3  # the Fetch tasks' achieved goal: object xyz


@dataclass(frozen=True)
class IIDRegion:
    """A predicate over whole trajectories of achieved goals: True where every step is in the region.

    Picklable (a frozen dataclass of floats), so worker processes can filter their own chunks."""

    kind: str
    origin: tuple[float, float, float]  # initial gripper position
    near_radius: float
    low_top: float

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            raise ConfigError(f"unknown IID region {self.kind!r}; known: {', '.join(REGION_KINDS)}")

    def inside(self, points: np.ndarray) -> np.ndarray:
        """Elementwise membership of achieved goals (..., 3) -> bool (...)."""
        points = np.asarray(points)
        if points.ndim < 1 or points.shape[-1] != GOAL_DIM:
            raise DatasetError(f"IID region {self.kind}: achieved goals must end in dim {GOAL_DIM}, "
                               f"got shape {points.shape}")
        origin = np.asarray(self.origin, dtype=np.float64)
        if self.kind == REGION_RIGHT:
            return points[..., Y_AXIS] > origin[Y_AXIS]
        if self.kind == REGION_NEAR:
            return np.linalg.norm(points[..., XY] - origin[XY], axis=-1) <= self.near_radius
        return points[..., Z_AXIS] < self.low_top

    def __call__(self, achieved_goals: np.ndarray) -> np.ndarray:
        """achieved_goals (n, T+1, 3) -> bool (n,): the whole trajectory stays in the region."""
        achieved_goals = np.asarray(achieved_goals)
        if achieved_goals.ndim != 3:
            raise DatasetError(f"IID region {self.kind}: expected achieved goals (episodes, steps, 3), "
                               f"got shape {achieved_goals.shape}")
        return self.inside(achieved_goals).all(axis=1)

    def describe(self) -> str:
        if self.kind == REGION_RIGHT:
            return f"object y > {self.origin[Y_AXIS]:.4f} (initial gripper y) at every step"
        if self.kind == REGION_NEAR:
            return (f"object xy within {self.near_radius:g} of ({self.origin[X_AXIS]:.4f}, "
                    f"{self.origin[Y_AXIS]:.4f}) (initial gripper xy) at every step")
        return f"object z < {self.low_top:g} at every step"


@dataclass(frozen=True)
class OODGroup:
    """One OOD task group: its name, a command-line alias, its IID task and all its tasks."""

    name: str  # as in the paper, e.g. "Push Left-Right"
    alias: str  # a task-like name for `goplan collect`, e.g. "FetchPushOOD-LeftRight"
    iid_task: str
    tasks: tuple[str, ...]
    region: str  # one of REGION_KINDS

    def iid_region(self) -> IIDRegion:
        """The group's IID predicate, anchored at the IID task's initial gripper position."""
        spec = get_task(self.iid_task)
        if spec.layout_origin is None:
            raise ConfigError(f"OOD group {self.name}: task {spec.name} has no layout origin to anchor "
                              f"its IID region at")
        return IIDRegion(self.region, tuple(float(v) for v in spec.layout_origin),
                         near_radius=float(NEAR_RADII[1]), low_top=float(PICK_LOW_TOP))


def _side_tasks(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}-{a}2{b}" for a in ("Right", "Left") for b in ("Right", "Left"))


OOD_GROUPS: tuple[OODGroup, ...] = (
    OODGroup("Push Left-Right", "FetchPushOOD-LeftRight", "FetchPushOOD-Right2Right",
             _side_tasks("FetchPushOOD"), REGION_RIGHT),
    OODGroup("Push Near-Far", "FetchPushOOD-NearFar", "FetchPushOOD-Near2Near",
             tuple(f"FetchPushOOD-{a}2{b}" for a in ("Near", "Far") for b in ("Near", "Far")), REGION_NEAR),
    OODGroup("Pick Left-Right", "FetchPickOOD-LeftRight", "FetchPickOOD-Right2Right",
             _side_tasks("FetchPickOOD"), REGION_RIGHT),
    OODGroup("Pick Low-High", "FetchPickOOD-LowHigh", "FetchPickOOD-Low2Low",
             ("FetchPickOOD-Low2Low", "FetchPickOOD-Low2High"), REGION_LOW),
)


def group_by_alias(name: str) -> OODGroup | None:
    return next((g for g in OOD_GROUPS if g.alias == name), None)


def group_of_task(task: str) -> OODGroup | None:
    """The group a task belongs to (IID or evaluation task), or None."""
    return next((g for g in OOD_GROUPS if task in g.tasks), None)


__all__ = ["IIDRegion", "OODGroup", "OOD_GROUPS", "group_by_alias", "group_of_task", "REGION_KINDS"]

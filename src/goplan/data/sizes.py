"""Paper dataset sizes (SPEC sections 6 and 7) and the dataset names `goplan collect` accepts.

A dataset name is a task name, optionally with the small-data suffix `-s` (a tenth of the data), or an
OOD group alias (e.g. `FetchPushOOD-LeftRight`, same as its IID task `FetchPushOOD-Right2Right`):

    name                         task collected on            paper size
    PointReach ... FetchReach    the task                     1e5 transitions (2000 episodes of 50 steps)
    FetchPush/Pick/Slide, Hand   the task                     2e6 transitions (40000 episodes)
    <any of the above>-s         the task                     a tenth
    OOD IID task or group alias  the group's IID task         5000 trajectories inside the IID region

The card of a dataset names the task it was collected on (`task`), the name asked for (`dataset`) and
`variant`: "full" or "small".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from goplan.data.ood import OOD_GROUPS, OODGroup, group_by_alias, group_of_task
from goplan.errors import ConfigError
from goplan.tasks.registry import TaskSpec, get_task, task_names

LOW_DIM_TRANSITIONS = 100_000
HIGH_DIM_TRANSITIONS = 2_000_000
OOD_TRAJECTORIES = 5_000
SMALL_SUFFIX = "-s"
SMALL_DIVISOR = 10  # the -s variants hold 1/10 of the data
VARIANT_FULL = "full"
VARIANT_SMALL = "small"

LOW_DIM_TASKS = ("PointReach", "PointRooms", "Reacher", "SawyerReach", "SawyerDoor", "FetchReach")
LOW_DIM_PREFIXES = ("FetchReachNoise-",)  # FetchReachNoise-0.5, -1.0, -1.5
HIGH_DIM_TASKS = ("FetchPush", "FetchPick", "FetchSlide", "HandReach")

# episodes per chunk (one vectorised environment, one resumable unit of work)
VECTOR_CHUNK_EPISODES = 1000  # numpy-vectorised tasks (PointReach, PointRooms): cheap per episode
MUJOCO_CHUNK_EPISODES = 250  # MuJoCo tasks: about 10-20 s of one core per chunk


@dataclass(frozen=True)
class DatasetPlan:
    """What `goplan collect NAME` collects."""

    name: str  # the name asked for, e.g. "FetchPush-s"
    task: str  # the registered task collected on, e.g. "FetchPush"
    variant: str  # VARIANT_FULL or VARIANT_SMALL
    episodes: int | None  # paper size in episodes (kept trajectories for an OOD group); None: no paper size
    ood_group: OODGroup | None = None


def paper_transitions(task: str) -> int | None:
    """Full-size transition count of a (non-OOD) task, or None where the paper gives none."""
    if task in HIGH_DIM_TASKS:
        return HIGH_DIM_TRANSITIONS
    if task in LOW_DIM_TASKS or task.startswith(LOW_DIM_PREFIXES):
        return LOW_DIM_TRANSITIONS
    return None


def resolve_dataset(name: str) -> DatasetPlan:
    """Split a dataset name into task, variant and paper size; TaskError for an unknown task."""
    base, variant = name, VARIANT_FULL
    if name.endswith(SMALL_SUFFIX) and len(name) > len(SMALL_SUFFIX):
        base, variant = name[: -len(SMALL_SUFFIX)], VARIANT_SMALL
    divisor = SMALL_DIVISOR if variant == VARIANT_SMALL else 1
    group = group_by_alias(base)
    task = group.iid_task if group is not None else base
    spec = get_task(task)  # TaskError with suggestions for an unknown name
    if group is None:
        group = group_of_task(task)
        if group is not None and group.iid_task != task:
            return DatasetPlan(name, task, variant, None, None)  # an OOD evaluation task: no dataset of its own
    if group is not None:
        return DatasetPlan(name, task, variant, math.ceil(OOD_TRAJECTORIES / divisor), group)
    transitions = paper_transitions(task)
    if transitions is None:
        return DatasetPlan(name, task, variant, None, None)
    return DatasetPlan(name, task, variant, math.ceil(transitions / spec.max_steps / divisor), None)


def default_episodes(plan: DatasetPlan) -> int:
    """The paper size of a plan, or ConfigError saying why there is none."""
    if plan.episodes is not None:
        return plan.episodes
    group = group_of_task(plan.task)
    if group is not None:
        raise ConfigError(
            f"{plan.task} is an evaluation task of the OOD group {group.name}; its dataset is collected on the "
            f"IID task: goplan collect {group.iid_task} (or pass --episodes to collect on {plan.task} anyway)"
        )
    raise ConfigError(f"task {plan.task} has no paper dataset size; pass --episodes")


def dataset_names() -> list[DatasetPlan]:
    """Every name `goplan collect` knows a paper size for: tasks, their -s variants and the OOD groups."""
    names = [n for n in task_names() if paper_transitions(n) is not None]
    names += [g.alias for g in OOD_GROUPS]
    plans = [resolve_dataset(n + suffix) for n in names for suffix in ("", SMALL_SUFFIX)]
    return [p for p in plans if p.episodes is not None]


def default_chunk_episodes(spec: TaskSpec) -> int:
    """Episodes per chunk for a task: large for numpy-vectorised tasks, smaller for simulated (MuJoCo) ones."""
    return MUJOCO_CHUNK_EPISODES if spec.simulator is not None else VECTOR_CHUNK_EPISODES


__all__ = ["DatasetPlan", "dataset_names", "resolve_dataset", "default_episodes", "default_chunk_episodes", "paper_transitions",
           "LOW_DIM_TRANSITIONS", "HIGH_DIM_TRANSITIONS", "OOD_TRAJECTORIES", "SMALL_DIVISOR", "SMALL_SUFFIX"]

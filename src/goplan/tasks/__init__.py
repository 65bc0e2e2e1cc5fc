"""Goal-conditioned tasks and their registry.

`registry` defines TaskSpec and the registry; the task modules (`point`, `fetch`, `hand`, `reacher`,
`sawyer`) register their tasks when imported, and `catalog` imports them all, here, so that importing
anything from `goplan.tasks` finds every built-in task registered.
"""
from goplan.tasks.registry import TaskSpec, VecGoalEnv, check_shapes, get_task, register_task, task_names

from goplan.tasks import catalog  # noqa: F401  (registers the built-in tasks; after the registry)

__all__ = ["TaskSpec", "VecGoalEnv", "check_shapes", "get_task", "register_task", "task_names"]

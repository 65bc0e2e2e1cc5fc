"""Goal-conditioned tasks and their registry."""
from goplan.tasks.registry import TaskSpec, VecGoalEnv, check_shapes, get_task, register_task, task_names

__all__ = ["TaskSpec", "VecGoalEnv", "check_shapes", "get_task", "register_task", "task_names"]

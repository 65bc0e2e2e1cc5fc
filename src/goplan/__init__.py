"""goplan: GOPlan, goal-conditioned offline RL by planning with learned models.

Notebook use:
    from goplan import GOPlanAgent, TrajectoryDataset, make_config, collect
    data = collect("PointRooms", episodes=2000, seed=0)
    agent = GOPlanAgent("PointRooms", make_config("cpu"))
    agent.fit(data)
    agent.act(obs, goal); agent.plan(obs, goal); agent.save("agent.safetensors")
"""
# First, before anything imports torch: idle OpenMP threads sleep instead of spinning, unless the user
# chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). Spinning threads collapse a run beside other busy
# processes; see goplan/threads.py and docs/notes/overlap-under-load.md.
from goplan.threads import configure_openmp_wait as _configure_openmp_wait

_configure_openmp_wait()

from goplan.config import GOPlanConfig, make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.tasks.registry import TaskSpec, get_task, task_names

__version__ = "0.1.0"


def __getattr__(name):  # lazy imports keep `import goplan` light
    if name == "GOPlanAgent":
        from goplan.agents.goplan import GOPlanAgent

        return GOPlanAgent
    if name == "GCSLAgent":
        from goplan.agents.gcsl import GCSLAgent

        return GCSLAgent
    if name == "collect":
        from goplan.data.collect import collect

        return collect
    if name == "evaluate":
        from goplan.evaluation import evaluate

        return evaluate
    raise AttributeError(name)


__all__ = ["GOPlanConfig", "TaskSpec", "TrajectoryDataset", "get_task", "make_config", "task_names",
           "GOPlanAgent", "GCSLAgent", "collect", "evaluate", "__version__"]

"""Algorithm 2: batched model-based planning with the prior policy and the dynamics ensemble."""
from goplan.planner.planner import Planner, PlannerSettings

__all__ = ["Planner", "PlannerSettings"]

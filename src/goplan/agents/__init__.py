"""Agents: GOPlan and the goal-conditioned supervised baseline GCSL."""
from goplan.agents.goplan import GOPlanAgent

__all__ = ["GOPlanAgent"]

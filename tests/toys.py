"""Hand-made policies and ensembles with known behaviour, for testing the planner and reanalysis."""
from __future__ import annotations

import torch
from torch import nn

from goplan.models import DynamicsEnsemble, Normalizer
from goplan.planner import Planner, PlannerSettings
from goplan.reanalysis import DeviceTrajectories, ReanalysisContext, ReanalysisSettings
from goplan.tasks.registry import TaskSpec

TOY_TASK = TaskSpec(name="Toy2D", obs_dim=2, goal_dim=2, act_dim=2, eps=0.5, goal_indices=(0, 1), max_steps=10)


class ToyPolicy(nn.Module):
    """Deterministic policies over the 2-D plane, in raw coordinates (identity normalisers).

    "straight": unit-speed step toward the goal (stops on it); "still": never moves;
    "two_modes": at |x| < 0.5 the sign of z picks +x or -x, elsewhere it keeps going the way it went,
    and it stops within eps of the goal.
    """

    def __init__(self, kind: str, eps: float = TOY_TASK.eps):
        super().__init__()
        self.kind, self.eps = kind, eps

    def forward(self, s, g, z):
        if self.kind == "still":
            return torch.zeros_like(s)
        if self.kind == "straight":
            d = g - s
            return d / d.norm(dim=-1, keepdim=True).clamp_min(1.0)
        at_goal = (s - g).norm(dim=-1, keepdim=True) <= self.eps
        x = torch.where(s[:, :1].abs() < 0.5, torch.sign(z[:, :1]), torch.sign(s[:, :1]))
        a = torch.cat([x, torch.zeros_like(x)], dim=-1)
        return torch.where(at_goal, torch.zeros_like(a), a)


class ToyEnsemble(nn.Module):
    """s' = s + a for every member, except that where x > disagree_x the members disagree by
    -spread, 0, +spread on every dimension (so Eq. 4, the unbiased variance, there equals spread^2)."""

    def __init__(self, disagree_x: float = float("inf"), spread: float = 1.0, members: int = 3):
        super().__init__()
        self.members, self.act_dim, self.state_dim = members, 2, 2
        self.disagree_x, self.spread = disagree_x, spread

    def all_members(self, s, a):
        base = (s + a).unsqueeze(0).expand(self.members, -1, -1)
        offsets = torch.linspace(-self.spread, self.spread, self.members).view(-1, 1, 1)
        wild = (s[:, :1] > self.disagree_x).float().unsqueeze(0)
        return base + wild * offsets

    def sample_next(self, s, a, generator=None):
        return s + a

    disagreement = staticmethod(DynamicsEnsemble.disagreement)


def identity_norm(dim: int = 2) -> Normalizer:
    return Normalizer(dim)


def make_planner(policy: nn.Module, ensemble: nn.Module, candidates=20, copies=10, horizon=8, kappa=2.0) -> Planner:
    return Planner(policy=policy, dynamics=ensemble, state_norm=identity_norm(), goal_norm=identity_norm(),
                   task=TOY_TASK, settings=PlannerSettings(candidates=candidates, copies=copies, horizon=horizon,
                                                           kappa=kappa, noise_dim=4))


def make_context(planner: Planner, ensemble: nn.Module, observations: torch.Tensor, actions: torch.Tensor,
                 threshold: float = 0.1) -> ReanalysisContext:
    data = DeviceTrajectories(observations=observations, achieved_goals=observations.clone(), actions=actions)
    return ReanalysisContext(planner=planner, dynamics=ensemble, state_norm=identity_norm(), data=data,
                             settings=ReanalysisSettings(threshold=threshold, transition="mean", chunk=64))


def line_trajectory(points: list[tuple[float, float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """One trajectory through the given states (1, T+1, 2) with actions = differences (1, T, 2)."""
    obs = torch.tensor(points, dtype=torch.float32).unsqueeze(0)
    return obs, obs[:, 1:] - obs[:, :-1]

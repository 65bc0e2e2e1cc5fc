"""Goal-conditioned value function V(s, g) with a Polyak-averaged target network (Eq. 6)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from goplan.models.layers import mlp


class ValueFunction(nn.Module):
    def __init__(self, state_dim: int, goal_dim: int, hidden: int, layers: int):
        super().__init__()
        self.net = mlp(state_dim + goal_dim, hidden, 1, layers)
        self.target = copy.deepcopy(self.net)
        self.target.requires_grad_(False)

    def forward(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, g], dim=-1)).squeeze(-1)

    def target_value(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.target(torch.cat([s, g], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """target <- (1 - tau) target + tau online, as one fused op over all parameters."""
        torch._foreach_lerp_(list(self.target.parameters()), list(self.net.parameters()), tau)

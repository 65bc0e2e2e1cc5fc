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
        return _evaluate(self.net, s, g)

    def target_value(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return _evaluate(self.target, s, g)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """target <- (1 - tau) target + tau online, as one fused op over all parameters."""
        torch._foreach_lerp_(list(self.target.parameters()), list(self.net.parameters()), tau)


def _evaluate(net: nn.Sequential, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The hidden layers run at the caller's matrix precision (bf16 under autocast); the output layer
    always runs in fp32, so V keeps fp32 resolution. In fp32 this is exactly net(cat(s, g))."""
    hidden = net[:-1](torch.cat([s, g], dim=-1))
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        return net[-1](hidden.float()).squeeze(-1)

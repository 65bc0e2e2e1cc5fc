"""Building blocks: plain MLPs and a vectorised ensemble of MLPs (weights shaped (members, in, out))."""
from __future__ import annotations

import math

import torch
from torch import nn


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, act: type[nn.Module] = nn.ReLU,
        batch_norm: bool = False) -> nn.Sequential:
    """`layers` linear layers; hidden ones followed by (BatchNorm and) the activation. The activation
    works in place: neither a linear layer's nor BatchNorm's backward needs its output, and it saves an
    activation-sized allocation per layer."""
    mods: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers - 1):
        mods.append(nn.Linear(dim, hidden))
        if batch_norm:
            mods.append(nn.BatchNorm1d(hidden))
        mods.append(act(inplace=True))
        dim = hidden
    mods.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*mods)


class EnsembleLinear(nn.Module):
    """N independent linear layers applied as one batched matmul: x (N, B, in) -> (N, B, out)."""

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        self.members, self.in_dim, self.out_dim = members, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)  # same init as nn.Linear, per member
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """N MLPs evaluated together. Input (N, B, in) -> (N, B, out)."""

    def __init__(self, members: int, in_dim: int, hidden: int, out_dim: int, layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu_(x)  # in place, as in mlp()
        return x

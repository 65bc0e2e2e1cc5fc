"""Standardisation of states and goals with statistics of the dataset (stored as buffers)."""
from __future__ import annotations

import torch
from torch import nn

MIN_STD = 1e-2  # floor on a dimension's std so constant dimensions do not blow up


class Normalizer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, data: torch.Tensor) -> None:
        flat = data.reshape(-1, data.shape[-1]).to(self.mean.dtype)
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp_min(MIN_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

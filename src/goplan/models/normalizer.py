"""Standardisation of states and goals with statistics of the dataset (stored as buffers, so they travel
with every checkpoint).

Two rules (the setting `normalization`, goplan/config.py):
- "reference": the statistics of the data with N(0, noise^2) added to every entry, as the public
  reference implementation fits its scalers. Taken in expectation rather than by drawing the noise:
  mean = mean(x), std = sqrt(var(x) + noise^2) (population variance). Dimensions that barely move
  (a gripper's fingers, velocities) are scaled by about 1 / noise instead of 1 / their own tiny std,
  so they do not dominate the networks' inputs.
- "exact": each dimension's own standard deviation, floored at `min_std` (this package's former rule).
"""
from __future__ import annotations

import torch
from torch import nn


class Normalizer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit_reference(self, data: torch.Tensor, noise_std: float) -> None:
        """mean = mean(x), std = sqrt(var(x) + noise_std^2) with the population variance, in float64.
        A dimension whose std is still 0 (constant data and noise_std = 0) keeps a scale of 1."""
        flat = data.reshape(-1, data.shape[-1]).double()
        std = (flat.var(0, unbiased=False) + noise_std ** 2).sqrt()
        self.mean.copy_(flat.mean(0).to(self.mean.dtype))
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)).to(self.std.dtype))

    @torch.no_grad()
    def fit_exact(self, data: torch.Tensor, min_std: float) -> None:
        """mean = mean(x), std = max(std(x), min_std) with the sample (N - 1) std, in the data's dtype."""
        flat = data.reshape(-1, data.shape[-1]).to(self.mean.dtype)
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp_min(min_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean



def fit_normalizers(state_norm: Normalizer, goal_norm: Normalizer, observations: torch.Tensor,
                    achieved_goals: torch.Tensor, desired_goals: torch.Tensor, rule: str, state_noise: float,
                    goal_noise: float, min_std: float) -> None:
    """Fit both normalisers to a trajectory dataset ((E, T+1, S) states, (E, T+1, G) achieved and
    (E, T, G) desired goals) by `rule`:
    - "reference": states s_0 .. s_{T-1} and the desired goals, each with its noise variance added;
    - "exact": all states and the achieved goals, each dimension's own std floored at min_std."""
    if rule == "reference":
        state_norm.fit_reference(observations[:, :-1], state_noise)
        goal_norm.fit_reference(desired_goals, goal_noise)
    elif rule == "exact":
        state_norm.fit_exact(observations, min_std)
        goal_norm.fit_exact(achieved_goals, min_std)
    else:
        raise ValueError(f"normalization must be 'reference' or 'exact', got {rule!r}")

"""Advantage-weighted conditional GAN: the prior policy (generator) and its discriminator (Eq. 5, 7, 8)."""
from __future__ import annotations

import math

import torch
from torch import nn

from goplan.models.layers import mlp


class Generator(nn.Module):
    """pi(s, g, z): MLP with batch normalisation, tanh action output."""

    def __init__(self, state_dim: int, goal_dim: int, act_dim: int, noise_dim: int, hidden: int, layers: int):
        super().__init__()
        self.noise_dim = noise_dim
        self.net = mlp(state_dim + goal_dim + noise_dim, hidden, act_dim, layers, batch_norm=True)

    def forward(self, s: torch.Tensor, g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(torch.cat([s, g, z], dim=-1)))


class Discriminator(nn.Module):
    """D(s, a, g): MLP with leaky ReLU, sigmoid output clipped to [clip, 1 - clip]."""

    def __init__(self, state_dim: int, goal_dim: int, act_dim: int, hidden: int, layers: int, clip: float):
        super().__init__()
        self.clip = clip
        self.net = mlp(state_dim + act_dim + goal_dim, hidden, 1, layers, act=nn.LeakyReLU)

    def forward(self, s: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        # sigmoid and clip in fp32 even under bf16 autocast: in bf16, 1 - 1e-4 rounds to 1 and log(1 - D) to -inf
        d = torch.sigmoid(self.net(torch.cat([s, a, g], dim=-1)).squeeze(-1).float())
        return d.clamp(self.clip, 1.0 - self.clip)


def advantage_weight(r: torch.Tensor, v: torch.Tensor, v_next: torch.Tensor, gamma: float, beta: float,
                     clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A = r + gamma (1 - r) V(s', g) - V(s, g); w = clip(exp(beta A), 0, M). Returns (w, A)."""
    adv = r + gamma * (1.0 - r) * v_next - v
    # exp overflows to inf for large beta * A; clamping the exponent first gives the same clipped weight
    w = torch.exp((beta * adv).clamp(max=math.log(clip) + 1.0)).clamp(0.0, clip)
    return w, adv


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, w: torch.Tensor,
                       scale_fake_by_weight: bool) -> torch.Tensor:
    """Eq. 7: -E[w log D(s, a, g)] - E[log(1 - D(s, a', g))] (fake term scaled by mean w, as the reference)."""
    fake_scale = w.mean() if scale_fake_by_weight else 1.0
    return -(w * torch.log(d_real)).mean() - fake_scale * torch.log(1.0 - d_fake).mean()


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 8: E[log(1 - D(s, pi(s, g, z), g))]."""
    return torch.log(1.0 - d_fake).mean()

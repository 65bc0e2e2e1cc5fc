"""Goal relabelling: sample transitions whose goal is a future achieved goal of the same trajectory."""
from __future__ import annotations

import torch


def uniform_future(t: torch.Tensor, horizon: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Offsets k uniform in 1 .. horizon - t for each start index t (so t + k is a later state index)."""
    offset = (torch.rand(t.shape, device=t.device, generator=generator) * (horizon - t)).long()
    return 1 + torch.minimum(offset, horizon - 1 - t)


def sample_relabelled(observations: torch.Tensor, achieved_goals: torch.Tensor, desired_goals: torch.Tensor,
                      actions: torch.Tensor, batch: int, her_prob: float,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """(s_t, a_t, s_{t+1}, g) for uniformly random (episode, t). With probability her_prob the goal is
    phi(s_{t'}) for t' uniform in t+1 .. T (future-state relabelling), else the collected goal."""
    dev = observations.device
    e, t_len = actions.shape[:2]
    ep = torch.randint(e, (batch,), device=dev, generator=generator)
    t = torch.randint(t_len, (batch,), device=dev, generator=generator)
    future = t + uniform_future(t, t_len, generator)
    her = torch.rand(batch, device=dev, generator=generator) < her_prob
    g = torch.where(her.unsqueeze(1), achieved_goals[ep, future], desired_goals[ep, t])
    return observations[ep, t], actions[ep, t], observations[ep, t + 1], g

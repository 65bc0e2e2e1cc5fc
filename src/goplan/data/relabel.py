"""Goal relabelling: sample transitions whose goal is a future achieved goal of the same trajectory."""
from __future__ import annotations

import torch


def sample_relabelled(observations: torch.Tensor, achieved_goals: torch.Tensor, desired_goals: torch.Tensor,
                      actions: torch.Tensor, batch: int, her_prob: float,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """(s_t, a_t, s_{t+1}, g) for uniformly random (episode, t). With probability her_prob the goal is
    phi(s_{t'}) for t' uniform in t+1 .. T (future-state relabelling), else the collected goal."""
    dev = observations.device
    e, t_len = actions.shape[:2]
    ep = torch.randint(e, (batch,), device=dev, generator=generator)
    t = torch.randint(t_len, (batch,), device=dev, generator=generator)
    offset = (torch.rand(batch, device=dev, generator=generator) * (t_len - t)).long()
    future = t + 1 + torch.minimum(offset, t_len - 1 - t)
    her = torch.rand(batch, device=dev, generator=generator) < her_prob
    g = torch.where(her.unsqueeze(1), achieved_goals[ep, future], desired_goals[ep, t])
    return observations[ep, t], actions[ep, t], observations[ep, t + 1], g

"""Imagined rollouts that plan at every step, for a whole batch of start states and goals at once.

Rows advance together; a row stops when it reaches its goal, when the ensemble disagrees more than
the threshold u on its last transition, or when it has used its own step budget. Finished rows are
dropped from the batch (the active set shrinks), so no work is spent on them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from goplan.models import DynamicsEnsemble
from goplan.planner import Planner

REACHED, UNCERTAIN, TIMEOUT = 0, 1, 2


@dataclass
class Rollout:
    states: torch.Tensor  # (B, L+1, S) normalised imagined states; row i valid up to lengths[i]
    actions: torch.Tensor  # (B, L, A)
    lengths: torch.Tensor  # (B,) number of imagined transitions
    outcome: torch.Tensor  # (B,) REACHED, UNCERTAIN or TIMEOUT
    max_uncertainty: torch.Tensor  # (B,) Eq. 4 over the steps taken


@torch.no_grad()
def imagine(planner: Planner, dynamics: DynamicsEnsemble, s0: torch.Tensor, g_raw: torch.Tensor,
            budgets: torch.Tensor, threshold: float, transition: str = "mean",
            generator: torch.Generator | None = None) -> Rollout:
    """Plan-and-step from normalised s0 (B, S) toward raw goals (B, G), row i for at most budgets[i] steps."""
    b, s_dim = s0.shape
    device = s0.device
    max_len = int(budgets.max().item()) if b else 0
    act_dim = dynamics.act_dim
    states = torch.zeros(b, max_len + 1, s_dim, device=device)
    states[:, 0] = s0
    actions = torch.zeros(b, max_len, act_dim, device=device)
    lengths = torch.zeros(b, dtype=torch.long, device=device)
    outcome = torch.full((b,), TIMEOUT, dtype=torch.long, device=device)
    max_unc = torch.zeros(b, device=device)

    active = torch.nonzero(budgets > 0).squeeze(-1)
    s = s0[active]
    for step in range(max_len):
        if active.numel() == 0:
            break
        g = g_raw[active]
        a = planner.plan(s, g, generator)
        with planner.precision():
            preds = dynamics.all_members(s, a)  # (N, B_active, S), fp32: s + residual
        unc = dynamics.disagreement(preds)
        if transition == "mean":
            s_next = preds.mean(0)
        else:
            pick = torch.randint(dynamics.members, (s.shape[0],), device=device, generator=generator)
            s_next = preds[pick, torch.arange(s.shape[0], device=device)]
        actions[active, step] = a
        states[active, step + 1] = s_next
        lengths[active] = step + 1
        max_unc[active] = torch.maximum(max_unc[active], unc)

        uncertain = unc > threshold
        reached = (planner.task.reward(planner.achieved_goal(s_next), g) > 0) & ~uncertain
        outcome[active[uncertain]] = UNCERTAIN
        outcome[active[reached]] = REACHED
        keep = ~(uncertain | reached) & (budgets[active] > step + 1)
        active, s = active[keep], s_next[keep]
    return Rollout(states, actions, lengths, outcome, max_unc)

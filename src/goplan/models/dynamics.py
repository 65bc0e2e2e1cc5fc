"""Ensemble of residual dynamics models (Eq. 3) and their disagreement (Eq. 4).

All members are one vectorised module. States are in normalised space; each member predicts the
residual s' - s, so a prediction is s + M_i(s, a).
"""
from __future__ import annotations

import torch
from torch import nn

from goplan.models.layers import EnsembleMLP


class DynamicsEnsemble(nn.Module):
    def __init__(self, state_dim: int, act_dim: int, hidden: int, layers: int, members: int,
                 small_batch_rows: int = 0):
        super().__init__()
        self.state_dim, self.act_dim, self.members = state_dim, act_dim, members
        # sample_next on at most this many rows evaluates every member and picks one per row (see there)
        self.small_batch_rows = small_batch_rows
        self.net = EnsembleMLP(members, state_dim + act_dim, hidden, state_dim, layers)

    def all_members(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Every member's next-state prediction for every row: (B, S), (B, A) -> (N, B, S)."""
        x = torch.cat([s, a], dim=-1).unsqueeze(0).expand(self.members, -1, -1)
        return s.unsqueeze(0) + self.net(x)

    def loss(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        """Eq. 3 summed over members (each member trained on the same batch)."""
        pred = self.all_members(s, a)
        return ((pred - s_next.unsqueeze(0)) ** 2).mean(dim=(1, 2)).sum()

    def sample_next(self, s: torch.Tensor, a: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Next state from one uniformly random member per row, evaluating only that member.

        Rows are shuffled and split into N equal groups, group i going through member i, so each row
        sees a uniformly random member and the work is that of one model, not N.

        Batches of at most small_batch_rows rows instead evaluate all N members and keep an independent
        uniformly random one per row: N times the arithmetic but half the kernels and no sort, which is
        faster where launches, not arithmetic, set the time (one planned state on a GPU).
        """
        n, members = s.shape[0], self.members
        if members == 1:
            return self.all_members(s, a)[0]
        if n <= self.small_batch_rows:
            pick = torch.randint(members, (1, n, 1), device=s.device, generator=generator)
            return self.all_members(s, a).gather(0, pick.expand(1, n, self.state_dim)).squeeze(0)
        x = torch.cat([s, a], dim=-1)
        pad = (-n) % members
        if pad:
            x = torch.cat([x, x[:pad]], dim=0)
        perm = torch.randperm(x.shape[0], device=x.device, generator=generator)
        grouped = x[perm].view(members, -1, x.shape[-1])
        delta = self.net(grouped).reshape(-1, self.state_dim)
        out = torch.empty_like(delta)
        out[perm] = delta
        return s + out[:n]

    @staticmethod
    def disagreement(pred: torch.Tensor) -> torch.Tensor:
        """Eq. 4 for one step on the reference's scale: the unbiased variance across the N members
        (divided by N - 1), averaged over normalised state dimensions, so that u = 0.1 means what it
        means there. (N, B, S) -> (B,). A single model has no disagreement: 0 for every row, so the
        uncertainty filter keeps everything when N = 1."""
        if pred.shape[0] == 1:
            return pred.new_zeros(pred.shape[1])
        return pred.var(0, unbiased=True).mean(-1)

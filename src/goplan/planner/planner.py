"""Model-based planner (Algorithm 2), batched over many start states at once.

For B states and goals: sample C first actions from the prior policy, step each with a random
ensemble member, copy every next state H times, roll every copy K steps with the policy and a random
member per step, score each first action by the mean over its copies of the summed sparse rewards,
and return the exp(kappa R)-weighted mean of the first actions. All B*C*H rollouts advance as one
batch (on CPU, as a few cache-sized batches); the only Python loop is over the K planning steps.
Rewards are computed in raw goal space with the task's own eps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from goplan.models import DynamicsEnsemble, Generator, Normalizer, matmul_precision
from goplan.overlap import Overlap
from goplan.tasks.registry import TaskSpec


@dataclass(frozen=True, kw_only=True)
class PlannerSettings:
    candidates: int  # C: first actions drawn from the prior policy
    copies: int  # H: imagined rollouts per first action
    horizon: int  # K: imagined steps after the first action
    kappa: float  # first actions weighted by exp(kappa R)
    noise_dim: int  # dimension of the policy's noise z
    max_rows: int = 0  # rollout rows (states * C * H) planned per batch; 0 = all at once
    precision: str = "fp32"  # matrix precision of the rollouts: fp32 or bf16 (goplan/models/precision.py)
    cuda_graphs: bool = True  # Planner.plan_graphed replays CUDA graphs on CUDA (goplan/planner/graphs.py)
    overlap: bool = False  # with max_rows: batches planned two at a time on two threads (goplan/overlap.py)


class Planner:
    """Algorithm 2 with a prior policy and a dynamics ensemble over normalised states; rewards by the
    task's own rule in raw goal space."""

    def __init__(self, *, policy: Generator, dynamics: DynamicsEnsemble, state_norm: Normalizer,
                 goal_norm: Normalizer, task: TaskSpec, settings: PlannerSettings):
        self.policy, self.dynamics = policy, dynamics
        self.state_norm, self.goal_norm = state_norm, goal_norm
        self.task, self.settings = task, settings
        self._goal_idx: torch.Tensor | None = None
        self._graphs = None  # GraphedPlans, made on the first plan_graphed call

    def achieved_goal(self, s_norm: torch.Tensor) -> torch.Tensor:
        """phi(unnormalise(s)) computed on the goal dimensions only."""
        if self._goal_idx is None or self._goal_idx.device != s_norm.device:
            self._goal_idx = torch.as_tensor(self.task.goal_indices, device=s_norm.device)
        idx = self._goal_idx
        return s_norm.index_select(-1, idx) * self.state_norm.std[idx] + self.state_norm.mean[idx]

    def _noise(self, rows: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(rows, self.settings.noise_dim, device=like.device, dtype=like.dtype, generator=generator)

    @torch.no_grad()
    def candidate_returns(self, s_norm: torch.Tensor, g_raw: torch.Tensor,
                          generator: torch.Generator | None = None,
                          autocast_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """First actions (B, C, A; bf16 with plan precision bf16) and their mean imagined returns R (B, C)."""
        with self.precision(autocast_cache):
            return self._candidate_returns(s_norm, g_raw, generator)

    def _candidate_returns(self, s_norm, g_raw, generator):
        st = self.settings
        b, c, h = s_norm.shape[0], st.candidates, st.copies
        g_norm = self.goal_norm(g_raw)
        s_c = s_norm.repeat_interleave(c, dim=0)  # (B*C, S)
        g_c = g_norm.repeat_interleave(c, dim=0)
        first = self.policy(s_c, g_c, self._noise(b * c, s_norm, generator))  # (B*C, A)
        s = self.dynamics.sample_next(s_c, first, generator).repeat_interleave(h, dim=0)  # (B*C*H, S)
        g_rows = g_c.repeat_interleave(h, dim=0)
        g_raw_rows = g_raw.repeat_interleave(c * h, dim=0)
        returns = self.task.reward(self.achieved_goal(s), g_raw_rows)
        for _ in range(st.horizon):
            a = self.policy(s, g_rows, self._noise(s.shape[0], s, generator))
            s = self.dynamics.sample_next(s, a, generator)
            returns = returns + self.task.reward(self.achieved_goal(s), g_raw_rows)
        return first.view(b, c, -1), returns.view(b, c, h).mean(dim=-1)

    @torch.no_grad()
    def plan(self, s_norm: torch.Tensor, g_raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Planned actions (B, A) for normalised states (B, S) and raw goals (B, G).

        With max_rows set (on CPU), states are planned in batches of at most max_rows rollout rows, and
        in at least two batches when there are two states or more: cache-sized batches run faster there
        than one huge batch (see docs/performance.md), and with `overlap` the batches alternate between
        this thread and a side thread. Each batch then draws from its own generator, seeded in order from
        `generator` (or torch's default), so the plans are the same whichever thread takes a batch."""
        st = self.settings
        n = s_norm.shape[0]
        if not st.max_rows or n == 1:
            return self._plan(s_norm, g_raw, generator)
        step = min(max(1, st.max_rows // (st.candidates * st.copies)), -(-n // 2))
        starts = range(0, n, step)
        seeds = torch.randint(2**62, (len(starts),), generator=generator).tolist()
        gens = [torch.Generator(device=s_norm.device).manual_seed(seed) for seed in seeds]
        batches = [(s_norm[i : i + step], g_raw[i : i + step], gen) for i, gen in zip(starts, gens)]
        parts: list = [None] * len(batches)
        with Overlap(st.overlap) as side:
            later = [side.run(self._plan, *batch) for batch in batches[1::2]]  # odd batches: side thread
            parts[0::2] = [self._plan(*batch) for batch in batches[0::2]]
            parts[1::2] = [future.result() for future in later]
        return torch.cat(parts)

    @torch.no_grad()
    def plan_graphed(self, s_norm: torch.Tensor, g_raw: torch.Tensor) -> torch.Tensor:
        """plan() for a fixed batch, replayed from a CUDA graph captured on first use of each batch size
        (test-time planning: one state per control step, or a fixed set of parallel episodes). Off CUDA,
        with cuda_graphs off, or where capture failed (said once), it is plan() itself."""
        if not (self.settings.cuda_graphs and s_norm.is_cuda) or self.settings.max_rows:
            return self.plan(s_norm, g_raw)
        if self._graphs is None:
            from goplan.planner.graphs import GraphedPlans

            self._graphs = GraphedPlans(self)
        return self._graphs(s_norm, g_raw)

    def precision(self, cache: bool = True):
        """The context the planner's network evaluations run in (fp32, or bf16 matrix units)."""
        return matmul_precision(self.state_norm.mean.device, self.settings.precision, cache)

    def _plan(self, s_norm: torch.Tensor, g_raw: torch.Tensor, generator: torch.Generator | None,
              autocast_cache: bool = True) -> torch.Tensor:
        first, returns = self.candidate_returns(s_norm, g_raw, generator, autocast_cache)
        # exp(kappa R_c) / sum exp(kappa R_c), computed with the max subtracted (softmax); the fp32
        # weights make the weighted mean fp32 whatever the candidates' precision
        weights = torch.softmax(self.settings.kappa * returns, dim=1)
        return (weights.unsqueeze(-1) * first).sum(dim=1)

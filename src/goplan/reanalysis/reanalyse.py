"""Intra- and inter-trajectory reanalysis (Section 4.2, Algorithm 1), batched over trajectories.

Intra: a dataset segment s_t .. s_{t+k}; plan from s_t toward phi(s_{t+k}) in the learned models.
  (a-1) reached in fewer than k steps with every step's uncertainty <= u: store the imagined segment;
  (a-2) not reached within k - 1 steps, or (a-3) some step's uncertainty > u: store the original
  segment (with goal phi(s_{t+k}), a successful demonstration of it).
Inter: s_t from one trajectory, goal phi(s_g) from a different one; plan up to T steps.
  (b-1) reached with low uncertainty: store; (b-2) not reached, low uncertainty: store with the goal
  relabelled to what the imagined trajectory achieved at its end (hindsight); (b-3) uncertain: discard.
Every trajectory of a call advances in one batch (in chunks of settings.chunk rows to bound memory).
A call returns what to store in B_re as ReanalysedTrajectories (goplan/batches.py) and each case's share.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from goplan.batches import DeviceTrajectories, ReanalysedTrajectories
from goplan.data.relabel import uniform_future
from goplan.models import DynamicsEnsemble, Normalizer
from goplan.planner import Planner
from goplan.reanalysis.rollout import REACHED, TIMEOUT, UNCERTAIN, Rollout, imagine

INTRA_CASES = ("a1", "a2", "a3")
MAX_REDRAWS = 10  # redraws of samples whose start already achieves the goal
INTER_CASES = ("b1", "b2", "b3")


@dataclass(kw_only=True)
class ReanalysisSettings:
    """How reanalysis decides and batches (built from the run's config by goplan/agents/build.py)."""

    threshold: float  # u: a step whose ensemble disagreement (Eq. 4) exceeds it is uncertain
    transition: str = "mean"  # the imagined next state: the ensemble's "mean" or a "random" member's
    chunk: int = 1000  # trajectories reanalysed together in one batch (bounds memory)
    skip_solved: bool = False  # redraw samples whose start already achieves the goal (the reference does)


@dataclass(kw_only=True)
class ReanalysisContext:
    """What reanalysis plans with (Algorithm 2 in the learned models) and the data it starts from."""

    planner: Planner
    dynamics: DynamicsEnsemble
    state_norm: Normalizer
    data: DeviceTrajectories
    settings: ReanalysisSettings
    generator: torch.Generator | None = None
    # where inter-trajectory goals come from: None = phi(s) of a state of another trajectory (the
    # paper's text); or the dataset's desired goals (E, T, G), the reference implementation's choice
    desired_goals: torch.Tensor | None = None


def _imagined_transitions(ctx: ReanalysisContext, roll: Rollout, rows: torch.Tensor,
                          goals: torch.Tensor) -> ReanalysedTrajectories:
    """Flatten the imagined transitions of the selected rows (bool (B,)) with per-row goals (B, G)."""
    steps = roll.actions.shape[1]
    mask = rows.unsqueeze(1) & (torch.arange(steps, device=rows.device).unsqueeze(0) < roll.lengths.unsqueeze(1))
    unnorm = ctx.state_norm.unnormalize
    return ReanalysedTrajectories(
        states=unnorm(roll.states[:, :-1][mask]),
        actions=roll.actions[mask],
        next_states=unnorm(roll.states[:, 1:][mask]),
        goals=goals.unsqueeze(1).expand(-1, steps, -1)[mask],
        lengths=roll.lengths.unsqueeze(1).expand(-1, steps)[mask],
    )


def _fractions(outcome_ids: torch.Tensor, names: tuple[str, ...]) -> dict[str, float]:
    counts = torch.bincount(outcome_ids, minlength=len(names)).tolist()
    total = max(sum(counts), 1)
    return {name: c / total for name, c in zip(names, counts)}


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield min(size, n - start)


def _in_chunks(ctx: ReanalysisContext, n: int, chunk_fn, names: tuple[str, ...]):
    """n samples reanalysed by chunk_fn(ctx, rows) in chunks of at most settings.chunk rows: what to
    store, and the fraction of samples in each case."""
    parts, cases = [], []
    for rows in _chunks(n, ctx.settings.chunk):
        trans, case = chunk_fn(ctx, rows)
        parts.append(trans)
        cases.append(case)
    case_ids = torch.cat(cases) if cases else torch.zeros(0, dtype=torch.long)
    stored = ReanalysedTrajectories.cat(parts) if parts else ReanalysedTrajectories.empty(ctx.data)
    return stored, _fractions(case_ids, names)


@torch.no_grad()
def intra_reanalysis(ctx: ReanalysisContext, n: int) -> tuple[ReanalysedTrajectories, dict[str, float]]:
    """n intra-trajectory reanalyses: what to store in B_re and the fractions of cases a-1, a-2, a-3."""
    return _in_chunks(ctx, n, _intra_chunk, INTRA_CASES)


def _intra_chunk(ctx: ReanalysisContext, n: int) -> tuple[ReanalysedTrajectories, torch.Tensor]:
    """Sample n segments (trajectory, start t, length k uniform in 1 .. T - t) and reanalyse them;
    with skip_solved, segments whose start already achieves the end's goal are redrawn."""
    d, gen = ctx.data, ctx.generator
    dev = d.observations.device
    e, t_len = d.num_episodes, d.horizon

    def draw(m: int) -> tuple[torch.Tensor, ...]:
        ep = torch.randint(e, (m,), device=dev, generator=gen)
        t = torch.randint(t_len, (m,), device=dev, generator=gen)
        return ep, t, uniform_future(t, t_len, gen)

    def trivial(ep, t, k):
        return ctx.planner.task.reward(d.achieved_goals[ep, t], d.achieved_goals[ep, t + k]) > 0

    return intra_segments(ctx, *_draw(draw, trivial, n, ctx.settings.skip_solved))


def _draw(draw, trivial, n: int, skip_solved: bool) -> tuple[torch.Tensor, ...]:
    """Draw n samples; with skip_solved, redraw (all rows at once, at most MAX_REDRAWS times) those
    whose start already achieves the goal; rows still trivial after that are kept."""
    sample = draw(n)
    for _ in range(MAX_REDRAWS if skip_solved else 0):
        bad = trivial(*sample)
        if not bool(bad.any()):
            break
        fresh = draw(n)
        sample = tuple(torch.where(bad, f, s) for s, f in zip(sample, fresh))
    return sample


def intra_segments(ctx: ReanalysisContext, ep: torch.Tensor, t: torch.Tensor,
                   k: torch.Tensor) -> tuple[ReanalysedTrajectories, torch.Tensor]:
    """Reanalyse the given segments s_t .. s_{t+k} of trajectories ep. Returns the transitions to
    store and each segment's case (0 = a-1, 1 = a-2, 2 = a-3)."""
    d = ctx.data
    dev, t_len = d.observations.device, d.horizon
    goals = d.achieved_goals[ep, t + k]
    s0 = ctx.state_norm(d.observations[ep, t])
    st = ctx.settings
    roll = imagine(ctx.planner, ctx.dynamics, s0, goals, k - 1, st.threshold, st.transition, ctx.generator)
    a1 = roll.outcome == REACHED
    a3 = roll.outcome == UNCERTAIN
    case = torch.where(a1, 0, torch.where(a3, 2, 1))

    imagined = _imagined_transitions(ctx, roll, a1, goals)
    j = torch.arange(t_len, device=dev).unsqueeze(0)
    keep = (~a1).unsqueeze(1) & (j < k.unsqueeze(1))  # original segment steps t .. t+k-1
    tt = (t.unsqueeze(1) + j).clamp(max=t_len - 1)
    epx = ep.unsqueeze(1).expand_as(tt)
    original = ReanalysedTrajectories(
        states=d.observations[epx, tt][keep],
        actions=d.actions[epx, tt][keep],
        next_states=d.observations[epx, tt + 1][keep],
        goals=goals.unsqueeze(1).expand(-1, t_len, -1)[keep],
        lengths=k.unsqueeze(1).expand(-1, t_len)[keep],
    )
    return ReanalysedTrajectories.cat([imagined, original]), case


@torch.no_grad()
def inter_reanalysis(ctx: ReanalysisContext, n: int) -> tuple[ReanalysedTrajectories, dict[str, float]]:
    """n inter-trajectory reanalyses: what to store in B_re and the fractions of cases b-1, b-2, b-3."""
    if ctx.data.num_episodes < 2:
        raise ValueError("inter-trajectory reanalysis needs at least two trajectories")
    return _in_chunks(ctx, n, _inter_chunk, INTER_CASES)


def _inter_chunk(ctx: ReanalysisContext, n: int) -> tuple[ReanalysedTrajectories, torch.Tensor]:
    """Sample n (start state, goal state from a different trajectory) pairs and reanalyse them; with
    skip_solved, pairs whose start already achieves the goal are redrawn."""
    d, gen = ctx.data, ctx.generator
    dev = d.observations.device
    e, t_len = d.num_episodes, d.horizon

    def draw(m: int) -> tuple[torch.Tensor, ...]:
        ep1 = torch.randint(e, (m,), device=dev, generator=gen)
        ep2 = (ep1 + torch.randint(1, e, (m,), device=dev, generator=gen)) % e  # a different trajectory
        t1 = torch.randint(t_len + 1, (m,), device=dev, generator=gen)
        t2 = torch.randint(t_len if ctx.desired_goals is not None else t_len + 1, (m,), device=dev, generator=gen)
        return ep1, t1, ep2, t2

    def trivial(ep1, t1, ep2, t2):
        return ctx.planner.task.reward(d.achieved_goals[ep1, t1], _inter_goals(ctx, ep2, t2)) > 0

    return inter_pairs(ctx, *_draw(draw, trivial, n, ctx.settings.skip_solved))


def _inter_goals(ctx: ReanalysisContext, ep2: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    if ctx.desired_goals is not None:
        return ctx.desired_goals[ep2, t2]
    return ctx.data.achieved_goals[ep2, t2]


def inter_pairs(ctx: ReanalysisContext, ep1: torch.Tensor, t1: torch.Tensor, ep2: torch.Tensor,
                t2: torch.Tensor) -> tuple[ReanalysedTrajectories, torch.Tensor]:
    """Plan from s_{t1} of trajectories ep1 toward phi(s_{t2}) of trajectories ep2 (or their desired
    goal at t2, see ReanalysisContext) for up to T steps. Returns the transitions to store and each
    pair's case (0 = b-1, 1 = b-2, 2 = b-3)."""
    d = ctx.data
    n, dev = ep1.shape[0], d.observations.device
    goals = _inter_goals(ctx, ep2, t2)
    s0 = ctx.state_norm(d.observations[ep1, t1])
    budgets = torch.full((n,), d.horizon, dtype=torch.long, device=dev)
    st = ctx.settings
    roll = imagine(ctx.planner, ctx.dynamics, s0, goals, budgets, st.threshold, st.transition, ctx.generator)
    b1 = roll.outcome == REACHED
    b2 = roll.outcome == TIMEOUT
    case = torch.where(b1, 0, torch.where(b2, 1, 2))
    final = roll.states[torch.arange(n, device=dev), roll.lengths]
    relabelled = torch.where(b2.unsqueeze(1), ctx.planner.achieved_goal(final), goals)
    return _imagined_transitions(ctx, roll, b1 | b2, relabelled), case

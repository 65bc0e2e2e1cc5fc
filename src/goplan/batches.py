"""Typed data passed between GOPlan's stages, all raw-space float32 tensors on the agent's device.

    DeviceTrajectories      the offline dataset: pretraining samples it, reanalysis starts from it
    TransitionBatch         rows (s, a, s', g): one pretraining or finetuning batch, what B_re returns
    ReanalysedTrajectories  what a reanalysis call stores in B_re: transitions, each with the length of
                            the (imagined or original) trajectory it belongs to
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from goplan.data.dataset import TrajectoryDataset


@dataclass
class DeviceTrajectories:
    """The arrays of a TrajectoryDataset as tensors, with its shapes:

    observations (E, T+1, S), achieved_goals (E, T+1, G), actions (E, T, A), desired_goals (E, T, G)
    (None where nothing reads them, as in hand-made reanalysis tests)."""

    observations: torch.Tensor
    achieved_goals: torch.Tensor
    actions: torch.Tensor
    desired_goals: torch.Tensor | None = None

    # E, T, E * T and (S, G, A), read from the arrays by TrajectoryDataset's own properties, the one
    # place that knows where they sit in the shapes (they read .shape, which tensors have as arrays do)
    num_episodes = TrajectoryDataset.num_episodes
    horizon = TrajectoryDataset.horizon
    num_transitions = TrajectoryDataset.num_transitions
    dims = TrajectoryDataset.dims

    @classmethod
    def from_dataset(cls, dataset: TrajectoryDataset, device: torch.device | str) -> "DeviceTrajectories":
        return cls(**dataset.tensors(device))


@dataclass
class TransitionBatch:
    """Transitions (s, a, s', g) in rows: states (B, S), actions (B, A), next_states (B, S), goals (B, G).
    Unpacks as a tuple: `s, a, s_next, g = batch`."""

    states: torch.Tensor
    actions: torch.Tensor
    next_states: torch.Tensor
    goals: torch.Tensor

    def __iter__(self):
        return iter((self.states, self.actions, self.next_states, self.goals))


@dataclass
class ReanalysedTrajectories:
    """Transitions for B_re, in rows as TransitionBatch, and lengths (n,): the number of transitions of
    the stored trajectory each row belongs to (B_re samples trajectories uniformly by it). len() is the
    number of rows; `result["states"]` reads a field by name."""

    states: torch.Tensor
    actions: torch.Tensor
    next_states: torch.Tensor
    goals: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.states.shape[0]

    def __getitem__(self, name: str) -> torch.Tensor:
        return getattr(self, name)

    @property
    def transitions(self) -> TransitionBatch:
        return TransitionBatch(self.states, self.actions, self.next_states, self.goals)

    @classmethod
    def cat(cls, parts: list["ReanalysedTrajectories"]) -> "ReanalysedTrajectories":
        return cls(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    @classmethod
    def empty(cls, data: DeviceTrajectories) -> "ReanalysedTrajectories":
        """No transitions, with the dimensions of `data`."""
        s, g, a = data.dims
        zeros = data.observations.new_zeros
        return cls(zeros(0, s), zeros(0, a), zeros(0, s), zeros(0, g), zeros(0, dtype=torch.long))

"""Reanalysis buffer B_re: a ring buffer of raw-space transitions (s, a, s', g) resident on the device.

Each transition also carries the length of the reanalysed trajectory it came from. Sampling is either
uniform over transitions, or uniform over trajectories and then over the steps of the drawn
trajectory (the public reference implementation's sampling: a one-step trajectory counts as much as
a fifty-step one). The second is done without any per-trajectory bookkeeping: each transition is drawn
with probability proportional to 1 / (its trajectory's length), by inverse-CDF lookup in a cumulative
sum rebuilt once after each add. When the ring overwrites part of an old trajectory, its surviving
steps keep their original weight.
"""
from __future__ import annotations

import torch

from goplan.batches import TransitionBatch

SAMPLING = ("trajectory", "transition")


class TransitionBuffer:
    KEYS = ("states", "actions", "next_states", "goals")  # TransitionBatch's fields, in its order

    def __init__(self, capacity: int, state_dim: int, act_dim: int, goal_dim: int, device: torch.device | str,
                 sampling: str = "trajectory"):
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        self.capacity = capacity
        self.device = torch.device(device)
        self.sampling = sampling
        dims = {"states": state_dim, "actions": act_dim, "next_states": state_dim, "goals": goal_dim}
        self.data = {k: torch.zeros(capacity, dims[k], device=self.device) for k in self.KEYS}
        self.weights = torch.zeros(capacity, device=self.device)  # 1 / length of the source trajectory
        self._cdf: torch.Tensor | None = None  # cumulative weights, rebuilt lazily after an add
        self.size = 0
        self.ptr = 0

    def __len__(self) -> int:
        return self.size

    def add(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor, goals: torch.Tensor,
            traj_lengths: torch.Tensor | None = None) -> None:
        """Append a batch of transitions, overwriting the oldest when full. traj_lengths (n,) gives each
        transition's trajectory length (default 1: every transition its own trajectory)."""
        n = states.shape[0]
        if n == 0:
            return
        if traj_lengths is None:
            traj_lengths = torch.ones(n, device=self.device)
        weights = 1.0 / traj_lengths.to(self.device, torch.float32).clamp_min(1.0)
        if n > self.capacity:  # keep only the newest that fit
            states, actions, next_states, goals, weights = (
                x[-self.capacity:] for x in (states, actions, next_states, goals, weights))
            n = self.capacity
        idx = (torch.arange(n, device=self.device) + self.ptr) % self.capacity
        for key, value in zip(self.KEYS, (states, actions, next_states, goals)):
            self.data[key].index_copy_(0, idx, value.to(self.device, torch.float32))
        self.weights.index_copy_(0, idx, weights)
        self._cdf = None
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample_indices(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.size == 0:
            raise RuntimeError("the reanalysis buffer is empty")
        if self.sampling == "transition":
            return torch.randint(self.size, (batch,), device=self.device, generator=generator)
        if self._cdf is None:
            self._cdf = torch.cumsum(self.weights[: self.size].double(), 0)
        u = torch.rand(batch, device=self.device, generator=generator, dtype=torch.float64) * self._cdf[-1]
        return torch.searchsorted(self._cdf, u, right=True).clamp_(max=self.size - 1)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> TransitionBatch:
        idx = self.sample_indices(batch, generator)
        return TransitionBatch(*(self.data[k][idx] for k in self.KEYS))

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {k: v[: self.size].clone() for k, v in self.data.items()}
        out["weights"] = self.weights[: self.size].clone()
        out["meta"] = torch.tensor([self.size, self.ptr, self.capacity], dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        size, ptr, _ = (int(x) for x in state["meta"])
        if not 0 <= size <= self.capacity or not 0 <= ptr < max(self.capacity, 1):
            raise ValueError(f"buffer state of size {size} and pointer {ptr} does not fit capacity {self.capacity}")
        for k in self.KEYS:
            self.data[k][:size] = state[k].to(self.device)
        self.weights[:size] = state["weights"].to(self.device) if "weights" in state else 1.0
        self._cdf = None
        self.size, self.ptr = size, ptr

"""Reanalysis buffer B_re: a ring buffer of raw-space transitions (s, a, s', g) resident on the device."""
from __future__ import annotations

import torch


class TransitionBuffer:
    KEYS = ("states", "actions", "next_states", "goals")

    def __init__(self, capacity: int, state_dim: int, act_dim: int, goal_dim: int, device: torch.device | str):
        self.capacity = capacity
        self.device = torch.device(device)
        dims = {"states": state_dim, "actions": act_dim, "next_states": state_dim, "goals": goal_dim}
        self.data = {k: torch.zeros(capacity, dims[k], device=self.device) for k in self.KEYS}
        self.size = 0
        self.ptr = 0

    def __len__(self) -> int:
        return self.size

    def add(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor, goals: torch.Tensor) -> None:
        """Append a batch of transitions, overwriting the oldest when full."""
        n = states.shape[0]
        if n == 0:
            return
        if n > self.capacity:  # keep only the newest that fit
            states, actions, next_states, goals = (x[-self.capacity:] for x in (states, actions, next_states, goals))
            n = self.capacity
        idx = (torch.arange(n, device=self.device) + self.ptr) % self.capacity
        for key, value in zip(self.KEYS, (states, actions, next_states, goals)):
            self.data[key].index_copy_(0, idx, value.to(self.device, torch.float32))
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        if self.size == 0:
            raise RuntimeError("the reanalysis buffer is empty")
        idx = torch.randint(self.size, (batch,), device=self.device, generator=generator)
        return tuple(self.data[k][idx] for k in self.KEYS)

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {k: v[: self.size].clone() for k, v in self.data.items()}
        out["meta"] = torch.tensor([self.size, self.ptr, self.capacity], dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        size, ptr, _ = (int(x) for x in state["meta"])
        for k in self.KEYS:
            self.data[k][:size] = state[k].to(self.device)
        self.size, self.ptr = size, ptr

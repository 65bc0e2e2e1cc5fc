"""Numerical guards: catch NaN or infinity in training quantities, and a collapsed discriminator.

`FiniteGuard.watch` runs after every update without a host-device synchronisation: it only records,
on the device, the first step at which each quantity stopped being finite. `check` (called at the
logging interval, before any checkpoint is written) reads that record once and raises a
NumericalError naming the quantity and the exact step, so the last checkpoint on disk is still a good
one.
"""
from __future__ import annotations

import torch

from goplan.errors import NumericalError

NEVER = -1  # "no non-finite value seen yet"


class FiniteGuard:
    def __init__(self) -> None:
        self.names: list[str] | None = None
        self.first_bad: torch.Tensor | None = None

    def watch(self, metrics: dict[str, torch.Tensor], step: int) -> None:
        """Record `step` for every metric that is NaN or infinite now and never was before."""
        if not metrics:
            return
        values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()])
        if self.names is None or self.names != list(metrics):
            self.names = list(metrics)
            self.first_bad = torch.full((len(self.names),), NEVER, dtype=torch.long, device=values.device)
        bad = ~torch.isfinite(values) & (self.first_bad == NEVER)
        self.first_bad = torch.where(bad, torch.full_like(self.first_bad, step), self.first_bad)

    def check(self, phase: str) -> None:
        """Raise NumericalError for the earliest non-finite quantity recorded since the last check;
        when all were finite, start a fresh record."""
        if self.first_bad is None:
            return
        first = self.first_bad.cpu().tolist()  # the one synchronisation per logging interval
        seen = [(step, name) for name, step in zip(self.names, first) if step != NEVER]
        if seen:
            step = min(s for s, _ in seen)
            names = ", ".join(n for s, n in seen if s == step)
            raise NumericalError(f"{names} became NaN or infinite at {phase} step {step}")
        self.names, self.first_bad = None, None


def require_finite(name: str, tensor: torch.Tensor, where: str) -> None:
    """Raise NumericalError if `tensor` holds a NaN or infinity (one synchronisation)."""
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise NumericalError(f"{name} became NaN or infinite in {where}")


def discriminator_collapsed(d_std: float, min_std: float) -> bool:
    """A discriminator whose outputs over a whole batch (real and generated actions together) vary by
    less than min_std is stuck at one output and no longer tells the generator anything."""
    return d_std < min_std


__all__ = ["FiniteGuard", "require_finite", "discriminator_collapsed"]

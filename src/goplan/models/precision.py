"""Matrix precision of the networks: fp32, or bf16 matrix units through torch.autocast.

With "bf16", matrix multiplications (linear layers, the ensemble's batched matmuls) run in bfloat16
while everything around them stays fp32: states are advanced as s + residual in fp32, rewards are
computed in fp32 raw goal space, losses and optimiser state are fp32. The value network (whose
output enters exp(beta * A) with beta = 60) has its own setting, value_precision, and its output layer
always runs in fp32 (goplan/models/value.py).
"""
from __future__ import annotations

import contextlib

import torch

from goplan.errors import ConfigError


def matmul_precision(device: torch.device, precision: str, cache: bool = True):
    """A context in which the networks' matrix products run at `precision` on `device`.

    cache=False turns off autocast's cache of bf16 weight copies, which CUDA graph capture needs.
    `precision` is concrete: a config's "auto" is resolved for its device first (goplan/hardware.py)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ConfigError(f"matrix precision {precision!r} is not fp32 or bf16; resolve the config for its device "
                          "first (goplan.hardware.resolve_precisions)")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=cache)

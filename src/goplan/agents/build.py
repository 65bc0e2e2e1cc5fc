"""What a GOPlan agent is built from: its device, its optimisers, and the settings objects of its
planner (Algorithm 2) and of reanalysis, made from the run's config by keyword."""
from __future__ import annotations

import torch

from goplan.config import GOPlanConfig
from goplan.errors import ConfigError
from goplan.planner import PlannerSettings
from goplan.reanalysis import ReanalysisSettings


def resolve_device(name: str) -> torch.device:
    """The torch device a `device` setting names ("auto": CUDA where there is one, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {name!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was requested but CUDA is not available here; use device=cpu")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return device


def adam(params, lr: float, cfg: GOPlanConfig) -> torch.optim.Adam:
    """Adam with the config's implementation choice (fused_adam: one kernel per step)."""
    return torch.optim.Adam(params, lr=lr, fused=True if cfg.fused_adam else None)


def planner_settings(cfg: GOPlanConfig, device: torch.device) -> PlannerSettings:
    """Algorithm 2's settings from a config, for a device (batch rows: CPU only)."""
    cpu_rows = cfg.plan_cpu_max_rows_bf16 if cfg.plan_precision == "bf16" else cfg.plan_cpu_max_rows
    return PlannerSettings(candidates=cfg.plan_candidates, copies=cfg.plan_copies, horizon=cfg.plan_horizon,
                           kappa=cfg.kappa, noise_dim=cfg.noise_dim, max_rows=cpu_rows if device.type == "cpu" else 0,
                           precision=cfg.plan_precision, cuda_graphs=cfg.plan_cuda_graphs,
                           overlap=cfg.overlap_cpu_planning)


def reanalysis_settings(cfg: GOPlanConfig) -> ReanalysisSettings:
    """Reanalysis's settings from a config."""
    return ReanalysisSettings(threshold=cfg.uncertainty_threshold, transition=cfg.reanalysis_transition,
                              chunk=cfg.reanalysis_chunk, skip_solved=cfg.reanalysis_skip_solved)

"""Typed, documented settings. Defaults are the paper's (SPEC section 4, Table 3 where the paper
disagrees with itself) and the public reference implementation's where the paper is silent."""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from goplan.errors import ConfigError


_FIELD_TYPES = {"int": int, "float": float, "bool": bool, "str": str}
PRECISIONS = ("fp32", "bf16")  # matrix precisions (goplan/models/precision.py)


@dataclass
class GOPlanConfig:
    # ---- problem ----
    gamma: float = 0.98  # discount
    # ---- advantage-weighted CGAN (Eq. 5, 7, 8) ----
    beta: float = 60.0  # exponential advantage coefficient: w = clip(exp(beta * A), 0, weight_clip)
    weight_clip: float = 10.0  # M, upper clip of the advantage weight
    noise_dim: int = 64  # dimension of the CGAN noise z
    disc_clip: float = 1e-4  # discriminator output clipped to [disc_clip, 1 - disc_clip]
    input_noise: float = 1e-4  # std of the Gaussian jitter added to normalised inputs of the GAN update
    scale_fake_by_weight: bool = True  # scale the fake term of the discriminator loss by mean(w) (reference)
    # a discriminator whose outputs over a batch vary less than this is reported as collapsed in the logs
    disc_collapse_std: float = 1e-3
    # ---- networks ----
    hidden_dim: int = 512  # width of policy, discriminator and value MLPs
    num_layers: int = 3  # linear layers per MLP (2 hidden layers)
    dynamics_hidden_dim: int = 512  # width of each dynamics model
    lr: float = 1e-4  # Adam learning rate of policy and discriminator
    value_lr: float = 1e-3  # Adam learning rate of the value function (reference)
    dynamics_lr: float = 1e-3  # Adam learning rate of the dynamics ensemble (reference)
    polyak: float = 0.005  # target value network averaging rate
    target_update_every: int = 2  # value updates between target updates
    # ---- dynamics ensemble ----
    num_dynamics: int = 3  # N
    # ---- training ----
    batch_size: int = 512
    pretrain_updates: int = 500_000
    her_prob: float = 1.0  # probability of relabelling a pretraining goal with a future achieved goal
    finetune_rounds: int = 10  # I
    finetune_updates: int = 1000  # gradient steps per finetuning round
    intra_per_round: int = 1000  # J_intra
    inter_per_round: int = 1000  # J_inter
    reanalysis_buffer_size: int = 2_000_000  # transitions
    uncertainty_threshold: float = 0.1  # u
    reanalysis_transition: str = "mean"  # "mean" of the ensemble (paper text, reference) or "random" member
    reanalysis_chunk: int = 1000  # trajectories planned together in one batch
    # how finetuning samples B_re: "trajectory" (uniform over stored trajectories, then over their steps,
    # as the reference implementation does) or "transition" (uniform over transitions)
    reanalysis_sampling: str = "trajectory"
    # Redraw reanalysis samples whose start already achieves the goal, as the reference does. Off by
    # default: those samples are B_re's only examples of staying at a goal, and without them the
    # finetuned policy forgets to stay (measured on PointRooms, cpu preset: 37.6 -> 19.3 in 4 rounds).
    reanalysis_skip_solved: bool = False
    # inter-trajectory goals: "achieved" = phi(s) of a state of another trajectory (the paper's text),
    # "desired" = the dataset's desired goal at a step of another trajectory (the reference's code)
    inter_goal: str = "achieved"
    # ---- planner (Algorithm 2) ----
    kappa: float = 2.0  # exponential weight of candidate returns
    plan_horizon: int = 20  # K
    plan_candidates: int = 20  # C
    plan_copies: int = 10  # H
    plan_cpu_max_rows: int = 2048  # on CPU, rollout rows per planner batch (0 = all at once); CUDA: all at once
    # the same with plan_precision bf16: half the bytes per row, so twice the rows for the same 4 MB per
    # activation (benchmarks/plan_batch_rows.py; docs/performance.md)
    plan_cpu_max_rows_bf16: int = 4096
    # on CUDA, test-time planning (GOPlan2, agent.plan) replays CUDA graphs captured per batch shape
    # (goplan/planner/graphs.py); off = eager. Reanalysis, whose batch shrinks every step, runs eagerly.
    plan_cuda_graphs: bool = True
    # on CUDA, a dynamics step of at most this many rows evaluates every ensemble member and keeps a random
    # one per row (half the kernel launches; one planned state is C * H = 200 rows); larger batches, and
    # every batch on CPU, evaluate only the sampled member of each row (goplan/models/dynamics.py).
    # 0 = off: on an H200 at paper sizes, 4096 made eager one-state planning 8% faster but the CUDA-graph
    # replay, the default path, 9% slower in fp32 (docs/performance.md)
    cuda_small_batch_rows: int = 0
    # ---- evaluation ----
    eval_episodes: int = 100  # run in parallel
    eval_plan_episodes: int = 100  # test-time planning episodes (GOPlan2)
    eval_every_round: bool = True
    log_every: int = 1000  # pretraining updates between metric rows
    checkpoint_every: int = 10_000  # pretraining updates between checkpoints
    # ---- arithmetic ----
    # matrix precision of planning and imagined rollouts (planner, reanalysis, GOPlan2) and of the
    # policy, discriminator and dynamics in training updates: "fp32", or "bf16" (bfloat16 matrix units
    # through torch.autocast; states, rewards, losses and optimiser state stay fp32, and the value
    # network follows value_precision). See
    # docs/performance.md for the speed and the measured differences.
    plan_precision: str = "fp32"
    train_precision: str = "fp32"
    # matrix precision of the value network's hidden layers in training updates: "fp32", or "bf16"
    # (its output layer always stays fp32, so V keeps fp32 resolution near 1, where it lies on these
    # tasks; the advantage error this leaves is measured in docs/performance.md)
    value_precision: str = "fp32"
    # Adam as one fused kernel per step (the same update arithmetic; on 2 CPU cores 3x faster than
    # torch's default loop for these networks); off = torch's default implementation
    fused_adam: bool = True
    # On CPU with at least 2 torch threads, a pretraining update runs the ensemble's step and the value
    # function's gradient step on a side thread beside the CGAN's steps, each half on half of the threads
    # (goplan/overlap.py): the same arithmetic and random numbers, the two halves' elementwise and
    # Python work hidden behind each other's matrix products (docs/performance.md). Off = one thread.
    overlap_cpu_update: bool = True
    # On CPU with at least 2 torch threads, the planner plans its batches of start states two at a time,
    # one on a side thread (reanalysis, GOPlan2 over parallel episodes; one state is one batch). Each
    # batch has its own random generator, seeded in order, so the plans do not depend on the threads.
    overlap_cpu_planning: bool = True
    # ---- run ----
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    preset: str = "paper"

    def validate(self) -> "GOPlanConfig":
        for f in fields(self):
            value = getattr(self, f.name)
            kind = _FIELD_TYPES.get(str(f.type), object)
            if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            elif kind is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = int(value)
                setattr(self, f.name, value)
            elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ConfigError(f"{f.name} must be of type {kind.__name__}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value}")
        positive_int = [
            "noise_dim", "hidden_dim", "num_layers", "dynamics_hidden_dim", "num_dynamics", "batch_size",
            "target_update_every", "plan_horizon", "plan_candidates", "plan_copies", "eval_episodes",
            "reanalysis_buffer_size", "reanalysis_chunk", "log_every", "checkpoint_every",
        ]
        for name in positive_int:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ["pretrain_updates", "finetune_rounds", "finetune_updates", "intra_per_round", "inter_per_round",
                     "plan_cpu_max_rows", "plan_cpu_max_rows_bf16", "eval_plan_episodes", "cuda_small_batch_rows"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ["lr", "value_lr", "dynamics_lr", "weight_clip"]:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma must be in [0, 1), got {self.gamma}")
        if not 0 < self.polyak <= 1:
            raise ConfigError(f"polyak must be in (0, 1], got {self.polyak}")
        if not 0 <= self.her_prob <= 1:
            raise ConfigError(f"her_prob must be in [0, 1], got {self.her_prob}")
        if self.uncertainty_threshold < 0:
            raise ConfigError(f"uncertainty_threshold must be >= 0, got {self.uncertainty_threshold}")
        for name in ["beta", "kappa", "input_noise", "disc_collapse_std"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.disc_clip < 0.5:
            raise ConfigError(f"disc_clip must be in [0, 0.5), got {self.disc_clip}")
        if self.reanalysis_sampling not in ("trajectory", "transition"):
            raise ConfigError(f"reanalysis_sampling must be 'trajectory' or 'transition', got {self.reanalysis_sampling!r}")
        if self.inter_goal not in ("achieved", "desired"):
            raise ConfigError(f"inter_goal must be 'achieved' or 'desired', got {self.inter_goal!r}")
        if self.reanalysis_transition not in ("mean", "random"):
            raise ConfigError(f"reanalysis_transition must be 'mean' or 'random', got {self.reanalysis_transition!r}")
        for name in ["plan_precision", "train_precision", "value_precision"]:
            if getattr(self, name) not in PRECISIONS:
                raise ConfigError(f"{name} must be one of {', '.join(PRECISIONS)}, got {getattr(self, name)!r}")
        if self.num_layers < 2:
            raise ConfigError(f"num_layers must be >= 2, got {self.num_layers}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The CPU preset shrinks networks, update counts and planning sizes so the whole pipeline runs on a
# 2-core machine in minutes. Every run that uses it says so in its config and output.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": dict(
        hidden_dim=256,
        dynamics_hidden_dim=256,
        batch_size=256,
        pretrain_updates=4000,
        finetune_rounds=4,
        # J_intra, J_inter and the finetuning updates per round keep the paper's 1000: with 200, 200 and
        # 500 the rounds barely moved the policy (demo data, seeds 0 and 2: 38.60 and 32.64 after round
        # 4, against 39.02 and 33.59 with 1000; README, docs/pointrooms.md)
        plan_candidates=10,
        plan_copies=4,
        # K stays at the paper's 20: with a shorter horizon most goals lie beyond every imagined
        # rollout, all candidates score 0 and the planner outputs their mean, a blend of modes that
        # finetuning then imitates (measured on PointRooms: the finetuned policy fell from 37 to 18)
        plan_horizon=20,
        eval_plan_episodes=50,
        log_every=500,
        checkpoint_every=2000,
        reanalysis_chunk=400,
    ),
    # tiny sizes for tests and smoke runs
    "tiny": dict(
        lr=1e-3,  # small networks and few updates: a larger step gets the GAN off its initial plateau
        hidden_dim=64,
        dynamics_hidden_dim=64,
        noise_dim=8,
        batch_size=128,
        pretrain_updates=1500,
        finetune_rounds=2,
        finetune_updates=100,
        intra_per_round=32,
        inter_per_round=32,
        plan_candidates=4,
        plan_copies=2,
        plan_horizon=4,
        eval_episodes=20,
        eval_plan_episodes=10,
        log_every=100,
        checkpoint_every=200,
        reanalysis_buffer_size=100_000,
    ),
}


def _coerce(name: str, type_: Any, raw: str) -> Any:
    origin = typing.get_origin(type_)
    try:
        if type_ is bool or type_ == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_ is int or type_ == "int":
            value = float(raw)
            if not math.isfinite(value) or value != int(value):
                raise ValueError(raw)
            return int(value)
        if type_ is float or type_ == "float":
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return value
        if origin is None and (type_ is str or type_ == "str"):
            return raw
    except (ValueError, OverflowError):
        raise ConfigError(f"setting {name}={raw!r} is not a valid {getattr(type_, '__name__', type_)}") from None
    return raw


def make_config(preset: str = "paper", overrides: dict[str, Any] | list[str] | None = None) -> GOPlanConfig:
    """Build a config from a preset name and overrides (a dict, or a list of "key=value" strings)."""
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, list(PRESETS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; choose from {', '.join(PRESETS)}"
        raise ConfigError(f"unknown preset {preset!r}{hint}")
    values: dict[str, Any] = dict(PRESETS[preset], preset=preset)
    types = {f.name: f.type for f in fields(GOPlanConfig)}
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, dict):
        items = list(overrides.items())
    elif overrides:
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"setting {item!r} must look like key=value")
            key, raw = item.split("=", 1)
            items.append((key.strip(), raw))
    for key, value in items:
        if key not in types:
            close = difflib.get_close_matches(key, list(types), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown setting {key!r}{hint}")
        values[key] = _coerce(key, types[key], value) if isinstance(value, str) else value
    return GOPlanConfig(**values).validate()


def config_from_dict(data: dict[str, Any]) -> GOPlanConfig:
    """A config saved by an earlier run (keys this version does not know are ignored)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a saved config must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(GOPlanConfig)}
    return GOPlanConfig(**{k: v for k, v in data.items() if k in known}).validate()


def describe_settings() -> str:
    """One line per setting with its default, for --help texts."""
    lines = []
    for f in fields(GOPlanConfig):
        lines.append(f"  {f.name}={f.default}")
    return "\n".join(lines)


def save_config(cfg: GOPlanConfig, path) -> None:
    from pathlib import Path

    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True))

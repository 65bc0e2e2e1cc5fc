"""The run's settings: one typed, documented dataclass per concern, side by side in `GOPlanConfig`.

Defaults are the paper's (Table 3 where the paper disagrees with itself) and the public reference
implementation's where the paper is silent. Each field carries a one-line doc (`goplan train --help`
prints it beside the default) and the rule its value must obey.

Every setting has one name, unique across the groups, so a run's config is also one flat set of names:
`cfg.batch_size`, `key=value` overrides, config.json and checkpoints use it, as every earlier version
did. A group can be named too: `algorithm.batch_size=256` is the same override, `cfg.group("planner")`
is the planner's settings as their own object, and `config_from_dict` reads the nested form
{"planner": {"plan_horizon": 10}} as well as the flat one. How a field is declared and checked:
goplan/config_fields.py.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from goplan.config_fields import (
    at_least, check_field, doc_of, either, interval, non_negative, one_of, parse_text, positive, setting,
)
from goplan.errors import ConfigError

PRECISIONS = ("fp32", "bf16")  # matrix precisions (goplan/models/precision.py)
NORMALIZATIONS = ("reference", "exact")  # goplan/models/normalizer.py
ACT_Z = ("zero", "sample", "mean-of-k")  # the CGAN noise the policy acts with
GCSL_LOSSES = ("gaussian", "mse")
_PRECISION = one_of(*PRECISIONS, "auto")  # "auto": decided for the device (goplan/hardware.py)


@dataclass
class AlgorithmConfig:
    """GOPlan's losses (Eq. 3, 5-8), its pretraining (Algorithm 1) and how its policy acts."""

    gamma: float = setting(0.98, "discount factor", interval(0, 1, "[0, 1)"))
    beta: float = setting(60.0, "advantage weight w = clip(exp(beta * A), 0, weight_clip) (Eq. 5)", non_negative)
    weight_clip: float = setting(10.0, "M: upper clip of the advantage weight w", positive)
    disc_clip: float = setting(1e-4, "discriminator output clipped to [disc_clip, 1 - disc_clip]",
                               interval(0, 0.5, "[0, 0.5)"))
    input_noise: float = setting(1e-4, "std of the Gaussian jitter on the update's normalised inputs (reference)",
                                 non_negative)
    scale_fake_by_weight: bool = setting(True, "scale the fake term of D's loss (Eq. 7) by mean(w) (reference)")
    lr: float = setting(1e-4, "Adam learning rate of the policy and the discriminator", positive)
    value_lr: float = setting(1e-3, "Adam learning rate of the value function (reference)", positive)
    dynamics_lr: float = setting(1e-3, "Adam learning rate of the dynamics ensemble (reference)", positive)
    polyak: float = setting(0.005, "averaging rate of the target value network", interval(0, 1, "(0, 1]"))
    target_update_every: int = setting(2, "value updates between target-network updates", positive)
    batch_size: int = setting(512, "transitions per gradient step (pretraining and finetuning)", positive)
    pretrain_updates: int = setting(500_000, "pretraining gradient steps", non_negative)
    her_prob: float = setting(1.0, "probability of relabelling a pretraining goal with a future achieved goal",
                              interval(0, 1, "[0, 1]"))
    normalization: str = setting("reference", "'reference' (std sqrt(var + noise^2), desired-goal stats) or 'exact'",
                                 one_of(*NORMALIZATIONS))
    norm_state_noise: float = setting(0.05, "std of the noise whose variance the 'reference' rule adds to states",
                                      non_negative)
    norm_goal_noise: float = setting(0.05, "the same for goals", non_negative)
    norm_min_std: float = setting(0.01, "floor on a dimension's std under the 'exact' rule", non_negative)
    act_z: str = setting("zero", "noise z the policy acts with: 'zero' (reference), 'sample', 'mean-of-k'",
                         one_of(*ACT_Z))
    act_z_samples: int = setting(10, "k of act_z = 'mean-of-k'", at_least(1))


@dataclass
class ModelConfig:
    """Network sizes."""

    noise_dim: int = setting(64, "dimension of the CGAN noise z", positive)
    hidden_dim: int = setting(512, "width of the policy, discriminator and value MLPs", positive)
    num_layers: int = setting(3, "linear layers per MLP (3 = two hidden layers)", positive, at_least(2))
    dynamics_hidden_dim: int = setting(512, "width of each dynamics model", positive)
    num_dynamics: int = setting(3, "N: models in the dynamics ensemble", positive)


@dataclass
class PlannerConfig:
    """Algorithm 2: planning with the prior policy in the learned ensemble."""

    kappa: float = setting(2.0, "candidates weighted by exp(kappa * R)", non_negative)
    plan_horizon: int = setting(20, "K: imagined steps after each first action", positive)
    plan_candidates: int = setting(20, "C: first actions drawn from the prior policy", positive)
    plan_copies: int = setting(10, "H: imagined rollouts per first action", positive)


@dataclass
class ReanalysisConfig:
    """Section 4.2: intra- and inter-trajectory reanalysis into the buffer B_re."""

    intra_per_round: int = setting(1000, "J_intra: intra-trajectory reanalyses per round", non_negative)
    inter_per_round: int = setting(1000, "J_inter: inter-trajectory reanalyses per round", non_negative)
    uncertainty_threshold: float = setting(0.1, "u: a step whose ensemble disagreement (Eq. 4) exceeds u is "
                                           "uncertain", non_negative)
    reanalysis_transition: str = setting("mean", "imagined next state: the ensemble's 'mean' (paper, reference) "
                                         "or a 'random' member", either("mean", "random"))
    inter_goal: str = setting("achieved", "goals of inter reanalysis: another trajectory's 'achieved' (paper) "
                              "or 'desired' (reference)", either("achieved", "desired"))
    reanalysis_skip_solved: bool = setting(False, "redraw samples that start at their goal (reference; off: B_re "
                                           "keeps examples of staying)")
    reanalysis_buffer_size: int = setting(2_000_000, "capacity of B_re in transitions", positive)


@dataclass
class FinetuneConfig:
    """Algorithm 1's rounds: reanalysis, then finetuning on B_re."""

    finetune_rounds: int = setting(10, "I: rounds of reanalysis and finetuning", non_negative)
    finetune_updates: int = setting(1000, "gradient steps per round", non_negative)
    reanalysis_sampling: str = setting("trajectory", "B_re sampled uniformly by 'trajectory', then step (reference), "
                                       "or by 'transition'",
                                       either("trajectory", "transition"))


@dataclass
class GCSLConfig:
    """The GCSL baseline (goplan/agents/gcsl.py)."""

    gcsl_loss: str = setting("gaussian", "'gaussian': likelihood of a Gaussian policy (reference); 'mse': "
                             "regression", one_of(*GCSL_LOSSES))
    gcsl_lr: float = setting(5e-4, "Adam learning rate of the GCSL policy (reference)", positive)


@dataclass
class EvaluationConfig:
    """Evaluation, logging and checkpoints."""

    eval_episodes: int = setting(100, "policy evaluation episodes, run in parallel", positive)
    eval_plan_episodes: int = setting(100, "test-time planning (GOPlan2) episodes at the end; 0 = none",
                                      non_negative)
    eval_every_round: bool = setting(True, "evaluate the policy after every round (else after the last)")
    log_every: int = setting(1000, "pretraining updates between metric rows", positive)
    checkpoint_every: int = setting(10_000, "pretraining updates between checkpoints", positive)
    disc_collapse_std: float = setting(1e-3, "a discriminator whose outputs over a batch vary less is logged as "
                                       "collapsed", non_negative)


@dataclass
class RuntimeConfig:
    """Where and how fast it runs: devices, matrix precision, threads and batch rows (docs/performance.md)."""

    device: str = setting("auto", "'auto', 'cpu', 'cuda', 'cuda:1', ...")
    plan_precision: str = setting("fp32", "matrix precision of planning and imagined rollouts: fp32, bf16 "
                                  "or auto", _PRECISION)
    train_precision: str = setting("fp32", "the same for the policy, discriminator and ensemble in training "
                                   "updates", _PRECISION)
    value_precision: str = setting("fp32", "the same for the value network's hidden layers (its output layer "
                                   "stays fp32)", _PRECISION)
    force_bf16: bool = setting(False, "keep bf16 where the device only emulates it (slow); else it falls back "
                               "to fp32")
    fused_adam: bool = setting(True, "Adam as one fused kernel per step (the same arithmetic)")
    overlap_cpu_update: bool = setting(True, "CPU, 2+ threads: the ensemble and V steps run beside the CGAN's "
                                       "(goplan/overlap.py)")
    overlap_cpu_planning: bool = setting(True, "CPU, 2+ threads: the planner plans its batches two at a time")
    plan_cpu_max_rows: int = setting(2048, "CPU: rollout rows per planner batch; 0 = all at once",
                                     non_negative)
    plan_cpu_max_rows_bf16: int = setting(4096, "the same with plan_precision bf16 (half the bytes per row)",
                                          non_negative)
    plan_cuda_graphs: bool = setting(True, "CUDA: test-time planning replays graphs captured per batch shape")
    cuda_small_batch_rows: int = setting(0, "CUDA: dynamics steps of at most this many rows evaluate every "
                                         "member; 0 = off", non_negative)
    reanalysis_chunk: int = setting(1000, "trajectories reanalysed together in one batch (bounds memory)",
                                    positive)


@dataclass
class RunConfig:
    """The run itself."""

    seed: int = setting(0, "random seed")
    preset: str = setting("paper", "the preset the defaults came from (paper, cpu or tiny)")


# the groups, by the name a dotted setting or a nested config uses, in the order --help lists them
GROUPS: dict[str, type] = {
    "algorithm": AlgorithmConfig, "model": ModelConfig, "planner": PlannerConfig, "reanalysis": ReanalysisConfig,
    "finetune": FinetuneConfig, "gcsl": GCSLConfig, "evaluation": EvaluationConfig, "runtime": RuntimeConfig,
    "run": RunConfig,
}
GROUP_OF: dict[str, str] = {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}
assert len(GROUP_OF) == sum(len(fields(cls)) for cls in GROUPS.values()), "a setting name is in two groups"


# A dataclass takes the fields of its bases from the last base to the first: listed in reverse, the
# config's fields follow GROUPS.
@dataclass
class GOPlanConfig(RunConfig, RuntimeConfig, EvaluationConfig, GCSLConfig, FinetuneConfig, ReanalysisConfig,
                   PlannerConfig, ModelConfig, AlgorithmConfig):
    """Every group's settings of one run, each under its own unique name (`cfg.plan_horizon`)."""

    def group(self, name: str) -> Any:
        """One group's settings as their own object (a copy: set a setting on the config itself)."""
        cls = GROUPS[name]
        return cls(**{f.name: getattr(self, f.name) for f in fields(cls)})

    def validate(self) -> "GOPlanConfig":
        """Check every setting's type (ints widen to floats) and rule; ConfigError names the first bad one."""
        for f in fields(self):
            setattr(self, f.name, check_field(f, getattr(self, f.name), rules=False))
        for f in fields(self):
            check_field(f, getattr(self, f.name), types=False)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The flat form (config.json, checkpoints): one key per setting."""
        return dataclasses.asdict(self)

    def to_nested_dict(self) -> dict[str, dict[str, Any]]:
        """The nested form: {group: {setting: value}}."""
        return {name: dataclasses.asdict(self.group(name)) for name in GROUPS}


# The cpu preset shrinks networks, update counts and planning sizes so that the whole pipeline runs on a
# 2-core machine in minutes; the tiny one is for tests and smoke runs. A run says which it used.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": dict(
        hidden_dim=256, dynamics_hidden_dim=256, batch_size=256, pretrain_updates=4000, finetune_rounds=4,
        # J_intra, J_inter, the finetuning updates per round and K keep the paper's values: smaller ones
        # left the rounds without effect or made the finetuned policy collapse (docs/notes/pointrooms.md)
        plan_horizon=20, plan_candidates=10, plan_copies=4, eval_plan_episodes=50, log_every=500,
        checkpoint_every=2000, reanalysis_chunk=400,
    ),
    "tiny": dict(
        lr=1e-3,  # small networks and few updates: a larger step gets the GAN off its initial plateau
        hidden_dim=64, dynamics_hidden_dim=64, noise_dim=8, batch_size=128, pretrain_updates=1500,
        finetune_rounds=2, finetune_updates=100, intra_per_round=32, inter_per_round=32, plan_candidates=4,
        plan_copies=2, plan_horizon=4, eval_episodes=20, eval_plan_episodes=10, log_every=100,
        checkpoint_every=200, reanalysis_buffer_size=100_000,
    ),
}
FIELDS = {f.name: f for f in fields(GOPlanConfig)}


def resolve_name(key: str) -> str:
    """The setting a name means: its own name, or group.name (e.g. planner.plan_horizon)."""
    if key in FIELDS:
        return key
    group, _, name = key.partition(".")
    if GROUP_OF.get(name) == group:
        return name
    if key in GROUPS:
        raise ConfigError(f"setting {key!r} is a group; set its settings one by one, e.g. {key}."
                          f"{fields(GROUPS[key])[0].name}=...")
    names = [*FIELDS, *(f"{GROUP_OF[n]}.{n}" for n in FIELDS)]
    close = difflib.get_close_matches(key, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown setting {key!r}{hint}")


def _flat_items(data: dict[str, Any], known_only: bool) -> list[tuple[str, Any]]:
    """(setting, value) pairs of a flat, dotted or nested ({group: {name: value}}) dict, in its order;
    with known_only, names this version does not know are skipped instead of refused."""
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        if key in GROUPS and isinstance(value, dict):
            items += _flat_items({f"{key}.{name}": v for name, v in value.items()}, known_only)
            continue
        try:
            items.append((resolve_name(str(key)), value))
        except ConfigError:
            if not known_only:
                raise
    return items


def make_config(preset: str = "paper", overrides: dict[str, Any] | list[str] | None = None) -> GOPlanConfig:
    """A config from a preset and overrides: a dict (flat, dotted or nested names) or "key=value" strings."""
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, list(PRESETS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; choose from {', '.join(PRESETS)}"
        raise ConfigError(f"unknown preset {preset!r}{hint}")
    values: dict[str, Any] = dict(PRESETS[preset], preset=preset)
    if isinstance(overrides, dict):
        items = _flat_items(overrides, known_only=False)
    else:
        items = []
        for item in overrides or ():
            if "=" not in item:
                raise ConfigError(f"setting {item!r} must look like key=value")
            key, raw = item.split("=", 1)
            items.append((resolve_name(key.strip()), raw))
    for name, value in items:  # text is typed by the setting's annotation
        values[name] = parse_text(name, str(FIELDS[name].type), value) if isinstance(value, str) else value
    return GOPlanConfig(**values).validate()


def config_from_dict(data: dict[str, Any]) -> GOPlanConfig:
    """A config saved by any version: flat (config.json), nested by group, or both; names this version
    does not know are ignored, and a flat name given after its group overrides the group's value."""
    if not isinstance(data, dict):
        raise ConfigError(f"a saved config must be a JSON object, got {type(data).__name__}")
    return GOPlanConfig(**dict(_flat_items(data, known_only=True))).validate()


def describe_settings() -> str:
    """Every setting by group, with its default and doc (`goplan train --help`)."""
    width = max(len(f"{f.name}={f.default}") for f in FIELDS.values()) + 2
    lines = []
    for name, cls in GROUPS.items():
        lines.append(f"{name}: {cls.__doc__.strip()}")
        lines += [f"  {f'{f.name}={f.default}':{width}s}{doc_of(f)}" for f in fields(cls)]
    return "\n".join(lines)


def save_config(cfg: GOPlanConfig, path) -> None:
    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True))

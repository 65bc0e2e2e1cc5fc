"""GCSL baseline: goal-conditioned behaviour cloning with future-state relabelling (Ghosh et al. 2021).

As the GOPlan authors' code runs it: a Gaussian policy N(tanh(f(s, g)), exp(log_std)^2) with a learned,
state-independent log-std, trained to maximise the likelihood of the dataset action for goals
relabelled with future achieved goals of the same trajectory (her_prob), by Adam at gcsl_lr; it acts
with the mean. `gcsl_loss=mse` is this package's former baseline (squared error on tanh(f)). It shares
GOPlan's network width, batch size, normalisation and data, and trains for as many updates as GOPlan's
pretraining and finetuning together.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from goplan.agents.checkpoint import flatten_optimizer, load_checkpoint, save_checkpoint, unflatten_optimizer
from goplan.agents.guards import FiniteGuard
from goplan.agents.build import adam, resolve_device
from goplan.batches import DeviceTrajectories
from goplan.config import GOPlanConfig, config_from_dict, make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.data.relabel import sample_relabelled
from goplan.errors import CheckpointError, GOPlanError
from goplan.hardware import resolve_precisions
from goplan.models import Normalizer, fit_normalizers, mlp
from goplan.tasks.registry import TaskSpec, get_task


class GaussianPolicy(nn.Module):
    """pi(a | s, g) = N(tanh(f(s, g)), diag(exp(log_std))^2) on normalised inputs."""

    def __init__(self, in_dim: int, hidden: int, act_dim: int, layers: int):
        super().__init__()
        self.net = mlp(in_dim, hidden, act_dim, layers)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The mean action tanh(f(x))."""
        return torch.tanh(self.net(x))

    def nll(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """-log pi(a | x), averaged over rows and action dimensions (the reference's scale)."""
        return -torch.distributions.Normal(self(x), self.log_std.exp()).log_prob(a).mean()


class GCSLAgent:
    algorithm = "gcsl"

    def __init__(self, task: str | TaskSpec, config: GOPlanConfig | None = None, device: str | None = None):
        self.task = get_task(task) if isinstance(task, str) else task
        self.cfg = (config or make_config()).validate()
        self.device = resolve_device(device or self.cfg.device)
        self.cfg = resolve_precisions(self.cfg, self.device)  # bf16 only where native (goplan/hardware.py)
        t, c = self.task, self.cfg
        self.state_norm = Normalizer(t.obs_dim).to(self.device)
        self.goal_norm = Normalizer(t.goal_dim).to(self.device)
        self.policy = GaussianPolicy(t.obs_dim + t.goal_dim, c.hidden_dim, t.act_dim, c.num_layers).to(self.device)
        self.opt = adam(self.policy.parameters(), c.gcsl_lr, c)
        self.updates = 0
        self.guard = FiniteGuard()  # NaN / infinity in the loss stops the run
        self.data: DeviceTrajectories | None = None

    @property
    def total_updates(self) -> int:
        c = self.cfg
        return c.pretrain_updates + c.finetune_rounds * c.finetune_updates

    def set_dataset(self, dataset: TrajectoryDataset) -> None:
        dataset.check_task(self.task)
        self.data = d = DeviceTrajectories.from_dataset(dataset, self.device)
        c = self.cfg
        fit_normalizers(self.state_norm, self.goal_norm, d.observations, d.achieved_goals, d.desired_goals,
                        c.normalization, c.norm_state_noise, c.norm_goal_noise, c.norm_min_std)

    def _inputs(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.state_norm(s), self.goal_norm(g)], dim=-1)

    def update(self) -> torch.Tensor:
        d = self.data
        s, a, _, g = sample_relabelled(d.observations, d.achieved_goals, d.desired_goals, d.actions,
                                       self.cfg.batch_size, self.cfg.her_prob)
        x = self._inputs(s, g)
        loss = self.policy.nll(x, a) if self.cfg.gcsl_loss == "gaussian" else ((self.policy(x) - a) ** 2).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.updates += 1
        return loss.detach()

    def fit(self, dataset: TrajectoryDataset | None = None, on_log: Callable[[str, int, dict], None] | None = None,
            progress: bool = True) -> None:
        from tqdm.auto import tqdm

        if dataset is not None:
            self.set_dataset(dataset)
        c = self.cfg
        for step in tqdm(range(self.updates + 1, self.total_updates + 1), desc="gcsl", disable=not progress,
                         leave=False):
            loss = self.update()
            self.guard.watch({"gcsl_loss": loss}, step)
            if step % c.log_every == 0 or step == self.total_updates:
                self.guard.check("gcsl training")
                if on_log:
                    on_log("gcsl", step, {"gcsl_loss": float(loss)})

    @torch.no_grad()
    def act(self, obs, goal, deterministic: bool = True) -> np.ndarray:
        """The mean action; deterministic=False samples the Gaussian (clipped to the action box)."""
        s = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        g = torch.as_tensor(np.asarray(goal), dtype=torch.float32, device=self.device)
        mean = self.policy(self._inputs(s, g))
        if deterministic or self.cfg.gcsl_loss != "gaussian":
            return mean.cpu().numpy()  # the mean action, as the reference acts
        return (mean + self.policy.log_std.exp() * torch.randn_like(mean)).clamp(-1.0, 1.0).cpu().numpy()

    def save(self, path: str | Path) -> Path:
        tensors = {f"policy.{k}": v for k, v in self.policy.state_dict().items()}
        tensors.update({f"state_norm.{k}": v for k, v in self.state_norm.state_dict().items()})
        tensors.update({f"goal_norm.{k}": v for k, v in self.goal_norm.state_dict().items()})
        opt_t, opt_m = flatten_optimizer("opt", self.opt)
        tensors.update(opt_t)
        meta = {"algorithm": self.algorithm, "task": self.task.name, "config": self.cfg.to_dict(),
                "counters": {"updates": self.updates}, "optimizers": {"opt": opt_m}}
        return save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "GCSLAgent":
        tensors, meta = load_checkpoint(path)
        if meta.get("algorithm") != cls.algorithm:
            raise CheckpointError(f"{path}: holds a '{meta.get('algorithm')}' agent, not '{cls.algorithm}'")
        try:
            agent = cls(meta["task"], config_from_dict(meta["config"]), device=device)
        except GOPlanError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        try:
            for name, mod in (("policy", agent.policy), ("state_norm", agent.state_norm), ("goal_norm", agent.goal_norm)):
                mod.load_state_dict({k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")})
            unflatten_optimizer("opt", agent.opt, tensors, meta["optimizers"]["opt"])
            agent.updates = int(meta["counters"]["updates"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: checkpoint does not match this agent ({str(exc).splitlines()[0]})") from None
        return agent

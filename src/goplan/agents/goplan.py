"""The GOPlan agent: pretraining (advantage-weighted CGAN, value, dynamics ensemble), reanalysis and
finetuning (Algorithm 1), acting with the policy and with test-time planning (GOPlan2).

Read top to bottom: construction, data, pretraining and finetuning steps (the update itself, Eq. 3
and 6-8, is goplan/agents/update.py), one reanalysis round, `fit` (the whole of Algorithm 1), acting,
saving and loading.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from goplan.agents.build import adam, planner_settings, reanalysis_settings, resolve_device
from goplan.agents.checkpoint import flatten_optimizer, load_checkpoint, save_checkpoint, unflatten_optimizer
from goplan.agents.guards import FiniteGuard, discriminator_collapsed, require_finite
from goplan.agents.update import GOPlanUpdate
from goplan.batches import DeviceTrajectories, TransitionBatch
from goplan.config import GOPlanConfig, config_from_dict, make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.data.relabel import sample_relabelled
from goplan.errors import CheckpointError, GOPlanError
from goplan.hardware import resolve_precisions
from goplan.models import Discriminator, DynamicsEnsemble, Generator, Normalizer, ValueFunction
from goplan.models import fit_normalizers as fit_normalizers_to  # set_dataset has an argument of that name
from goplan.overlap import Overlap
from goplan.planner import Planner
from goplan.reanalysis import ReanalysisContext, TransitionBuffer, inter_reanalysis, intra_reanalysis
from goplan.tasks.registry import TaskSpec, get_task

__all__ = ["GOPlanAgent", "adam", "resolve_device"]  # the last two: for callers that import them from here


class GOPlanAgent(GOPlanUpdate):
    algorithm = "goplan"

    def __init__(self, task: str | TaskSpec, config: GOPlanConfig | None = None, device: str | None = None):
        self.task = get_task(task) if isinstance(task, str) else task
        self.cfg = (config or make_config()).validate()
        self.device = resolve_device(device or self.cfg.device)
        self.cfg = resolve_precisions(self.cfg, self.device)  # bf16 only where native (goplan/hardware.py)
        c, t = self.cfg, self.task
        s_dim, g_dim, a_dim = t.obs_dim, t.goal_dim, t.act_dim
        self.state_norm = Normalizer(s_dim).to(self.device)
        self.goal_norm = Normalizer(g_dim).to(self.device)
        self.policy = Generator(s_dim, g_dim, a_dim, c.noise_dim, c.hidden_dim, c.num_layers).to(self.device)
        self.discriminator = Discriminator(s_dim, g_dim, a_dim, c.hidden_dim, c.num_layers, c.disc_clip).to(self.device)
        self.value = ValueFunction(s_dim, g_dim, c.hidden_dim, c.num_layers).to(self.device)
        self.dynamics = DynamicsEnsemble(s_dim, a_dim, c.dynamics_hidden_dim, c.num_layers, c.num_dynamics,
                                         c.cuda_small_batch_rows if self.device.type == "cuda" else 0).to(self.device)
        self.policy_opt = adam(self.policy.parameters(), c.lr, c)
        self.disc_opt = adam(self.discriminator.parameters(), c.lr, c)
        self.value_opt = adam(self.value.net.parameters(), c.value_lr, c)
        self.dynamics_opt = adam(self.dynamics.parameters(), c.dynamics_lr, c)
        self.policy.eval()
        self.planner = self.make_planner()
        self.buffer = TransitionBuffer(c.reanalysis_buffer_size, s_dim, a_dim, g_dim, self.device,
                                       c.reanalysis_sampling)
        self.data: DeviceTrajectories | None = None
        self.counters = {"pretrain_updates": 0, "finetune_updates": 0, "rounds": 0, "value_updates": 0}
        self.guard = FiniteGuard()  # NaN / infinity in any training quantity stops the run

    def make_planner(self) -> Planner:
        """Algorithm 2 over this agent's networks with the config's planning settings (call again after
        changing them)."""
        return Planner(policy=self.policy, dynamics=self.dynamics, state_norm=self.state_norm,
                       goal_norm=self.goal_norm, task=self.task, settings=planner_settings(self.cfg, self.device))

    # ------------------------------------------------------------------ data
    def set_dataset(self, dataset: TrajectoryDataset, fit_normalizers: bool = True) -> None:
        """Move the offline dataset to the device and standardise states and goals with its statistics."""
        dataset.check_task(self.task)
        self.data = d = DeviceTrajectories.from_dataset(dataset, self.device)
        if fit_normalizers:
            c = self.cfg
            fit_normalizers_to(self.state_norm, self.goal_norm, d.observations, d.achieved_goals, d.desired_goals,
                               c.normalization, c.norm_state_noise, c.norm_goal_noise, c.norm_min_std)

    @property
    def desired_goals(self) -> torch.Tensor | None:
        """The dataset's desired goals (E, T, G) on the device."""
        return None if self.data is None else self.data.desired_goals

    @desired_goals.setter
    def desired_goals(self, goals: torch.Tensor | None) -> None:
        self.data.desired_goals = goals

    def sample_offline(self, batch: int) -> TransitionBatch:
        """(s, a, s', g) from the dataset with hindsight relabelling (probability her_prob)."""
        d = self.data
        return TransitionBatch(*sample_relabelled(d.observations, d.achieved_goals, d.desired_goals, d.actions,
                                                  batch, self.cfg.her_prob))

    # ------------------------------------------------------------------ updates (goplan/agents/update.py)
    def pretrain_step(self) -> dict[str, torch.Tensor]:
        """One pretraining update. On CPU the whole step, sampling included, runs with the threads split
        between the two halves of the update: a parallel region of the full thread count between them
        would leave its idle OpenMP thread spinning on the side thread's core."""
        c = self.cfg
        with Overlap(c.overlap_cpu_update and self.device.type == "cpu") as side:
            metrics = self.update(*self.sample_offline(c.batch_size), train_dynamics=True, side=side)
        self.counters["pretrain_updates"] += 1
        self.guard.watch(metrics, self.counters["pretrain_updates"])
        return metrics

    def finetune_step(self) -> dict[str, torch.Tensor]:
        """Finetuning samples the reanalysis buffer with its stored goals (no relabelling)."""
        metrics = self.update(*self.buffer.sample(self.cfg.batch_size), train_dynamics=False)
        self.counters["finetune_updates"] += 1
        self.guard.watch(metrics, self.counters["finetune_updates"])
        return metrics

    # ------------------------------------------------------------------ reanalysis
    def reanalysis_context(self, generator: torch.Generator | None = None) -> ReanalysisContext:
        """Reanalysis (Section 4.2) with this agent's planner, ensemble and data, and the config's settings."""
        return ReanalysisContext(planner=self.planner, dynamics=self.dynamics, state_norm=self.state_norm,
                                 data=self.data, settings=reanalysis_settings(self.cfg), generator=generator,
                                 desired_goals=self.data.desired_goals if self.cfg.inter_goal == "desired" else None)

    def reanalyse(self) -> dict[str, float]:
        """One round: J_intra intra- and J_inter inter-trajectory reanalyses into B_re."""
        ctx = self.reanalysis_context()
        stats: dict[str, float] = {}
        for name, fn, n in (("intra", intra_reanalysis, self.cfg.intra_per_round),
                            ("inter", inter_reanalysis, self.cfg.inter_per_round)):
            if n == 0:
                continue
            stored, fractions = fn(ctx, n)
            where = f"{name}-trajectory reanalysis of round {self.counters['rounds'] + 1}"
            require_finite("an imagined state (dynamics prediction)", stored.next_states, where)
            require_finite("an imagined action (policy output)", stored.actions, where)
            self.buffer.add(stored.states, stored.actions, stored.next_states, stored.goals, stored.lengths)
            stats.update({f"case_{k}": v for k, v in fractions.items()})
            stats[f"{name}_transitions"] = float(len(stored))
        stats["buffer_size"] = float(len(self.buffer))
        return stats

    # ------------------------------------------------------------------ Algorithm 1
    def fit(self, dataset: TrajectoryDataset | None = None, on_log: Callable[[str, int, dict], None] | None = None,
            progress: bool = True, stop_after_pretrain: bool = False) -> None:
        """Pretrain, then I rounds of reanalysis and finetuning. `on_log(phase, step, metrics)` receives
        metrics every log_every pretraining updates and after every round (evaluation is the caller's)."""
        from tqdm.auto import tqdm

        if dataset is not None:
            self.set_dataset(dataset)
        if self.data is None:
            raise ValueError("fit() needs a dataset")
        c = self.cfg
        start = self.counters["pretrain_updates"]
        bar = tqdm(total=c.pretrain_updates, initial=start, desc="pretrain", disable=not progress, leave=False)
        for step in range(start + 1, c.pretrain_updates + 1):
            metrics = self.pretrain_step()
            bar.update(1)
            if step % c.log_every == 0 or step == c.pretrain_updates:
                values = self.checked_values(metrics, "pretraining")
                if on_log:
                    on_log("pretrain", step, values)
        bar.close()
        if stop_after_pretrain:
            return
        for rnd in range(self.counters["rounds"] + 1, c.finetune_rounds + 1):
            stats = self.reanalyse()
            last: dict[str, torch.Tensor] = {}
            for _ in tqdm(range(c.finetune_updates), desc=f"finetune {rnd}/{c.finetune_rounds}",
                          disable=not progress, leave=False):
                last = self.finetune_step()
            values = self.checked_values(last, "finetuning") if last else {}
            self.counters["rounds"] = rnd
            if on_log:
                on_log("round", rnd, {**stats, **values})

    def checked_values(self, metrics: dict[str, torch.Tensor], phase: str) -> dict[str, float]:
        """Host copies of the metrics, after the guard confirmed every update since the last check was
        finite (NumericalError otherwise); adds disc_collapsed (1.0 when D is stuck at one output)."""
        self.guard.check(phase)
        values = {k: float(v) for k, v in metrics.items()}
        if "disc_std" in values:
            values["disc_collapsed"] = float(discriminator_collapsed(values["disc_std"], self.cfg.disc_collapse_std))
        return values

    # ------------------------------------------------------------------ acting
    def _to_tensors(self, obs, goal) -> tuple[torch.Tensor, torch.Tensor, bool]:
        s = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        g = torch.as_tensor(np.asarray(goal), dtype=torch.float32, device=self.device)
        single = s.ndim == 1
        if single:
            s, g = s.unsqueeze(0), g.unsqueeze(0)
        return s, g, single

    @torch.no_grad()
    def act(self, obs, goal, deterministic: bool = True) -> np.ndarray:
        """Policy action(s) for state(s) and goal(s), with the CGAN noise of the `act_z` setting (z = 0 by
        default, as the reference); deterministic=False draws one z per state whatever the setting."""
        s, g, single = self._to_tensors(obs, goal)
        a = self.policy_action(self.state_norm(s), self.goal_norm(g), self.cfg.act_z if deterministic else "sample")
        a = a.cpu().numpy()
        return a[0] if single else a

    def policy_action(self, sn: torch.Tensor, gn: torch.Tensor, act_z: str) -> torch.Tensor:
        """pi(s, g, z) on normalised inputs with z = 0 ("zero"), one z ~ N(0, I) per row ("sample"), or
        the mean action over act_z_samples draws per row ("mean-of-k", one batched pass)."""
        n, k, dim = sn.shape[0], self.cfg.act_z_samples, self.cfg.noise_dim
        if act_z == "zero":
            return self.policy(sn, gn, torch.zeros(n, dim, device=self.device))
        if act_z == "sample":
            return self.policy(sn, gn, torch.randn(n, dim, device=self.device))
        z = torch.randn(k * n, dim, device=self.device)
        a = self.policy(sn.repeat(k, 1), gn.repeat(k, 1), z)
        return a.view(k, n, -1).mean(0)

    @torch.no_grad()
    def plan(self, obs, goal) -> np.ndarray:
        """Test-time planning (GOPlan2): Algorithm 2 for every given state at once."""
        s, g, single = self._to_tensors(obs, goal)
        a = self.planner.plan_graphed(self.state_norm(s), g).cpu().numpy()
        return a[0] if single else a

    # ------------------------------------------------------------------ saving
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"policy": self.policy, "discriminator": self.discriminator, "value": self.value,
                "dynamics": self.dynamics, "state_norm": self.state_norm, "goal_norm": self.goal_norm}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"policy_opt": self.policy_opt, "disc_opt": self.disc_opt, "value_opt": self.value_opt,
                "dynamics_opt": self.dynamics_opt}

    def state_tensors(self, with_buffer: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for name, mod in self.modules().items():
            for key, value in mod.state_dict().items():
                tensors[f"{name}.{key}"] = value
        opt_meta = {}
        for name, opt in self.optimizers().items():
            t, m = flatten_optimizer(name, opt)
            tensors.update(t)
            opt_meta[name] = m
        if with_buffer:
            tensors.update({f"buffer.{k}": v for k, v in self.buffer.state_dict().items()})
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {"algorithm": self.algorithm, "task": self.task.name, "config": self.cfg.to_dict(),
                "counters": dict(self.counters), "optimizers": opt_meta}
        return tensors, meta

    def save(self, path: str | Path, with_buffer: bool = False, extra_meta: dict[str, Any] | None = None) -> Path:
        tensors, meta = self.state_tensors(with_buffer)
        meta.update(extra_meta or {})
        return save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None, dataset: TrajectoryDataset | None = None) -> "GOPlanAgent":
        tensors, meta = load_checkpoint(path)
        if meta.get("algorithm") != cls.algorithm:
            raise CheckpointError(f"{path}: holds a '{meta.get('algorithm')}' agent, not '{cls.algorithm}'")
        try:
            agent = cls(meta["task"], config_from_dict(meta["config"]), device=device)
        except GOPlanError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        agent.load_state(tensors, meta, path)
        if dataset is not None:
            agent.set_dataset(dataset, fit_normalizers=False)
        return agent

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: str | Path = "checkpoint") -> None:
        try:
            for name, mod in self.modules().items():
                head = f"{name}."
                sd = {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}
                mod.load_state_dict(sd)
            for name, opt in self.optimizers().items():
                unflatten_optimizer(name, opt, {k: v.to(self.device) for k, v in tensors.items()}, meta["optimizers"][name])
            buf = {k[len("buffer."):]: v for k, v in tensors.items() if k.startswith("buffer.")}
            if buf:
                self.buffer.load_state_dict(buf)
            counters = {k: int(v) for k, v in meta["counters"].items() if k in self.counters}
            if "rng.torch" in tensors:
                torch.set_rng_state(tensors["rng.torch"].cpu())
            if "rng.cuda" in tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng.cuda"].cpu(), self.device)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise CheckpointError(f"{path}: checkpoint does not match this agent ({str(exc).splitlines()[0]})") from None
        self.counters.update(counters)
        self.policy.eval()

"""The GOPlan agent: pretraining (advantage-weighted CGAN, value, dynamics ensemble), reanalysis and
finetuning (Algorithm 1), acting with the policy and with test-time planning (GOPlan2).

Read top to bottom: construction, data, one pretraining update, one reanalysis round, one finetuning
update, `fit` (the whole of Algorithm 1), acting, saving and loading.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from goplan.agents.checkpoint import flatten_optimizer, load_checkpoint, save_checkpoint, unflatten_optimizer
from goplan.agents.guards import FiniteGuard, discriminator_collapsed, require_finite
from goplan.config import GOPlanConfig, config_from_dict, make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.data.relabel import sample_relabelled
from goplan.errors import CheckpointError, ConfigError, GOPlanError
from goplan.models import (
    Discriminator, DynamicsEnsemble, Generator, Normalizer, ValueFunction, advantage_weight, discriminator_loss,
    generator_loss, matmul_precision,
)
from goplan.overlap import Overlap
from goplan.planner import Planner, PlannerSettings
from goplan.reanalysis import DeviceTrajectories, ReanalysisContext, TransitionBuffer, inter_reanalysis, intra_reanalysis
from goplan.tasks.registry import TaskSpec, get_task


def resolve_device(name: str) -> torch.device:
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


class GOPlanAgent:
    algorithm = "goplan"

    def __init__(self, task: str | TaskSpec, config: GOPlanConfig | None = None, device: str | None = None):
        self.task = get_task(task) if isinstance(task, str) else task
        self.cfg = (config or make_config()).validate()
        self.device = resolve_device(device or self.cfg.device)
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
        self.desired_goals: torch.Tensor | None = None
        self.counters = {"pretrain_updates": 0, "finetune_updates": 0, "rounds": 0, "value_updates": 0}
        self.guard = FiniteGuard()  # NaN / infinity in any training quantity stops the run

    def make_planner(self) -> Planner:
        """Algorithm 2 over this agent's networks with the config's planning settings (call again after
        changing them)."""
        c = self.cfg
        cpu_rows = c.plan_cpu_max_rows_bf16 if c.plan_precision == "bf16" else c.plan_cpu_max_rows
        return Planner(self.policy, self.dynamics, self.state_norm, self.goal_norm, self.task,
                       PlannerSettings(c.plan_candidates, c.plan_copies, c.plan_horizon, c.kappa, c.noise_dim,
                                       cpu_rows if self.device.type == "cpu" else 0,
                                       c.plan_precision, c.plan_cuda_graphs, c.overlap_cpu_planning))

    # ------------------------------------------------------------------ data
    def set_dataset(self, dataset: TrajectoryDataset, fit_normalizers: bool = True) -> None:
        """Move the offline dataset to the device and standardise states and goals with its statistics."""
        dataset.check_task(self.task)
        t = dataset.tensors(self.device)
        self.data = DeviceTrajectories(t["observations"], t["achieved_goals"], t["actions"])
        self.desired_goals = t["desired_goals"]
        if fit_normalizers:
            self.state_norm.fit(self.data.observations)
            self.goal_norm.fit(self.data.achieved_goals)

    def sample_offline(self, batch: int) -> tuple[torch.Tensor, ...]:
        """(s, a, s', g) from the dataset with hindsight relabelling (probability her_prob)."""
        d = self.data
        return sample_relabelled(d.observations, d.achieved_goals, self.desired_goals, d.actions, batch,
                                 self.cfg.her_prob)

    # ------------------------------------------------------------------ updates
    def update(self, s, a, s_next, g, train_dynamics: bool, side: Overlap | None = None) -> dict[str, torch.Tensor]:
        """One gradient step on V (Eq. 6), D (Eq. 7), pi (Eq. 8) and optionally the ensemble (Eq. 3).
        Inputs are raw-space tensors; returns detached metrics (no host sync).

        `side` (from pretrain_step) runs the ensemble's step and V's gradient step on a side thread while
        this one takes the CGAN's steps (goplan/overlap.py): the two halves share no parameters.
        Without it, the update runs in the order written."""
        c = self.cfg
        side = side or Overlap(False)  # disabled: each call runs at once
        sn, sn_next = self.state_norm(s), self.state_norm(s_next)
        dyn_loss = side.run(self.dynamics_step, sn, a, sn_next) if train_dynamics else None  # as soon as it can
        r = self.task.reward(self.task.phi(s_next), g)
        gn = self.goal_norm(g)
        out: dict[str, torch.Tensor] = {}
        # every network sees the same slightly jittered inputs (as the reference does); V is evaluated
        # once and serves both the advantage (before any update, as in the reference's order) and its loss
        js, js_next, jg = (x + c.input_noise * torch.randn_like(x) for x in (sn, sn_next, gn))
        with matmul_precision(self.device, c.value_precision):
            v = self.value(js, jg)
            with torch.no_grad():
                w, adv = advantage_weight(r, v.detach(), self.value(js_next, jg), c.gamma, c.beta, c.weight_clip)
                y = r + c.gamma * (1.0 - r) * self.value.target_value(js_next, jg)
        v_loss = side.run(self._value_step, v, y)
        out.update(self._gan_step(js, a, jg, w))
        if dyn_loss is not None:
            out["dynamics_loss"] = dyn_loss.result()
        out.update(value_loss=v_loss.result(), value=v.detach().mean(), weight=w.mean(), weight_max=w.max(),
                   advantage=adv.mean(), reward=r.mean())
        return out

    def dynamics_step(self, sn: torch.Tensor, a: torch.Tensor, sn_next: torch.Tensor) -> torch.Tensor:
        """Eq. 3: one step of the ensemble on normalised states (part of every pretraining update; also
        callable alone to train the ensemble further)."""
        with matmul_precision(self.device, self.cfg.train_precision):
            dyn_loss = self.dynamics.loss(sn, a, sn_next)
        self.dynamics_opt.zero_grad(set_to_none=True)
        dyn_loss.backward()
        self.dynamics_opt.step()
        return dyn_loss.detach()

    def _value_step(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Eq. 6 with its target network (Polyak-averaged every target_update_every steps)."""
        c = self.cfg
        v_loss = ((v - y) ** 2).mean()
        self.value_opt.zero_grad(set_to_none=True)
        v_loss.backward()
        self.value_opt.step()
        self.counters["value_updates"] += 1
        if self.counters["value_updates"] % c.target_update_every == 0:
            self.value.update_target(c.polyak)
        return v_loss.detach()

    def _gan_step(self, js: torch.Tensor, a: torch.Tensor, jg: torch.Tensor, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 7 then Eq. 8: D on real and generated actions in one batch, then pi (fresh noise)
        against the updated D."""
        c = self.cfg
        low = lambda: matmul_precision(self.device, c.train_precision)  # noqa: E731
        n = js.shape[0]
        self.policy.train()
        with torch.no_grad(), low():
            fake = self.policy(js, jg, torch.randn(n, c.noise_dim, device=self.device))
        with low():
            d_both = self.discriminator(torch.cat([js, js]), torch.cat([a, fake]), torch.cat([jg, jg]))
        d_real, d_fake_old = d_both.chunk(2)
        d_loss = discriminator_loss(d_real, d_fake_old, w, c.scale_fake_by_weight)
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.disc_opt.step()
        # pi's step back-propagates through D to pi's weights; D's own weight gradients would be
        # thrown away, so they are not computed
        self.discriminator.requires_grad_(False)
        try:
            with low():
                fake = self.policy(js, jg, torch.randn(n, c.noise_dim, device=self.device))
                d_fake = self.discriminator(js, fake, jg)
            self.policy.eval()
            g_loss = generator_loss(d_fake)
            self.policy_opt.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            self.discriminator.requires_grad_(True)
        self.policy_opt.step()
        return dict(disc_loss=d_loss.detach(), gen_loss=g_loss.detach(), disc_real=d_real.detach().mean(),
                    disc_fake=d_fake.detach().mean(), disc_std=d_both.detach().std())

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
        c = self.cfg
        return ReanalysisContext(self.planner, self.dynamics, self.state_norm, self.data, c.uncertainty_threshold,
                                 c.reanalysis_transition, c.reanalysis_chunk, generator, c.reanalysis_skip_solved,
                                 self.desired_goals if c.inter_goal == "desired" else None)

    def reanalyse(self) -> dict[str, float]:
        """One round: J_intra intra- and J_inter inter-trajectory reanalyses into B_re."""
        ctx = self.reanalysis_context()
        stats: dict[str, float] = {}
        for name, fn, n in (("intra", intra_reanalysis, self.cfg.intra_per_round),
                            ("inter", inter_reanalysis, self.cfg.inter_per_round)):
            if n == 0:
                continue
            trans, fractions = fn(ctx, n)
            if trans:
                where = f"{name}-trajectory reanalysis of round {self.counters['rounds'] + 1}"
                require_finite("an imagined state (dynamics prediction)", trans["next_states"], where)
                require_finite("an imagined action (policy output)", trans["actions"], where)
            if trans and trans["states"].shape[0]:
                self.buffer.add(trans["states"], trans["actions"], trans["next_states"], trans["goals"],
                                trans["lengths"])
            stats.update({f"case_{k}": v for k, v in fractions.items()})
            stats[f"{name}_transitions"] = float(trans["states"].shape[0]) if trans else 0.0
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
        """Policy action(s) for state(s) and goal(s); deterministic uses z = 0 (as the reference)."""
        s, g, single = self._to_tensors(obs, goal)
        shape = (s.shape[0], self.cfg.noise_dim)
        z = torch.zeros(shape, device=self.device) if deterministic else torch.randn(shape, device=self.device)
        a = self.policy(self.state_norm(s), self.goal_norm(g), z).cpu().numpy()
        return a[0] if single else a

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

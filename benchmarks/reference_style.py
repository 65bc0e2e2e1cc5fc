"""Reference-style baseline: OUR re-creation of the loop structure of the public reference
implementation (MianchuWang/GOPlan), as SPEC section 5 describes it, built from goplan's own modules.

This is not the reference code. It reproduces how the reference organises the work, so that the
speed of that organisation can be measured side by side with goplan's batched engine on the same
machine, with the same networks, sizes and data:

- planning handles one state at a time with C*H rows (Algorithm 2);
- the dynamics ensemble is N separate networks evaluated in a Python loop over members; a "random
  member per row" prediction runs every member on every row and masks (N times the work of one member);
- the planner's rewards are computed on the host (numpy) after copying all imagined states back;
- reanalysis handles one trajectory at a time, with a Python loop per trajectory and per step; every
  step plans, predicts the ensemble mean with the member loop, checks the uncertainty with a loop over
  members (one row at a time) and a `.item()` host sync, and checks the reward on the host;
- pretraining samples its batch with numpy on the host, trains each dynamics member with its own
  forward, backward and Adam step, computes the advantage weights with autograd on, and reads every
  loss back with `.item()`;
- finetuning is the same update without the dynamics step, on a batch drawn on the host, uniformly
  over the transitions that its reanalysis stored.

Weights are copied from a GOPlanAgent, so both sides do the same arithmetic per network call.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from goplan.data.dataset import TrajectoryDataset
from goplan.models.layers import mlp


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class RefStyleDynamics:
    """N separate MLPs (copies of a DynamicsEnsemble's members), each with its own Adam optimizer."""

    def __init__(self, ensemble, lr: float):
        self.num_models = ensemble.members
        self.state_dim, self.act_dim = ensemble.state_dim, ensemble.act_dim
        layers = ensemble.net.layers
        hidden = layers[0].out_dim
        device = layers[0].weight.device
        self.models: list[nn.Sequential] = []
        for i in range(self.num_models):
            net = mlp(self.state_dim + self.act_dim, hidden, self.state_dim, len(layers)).to(device)
            linears = [m for m in net if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for lin, ens in zip(linears, layers):
                    lin.weight.copy_(ens.weight[i].T)
                    lin.bias.copy_(ens.bias[i, 0])
            self.models.append(net)
        self.opts = [torch.optim.Adam(m.parameters(), lr=lr) for m in self.models]
        self.device = device

    def member(self, i: int, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return s + self.models[i](torch.cat([s, a], dim=-1))

    def predict(self, s: torch.Tensor, a: torch.Tensor, mean: bool = False) -> torch.Tensor:
        out = torch.zeros(s.shape, device=self.device)
        if mean:
            for i in range(self.num_models):
                out += self.member(i, s, a) / self.num_models
        else:  # a random member per row: every member on every row, masked
            index = torch.randint(self.num_models, (s.shape[0],)).to(self.device)
            for i in range(self.num_models):
                out += self.member(i, s, a) * (index == i).to(torch.int32).unsqueeze(-1)
        return out

    def uncertainty(self, states: torch.Tensor, actions: torch.Tensor) -> float:
        """Across-member variance averaged over state dimensions, max over rows; loops over rows and
        members and returns a Python float (a host sync)."""
        length = states.shape[0]
        preds = torch.zeros(self.num_models, length, self.state_dim, device=self.device)
        for i in range(length):
            for k in range(self.num_models):
                preds[k, i] = self.member(k, states[i].unsqueeze(0), actions[i].unsqueeze(0))
        return torch.max(preds.var(0).mean(dim=1)).item()

    def train_step(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> float:
        loss = None
        for i in range(self.num_models):
            loss = ((self.member(i, s, a) - s_next) ** 2).mean()
            self.opts[i].zero_grad()
            loss.backward()
            self.opts[i].step()
        return loss.item()


class RefStyleAgent:
    """Planning, reanalysis and pretraining organised the reference's way, on copies of an agent's networks."""

    def __init__(self, agent, dataset: TrajectoryDataset):
        c = agent.cfg
        self.cfg, self.task, self.device = c, agent.task, agent.device
        self.policy = copy.deepcopy(agent.policy).eval()
        self.discriminator = copy.deepcopy(agent.discriminator)
        self.v_net = copy.deepcopy(agent.value.net)
        self.v_target = copy.deepcopy(agent.value.target)
        self.dynamics = RefStyleDynamics(agent.dynamics, c.dynamics_lr)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=c.lr)
        self.disc_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr)
        self.v_opt = torch.optim.Adam(self.v_net.parameters(), lr=c.value_lr)
        self.v_steps = 0
        # host-side dataset and normalisation statistics (the reference keeps its buffer in numpy)
        self.obs = dataset.observations
        self.ag = dataset.achieved_goals
        self.actions = dataset.actions
        self.s_mean = agent.state_norm.mean.cpu().numpy()
        self.s_std = agent.state_norm.std.cpu().numpy()
        self.g_mean = agent.goal_norm.mean.cpu().numpy()
        self.g_std = agent.goal_norm.std.cpu().numpy()
        self.goal_idx = list(self.task.goal_indices)
        self.reanalysis_store: list[dict[str, np.ndarray]] = []
        self._store_arrays: tuple[int, tuple[np.ndarray, ...]] | None = None  # (pieces, the store concatenated)

    # ---------------------------------------------------------------- host-side helpers
    def _t(self, x: np.ndarray) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float32, device=self.device)

    def prep_states(self, s: np.ndarray) -> torch.Tensor:
        return self._t((s - self.s_mean) / self.s_std)

    def prep_goals(self, g: np.ndarray) -> torch.Tensor:
        return self._t((g - self.g_mean) / self.g_std)

    def post_states(self, s: torch.Tensor) -> np.ndarray:
        return s.cpu().numpy() * self.s_std + self.s_mean

    def reward_np(self, achieved: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return (np.linalg.norm(achieved - goal, axis=-1) <= self.task.eps).astype(np.float32)

    # ---------------------------------------------------------------- planning (one state)
    @torch.no_grad()
    def plan_one(self, s_prep: torch.Tensor, g_prep: torch.Tensor, g_np: np.ndarray) -> torch.Tensor:
        """Algorithm 2 for one normalised state (1, S): C*H rows, member loop, host-side rewards."""
        c = self.cfg
        n_c, n_h, k = c.plan_candidates, c.plan_copies, c.plan_horizon
        s = s_prep.repeat(n_c, 1)
        g = g_prep.repeat(n_c, 1)
        first = self.policy(s, g, torch.randn(n_c, c.noise_dim, device=self.device))
        s1 = self.dynamics.predict(s, first, mean=False)
        g_rows = g.repeat(n_h, 1)
        all_states = torch.zeros(n_c * n_h, k + 1, self.dynamics.state_dim, device=self.device)
        all_states[:, 0] = s1.repeat(n_h, 1)
        for h in range(k):
            noise = torch.randn(n_c * n_h, c.noise_dim, device=self.device)
            a = self.policy(all_states[:, h], g_rows, noise)
            all_states[:, h + 1] = self.dynamics.predict(all_states[:, h], a, mean=False)
        raw = self.post_states(all_states.reshape(-1, self.dynamics.state_dim))
        r = self.reward_np(raw[:, self.goal_idx], np.asarray(g_np)[None])
        r = r.reshape(n_h, n_c, k + 1).sum(axis=2).mean(axis=0)
        r = torch.tensor(r[:, None], dtype=torch.float32, device=self.device)
        r -= r.max()
        w = torch.exp(c.kappa * r)
        return (first * w).sum(0) / w.sum()

    def plan(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """GOPlan2 control: numpy state and goal in, numpy action out (as the reference's plan())."""
        a = self.plan_one(self.prep_states(np.asarray(obs)[None]), self.prep_goals(np.asarray(goal)[None]), goal)
        return a.cpu().numpy()

    # ---------------------------------------------------------------- reanalysis (one trajectory at a time)
    @torch.no_grad()
    def _imagine_one(self, s0: np.ndarray, goal: np.ndarray, steps: int) -> tuple[str, int, np.ndarray, np.ndarray]:
        """Plan-and-step up to `steps` times; returns (outcome, steps taken, raw states, actions)."""
        threshold = self.cfg.uncertainty_threshold
        s_dim, a_dim = self.dynamics.state_dim, self.dynamics.act_dim
        pred_s = torch.zeros(steps + 1, s_dim, device=self.device)
        pred_a = torch.zeros(max(steps, 1), a_dim, device=self.device)
        pred_s[0] = self.prep_states(s0[None])[0]
        g_prep = self.prep_goals(goal[None])
        s = pred_s[0].unsqueeze(0)
        for i in range(steps):
            a = self.plan_one(s, g_prep, goal)
            ns = self.dynamics.predict(pred_s[i].unsqueeze(0), a.unsqueeze(0), mean=True)
            pred_a[i] = a
            pred_s[i + 1] = ns
            s = ns
            if self.dynamics.uncertainty(pred_s[i:i + 1], pred_a[i:i + 1]) > threshold:
                return "uncertain", i + 1, self.post_states(pred_s[:i + 2]), pred_a[:i + 1].cpu().numpy()
            s_np = self.post_states(s)
            if self.reward_np(s_np[:, self.goal_idx], goal[None])[0] > 0:
                return "reached", i + 1, self.post_states(pred_s[:i + 2]), pred_a[:i + 1].cpu().numpy()
        return "timeout", steps, self.post_states(pred_s[:steps + 1]), pred_a[:steps].cpu().numpy()

    def _push(self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, goals: np.ndarray) -> None:
        self.reanalysis_store.append({"observations": states, "actions": actions, "next_observations": next_states,
                                      "desired_goals": goals})

    def intra(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        """n intra-trajectory reanalyses, one at a time. Segment: episode e, start t, k uniform in
        1 .. T - t (the engine's distribution); k - 1 planned steps at most."""
        e, t_len = self.actions.shape[:2]
        outcomes: dict[str, int] = {"reached": 0, "uncertain": 0, "timeout": 0}
        steps_total = 0
        for _ in range(n):
            ep, t = int(rng.integers(e)), int(rng.integers(t_len))
            k = 1 + min(int(rng.random() * (t_len - t)), t_len - 1 - t)
            states = self.obs[ep, t:t + k]
            goal = self.ag[ep, t + k]
            outcome, taken, s_raw, acts = self._imagine_one(states[0], goal, k - 1)
            outcomes[outcome] += 1
            steps_total += taken
            if outcome == "reached":
                self._push(s_raw[:-1], acts, s_raw[1:], np.repeat(goal[None], taken, 0))
            else:
                self._push(states, self.actions[ep, t:t + k], self.obs[ep, t + 1:t + k + 1], np.repeat(goal[None], k, 0))
        return {"outcomes": outcomes, "steps": steps_total}

    def inter(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        """n inter-trajectory reanalyses, one at a time: start from one trajectory, goal from another,
        T - 1 planned steps at most (the reference loops max_steps - 1 times)."""
        e, t_len = self.actions.shape[:2]
        outcomes: dict[str, int] = {"reached": 0, "uncertain": 0, "timeout": 0}
        steps_total = 0
        for _ in range(n):
            ep1 = int(rng.integers(e))
            ep2 = (ep1 + int(rng.integers(1, e))) % e
            s0 = self.obs[ep1, int(rng.integers(t_len + 1))]
            goal = self.ag[ep2, int(rng.integers(t_len + 1))]
            outcome, taken, s_raw, acts = self._imagine_one(s0, goal, t_len - 1)
            outcomes[outcome] += 1
            steps_total += taken
            if outcome == "reached":
                self._push(s_raw[:-1], acts, s_raw[1:], np.repeat(goal[None], taken, 0))
            elif outcome == "timeout":
                achieved = s_raw[-1, self.goal_idx]
                self._push(s_raw[:-1], acts, s_raw[1:], np.repeat(achieved[None], taken, 0))
        return {"outcomes": outcomes, "steps": steps_total}

    # ---------------------------------------------------------------- pretraining
    def sample_batch(self, batch: int) -> tuple[np.ndarray, ...]:
        """Host-side sampling with future-goal relabelling (probability 1), as the reference's buffer."""
        e, t_len = self.actions.shape[:2]
        ep = np.random.randint(e, size=batch)
        t = np.random.randint(t_len, size=batch)
        future = t + 1 + np.minimum((np.random.rand(batch) * (t_len - t)).astype(np.int64), t_len - 1 - t)
        return self.obs[ep, t], self.actions[ep, t], self.obs[ep, t + 1], self.ag[ep, future]

    def pretrain_step(self) -> dict[str, float]:
        return self._update(*self.sample_batch(self.cfg.batch_size), train_dynamics=True)

    def finetune_step(self) -> dict[str, float]:
        """A finetuning update: the pretraining update without the dynamics step, on the reanalysed
        transitions (stored goals, no relabelling), sampled uniformly on the host."""
        if self._store_arrays is None or self._store_arrays[0] != len(self.reanalysis_store):
            keys = ("observations", "actions", "next_observations", "desired_goals")
            self._store_arrays = (len(self.reanalysis_store),
                                  tuple(np.concatenate([p[k] for p in self.reanalysis_store]) for k in keys))
        s, a, s_next, g = self._store_arrays[1]
        index = np.random.randint(len(s), size=self.cfg.batch_size)
        return self._update(s[index], a[index], s_next[index], g[index], train_dynamics=False)

    def _update(self, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, g: np.ndarray,
                train_dynamics: bool) -> dict[str, float]:
        c = self.cfg
        sp, ap, snp, gp = self.prep_states(s), self._t(a), self.prep_states(s_next), self.prep_goals(g)
        r = self._t(self.reward_np(s_next[:, self.goal_idx], g))[:, None]
        info = {"dynamics_loss": self.dynamics.train_step(sp, ap, snp)} if train_dynamics else {}
        # GAN (advantage computed with autograd on, as the reference)
        js = sp + c.input_noise * torch.randn_like(sp)
        jsn = snp + c.input_noise * torch.randn_like(snp)
        jg = gp + c.input_noise * torch.randn_like(gp)
        self.policy.train()
        self.discriminator.train()
        v = self.v_net(torch.cat([js, jg], -1))
        v_next = self.v_net(torch.cat([jsn, jg], -1))
        adv = r + (1 - r) * c.gamma * v_next - v
        w = torch.clamp(torch.exp(c.beta * adv), 0, c.weight_clip)
        fake = self.policy(js, jg, torch.randn(c.batch_size, c.noise_dim, device=self.device))
        d_fake = self.discriminator(js, fake, jg)
        d_real = self.discriminator(js, ap, jg)
        d_loss = -(w.squeeze(-1) * torch.log(d_real)).mean() - w.mean() * torch.log(1 - d_fake).mean()
        self.disc_opt.zero_grad()
        d_loss.backward()
        self.disc_opt.step()
        fake = self.policy(js, jg, torch.randn(c.batch_size, c.noise_dim, device=self.device))
        g_loss = torch.log(1 - self.discriminator(js, fake, jg)).mean()
        self.policy_opt.zero_grad()
        g_loss.backward()
        self.policy_opt.step()
        self.policy.eval()
        self.discriminator.eval()
        info.update(generator_loss=g_loss.item(), discriminator_loss=d_loss.item())
        # value function
        with torch.no_grad():
            y = r + (1 - r) * c.gamma * self.v_target(torch.cat([snp, gp], -1))
        pred = self.v_net(torch.cat([sp, gp], -1))
        v_loss = ((y - pred) ** 2).mean()
        self.v_opt.zero_grad()
        v_loss.backward()
        self.v_opt.step()
        self.v_steps += 1
        info.update(v_loss=v_loss.item(), v_value=pred.mean().item(), v_value_std=pred.std().item())
        if self.v_steps % c.target_update_every == 0:
            for p, tp in zip(self.v_net.parameters(), self.v_target.parameters()):
                tp.data.copy_(c.polyak * p.data + (1 - c.polyak) * tp.data)
        return info


def measure_reanalysis(ref: RefStyleAgent, intra_n: int, inter_n: int, seed: int = 0, log=print,
                       expected_len: dict[str, float] | None = None) -> dict[str, Any]:
    """Time reference-style intra and inter reanalysis (one trajectory at a time, seeded draws).
    With `expected_len` (mean step budget per kind), traj_per_s is the full-budget rate (planned steps
    per second / expected budget) and traj_per_s_measured the rate as drawn."""
    out: dict[str, Any] = {}
    ref._imagine_one(ref.obs[0, 0], ref.ag[1, -1], 1)  # warm-up of the per-step path (one planned step)
    for name, fn, n in (("intra", ref.intra, intra_n), ("inter", ref.inter, inter_n)):
        if n <= 0:
            continue
        rng = np.random.default_rng(seed)
        _sync(ref.device)
        t0 = time.perf_counter()
        stats = fn(n, rng)
        _sync(ref.device)
        dt = time.perf_counter() - t0
        steps_per_s = stats["steps"] / dt
        full = steps_per_s / expected_len[name] if expected_len else n / dt
        out[name] = {"n": n, "seconds": dt, "traj_per_s": full, "traj_per_s_measured": n / dt, "steps": stats["steps"],
                     "steps_per_s": steps_per_s, "mean_len": stats["steps"] / n, "outcomes": stats["outcomes"]}
        if expected_len:
            out[name]["expected_len"] = expected_len[name]
        log(f"  reference-style {name}: {n} trajectories, {stats['steps']} planned steps in {dt:.1f}s "
            f"({n / dt:.3f} traj/s, {stats['steps'] / dt:.2f} steps/s)")
    return out

"""One gradient update of GOPlan's networks on a batch: the step of pretraining and of finetuning
(Algorithm 1). Each loss is a function of the batch that returns the loss and what to log:

    dynamics_loss        Eq. 3  every ensemble member's squared error in predicting s' from (s, a)
    value_loss           Eq. 6  V's squared TD error against r + gamma (1 - r) V_target(s', g)
    discriminator_loss   Eq. 7  D on the batch's actions, weighted by w (Eq. 5), against generated ones
    generator_loss       Eq. 8  pi through the updated D

`prepare_batch` makes what V, D and pi share: normalised states and goals with the reference's small
input jitter, the sparse reward r(s', g), and V with the advantage weights w, evaluated once before
any step (the reference's order). The update has two halves that share no parameters: the ensemble's
and V's steps, and the CGAN's two steps. `run_halves` runs the first on a side thread where the caller
allows it (pretraining on CPU, goplan/overlap.py), the ensemble's step from the start, with the same
arithmetic. Every random number is
drawn by the calling thread, in this order: the jitter of s, s' and g; the noise z of D's generated
actions; the noise z of pi's step.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import nn

from goplan.batches import TransitionBatch
from goplan.models import advantage_weight, cgan, matmul_precision
from goplan.overlap import Overlap

Logs = dict[str, torch.Tensor]  # detached scalars, read on the host only every log_every updates


@dataclass(kw_only=True)
class UpdateBatch:
    """One batch as the losses read it (B rows)."""

    actions: torch.Tensor  # a (B, A)
    states: torch.Tensor  # s (B, S), normalised: the ensemble's input
    next_states: torch.Tensor  # s' (B, S), normalised: the ensemble's target
    s: torch.Tensor  # normalised s, s' and g with the input jitter: the inputs of V, D and pi
    s_next: torch.Tensor
    g: torch.Tensor
    reward: torch.Tensor  # r(s', g) in {0, 1} (B,)
    value: torch.Tensor  # V(s, g) (B,), with its graph for Eq. 6
    target: torch.Tensor  # r + gamma (1 - r) V_target(s', g) (B,)
    advantage: torch.Tensor  # A = r + gamma (1 - r) V(s', g) - V(s, g) (B,)
    weight: torch.Tensor  # w = clip(exp(beta A), 0, M) (B,), Eq. 5

    def logs(self) -> Logs:
        return dict(value=self.value.detach().mean(), weight=self.weight.mean(), weight_max=self.weight.max(),
                    advantage=self.advantage.mean(), reward=self.reward.mean())


def run_halves(side: Overlap, ensemble_step: Callable[[], Logs] | None, prepare: Callable[[], UpdateBatch],
               value_step: Callable[[UpdateBatch], Logs],
               gan_steps: Callable[[UpdateBatch], Logs]) -> tuple[UpdateBatch, Logs]:
    """The update's two halves: the ensemble's and V's steps on `side`'s thread, the CGAN's steps on
    this one. The ensemble's step starts at once, while this thread prepares the batch; V's step, which
    needs the batch, follows it there while this thread takes the CGAN's steps. With `side` disabled,
    each runs here in that order. Returns the batch and every step's logs."""
    ensemble = side.run(ensemble_step) if ensemble_step is not None else None
    batch = prepare()
    value = side.run(value_step, batch)
    logs = gan_steps(batch)
    return batch, {**logs, **(ensemble.result() if ensemble is not None else {}), **value.result()}


def _descend(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@contextlib.contextmanager
def _frozen(module: nn.Module):
    """No gradients for `module`'s weights inside (gradients still flow through it to its inputs)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


class GOPlanUpdate:
    """The update of GOPlanAgent (goplan/agents/goplan.py), whose networks, optimisers, normalisers,
    task, config and counters it uses."""

    def update(self, s, a, s_next, g, train_dynamics: bool, side: Overlap | None = None) -> Logs:
        """One step on the ensemble (Eq. 3, with train_dynamics), V (Eq. 6), D (Eq. 7) and pi (Eq. 8)
        from raw-space (s, a, s', g). `side` (pretrain_step's) takes the ensemble's and V's steps to a
        side thread while this one takes the CGAN's; without it, all run here in that order."""
        states, next_states = self.state_norm(s), self.state_norm(s_next)
        ensemble = partial(self.dynamics_step, states, a, next_states) if train_dynamics else None
        prepare = partial(self.prepare_batch, TransitionBatch(s, a, s_next, g), states, next_states)
        batch, logs = run_halves(side or Overlap(False), ensemble, prepare, self._value_step, self._gan_step)
        return {**logs, **batch.logs()}

    def prepare_batch(self, batch: TransitionBatch, states: torch.Tensor, next_states: torch.Tensor) -> UpdateBatch:
        """From raw (s, a, s', g) and the normalised s and s': the networks' inputs, jittered by the same
        noise for every network (as the reference), the reward, and V(s, g) with the advantage weights
        (Eq. 5) and the TD targets (Eq. 6)."""
        c = self.cfg
        reward = self.task.reward(self.task.phi(batch.next_states), batch.goals)
        goals = self.goal_norm(batch.goals)
        s, s_next, g = (x + c.input_noise * torch.randn_like(x) for x in (states, next_states, goals))
        with matmul_precision(self.device, c.value_precision):
            value = self.value(s, g)
            with torch.no_grad():
                weight, advantage = advantage_weight(reward, value.detach(), self.value(s_next, g), c.gamma,
                                                     c.beta, c.weight_clip)
                target = reward + c.gamma * (1.0 - reward) * self.value.target_value(s_next, g)
        return UpdateBatch(actions=batch.actions, states=states, next_states=next_states, s=s, s_next=s_next, g=g,
                           reward=reward, value=value, target=target, advantage=advantage, weight=weight)

    # ---------------------------------------------------------------- the losses
    def dynamics_loss(self, states: torch.Tensor, actions: torch.Tensor,
                      next_states: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        """Eq. 3 on normalised states, summed over the ensemble's members."""
        with self._train_precision():
            loss = self.dynamics.loss(states, actions, next_states)
        return loss, {"dynamics_loss": loss.detach()}

    def value_loss(self, batch: UpdateBatch) -> tuple[torch.Tensor, Logs]:
        """Eq. 6: mean of (V(s, g) - r - gamma (1 - r) V_target(s', g))^2."""
        loss = ((batch.value - batch.target) ** 2).mean()
        return loss, {"value_loss": loss.detach()}

    def discriminator_loss(self, batch: UpdateBatch) -> tuple[torch.Tensor, Logs]:
        """Eq. 7: -E[w log D(s, a, g)] - E[log(1 - D(s, a', g))] with a' = pi(s, g, z) for fresh z (no
        gradient to pi); D sees real and generated actions in one batch."""
        n = batch.s.shape[0]
        with torch.no_grad(), self._train_precision():
            fake = self.policy(batch.s, batch.g, torch.randn(n, self.cfg.noise_dim, device=self.device))
        with self._train_precision():
            d_both = self.discriminator(torch.cat([batch.s, batch.s]), torch.cat([batch.actions, fake]),
                                        torch.cat([batch.g, batch.g]))
        d_real, d_fake = d_both.chunk(2)
        loss = cgan.discriminator_loss(d_real, d_fake, batch.weight, self.cfg.scale_fake_by_weight)
        return loss, {"disc_loss": loss.detach(), "disc_real": d_real.detach().mean(),
                      "disc_std": d_both.detach().std()}

    def generator_loss(self, batch: UpdateBatch) -> tuple[torch.Tensor, Logs]:
        """Eq. 8: E[log(1 - D(s, pi(s, g, z), g))] for fresh z."""
        n = batch.s.shape[0]
        with self._train_precision():
            fake = self.policy(batch.s, batch.g, torch.randn(n, self.cfg.noise_dim, device=self.device))
            d_fake = self.discriminator(batch.s, fake, batch.g)
        loss = cgan.generator_loss(d_fake)
        return loss, {"gen_loss": loss.detach(), "disc_fake": d_fake.detach().mean()}

    # ---------------------------------------------------------------- the steps
    def dynamics_step(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> Logs:
        """Eq. 3's step on normalised states (part of every pretraining update; callable alone to train
        the ensemble further)."""
        loss, logs = self.dynamics_loss(states, actions, next_states)
        _descend(self.dynamics_opt, loss)
        return logs

    def _value_step(self, batch: UpdateBatch) -> Logs:
        """Eq. 6's step, and the target network's Polyak averaging every target_update_every steps."""
        c = self.cfg
        loss, logs = self.value_loss(batch)
        _descend(self.value_opt, loss)
        self.counters["value_updates"] += 1
        if self.counters["value_updates"] % c.target_update_every == 0:
            self.value.update_target(c.polyak)
        return logs

    def _gan_step(self, batch: UpdateBatch) -> Logs:
        """Eq. 7's step on D, then Eq. 8's step on pi against the updated D, with pi's batch
        normalisation in training mode."""
        self.policy.train()
        try:
            d_loss, logs = self.discriminator_loss(batch)
            _descend(self.disc_opt, d_loss)
            with _frozen(self.discriminator):  # pi's gradient passes through D; D's own is not needed
                g_loss, g_logs = self.generator_loss(batch)
                _descend(self.policy_opt, g_loss)
        finally:
            self.policy.eval()
        return {**logs, **g_logs}

    def _train_precision(self):
        """The matrix precision of the policy, discriminator and ensemble in updates (train_precision)."""
        return matmul_precision(self.device, self.cfg.train_precision)

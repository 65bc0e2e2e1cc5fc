"""What the prior's fidelity rests on: the normalisation rule, the noise the policy acts with, and the
GCSL baseline trained as its own paper and the reference run it."""
import math

import numpy as np
import pytest
import torch

from goplan import make_config
from goplan.agents.gcsl import GCSLAgent, GaussianPolicy
from goplan.agents.goplan import GOPlanAgent
from goplan.data.dataset import TrajectoryDataset
from goplan.errors import ConfigError
from goplan.models import Normalizer


def test_reference_rule_adds_the_noise_variance_to_the_population_variance():
    x = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.5], [6.0, 1.0, 5.5]])
    norm = Normalizer(3)
    norm.fit_reference(x, noise_std=0.05)
    xn = x.double().numpy()
    expect_std = np.sqrt(xn.var(axis=0) + 0.05 ** 2)  # numpy's var is the population variance
    np.testing.assert_allclose(norm.mean.numpy(), xn.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(norm.std.numpy(), expect_std, rtol=1e-6)
    assert norm.std[1].item() == pytest.approx(0.05)  # a constant dimension is scaled by the noise alone
    # and that is what the reference's fit on noisy copies of the data converges to
    rng = np.random.default_rng(0)
    noisy = np.repeat(xn, 50_000, axis=0) + 0.05 * rng.standard_normal((4 * 50_000, 3))
    np.testing.assert_allclose(norm.std.numpy(), noisy.std(axis=0), rtol=5e-3)


def test_reference_rule_without_noise_leaves_constant_dimensions_unscaled():
    norm = Normalizer(2)
    norm.fit_reference(torch.tensor([[1.0, 3.0], [1.0, 5.0]]), noise_std=0.0)
    assert norm.std.tolist() == [1.0, 1.0]


def test_exact_rule_is_the_former_one():
    x = torch.tensor([[0.0, 1.0], [2.0, 1.001], [4.0, 0.999]])
    norm = Normalizer(2)
    norm.fit_exact(x, min_std=0.01)
    torch.testing.assert_close(norm.std, torch.tensor([2.0, 0.01]))  # sample std, floored


def toy_dataset(episodes: int = 6, steps: int = 5) -> TrajectoryDataset:
    """PointReach-shaped data whose desired goals lie far from the achieved ones."""
    rng = np.random.default_rng(0)
    obs = rng.normal(0.0, 1.0, (episodes, steps + 1, 2)).astype(np.float32)
    desired = np.broadcast_to(rng.normal(10.0, 3.0, (episodes, 1, 2)), (episodes, steps, 2)).astype(np.float32)
    act = rng.uniform(-1, 1, (episodes, steps, 2)).astype(np.float32)
    return TrajectoryDataset(obs, obs.copy(), desired.copy(), act, card={"task": "PointReach"})


@pytest.mark.parametrize("cls", [GOPlanAgent, GCSLAgent])
def test_agents_take_goal_statistics_from_the_desired_goals_and_keep_them(cls, tmp_path):
    data = toy_dataset()
    agent = cls("PointReach", make_config("tiny"), device="cpu")
    agent.set_dataset(data)
    goals = data.desired_goals.reshape(-1, 2).astype(np.float64)
    states = data.observations[:, :-1].reshape(-1, 2).astype(np.float64)
    np.testing.assert_allclose(agent.goal_norm.mean.numpy(), goals.mean(0), rtol=1e-5)
    np.testing.assert_allclose(agent.goal_norm.std.numpy(), np.sqrt(goals.var(0) + 0.05 ** 2), rtol=1e-5)
    np.testing.assert_allclose(agent.state_norm.std.numpy(), np.sqrt(states.var(0) + 0.05 ** 2), rtol=1e-5)
    loaded = cls.load(agent.save(tmp_path / "agent.safetensors"), device="cpu")  # stored in the checkpoint
    assert torch.equal(loaded.goal_norm.std, agent.goal_norm.std)
    assert torch.equal(loaded.state_norm.mean, agent.state_norm.mean)

    former = cls("PointReach", make_config("tiny", {"normalization": "exact"}), device="cpu")
    former.set_dataset(data)
    achieved = data.achieved_goals.reshape(-1, 2)
    np.testing.assert_allclose(former.goal_norm.mean.numpy(), achieved.mean(0), rtol=1e-5)


def test_act_z_modes():
    agent = GOPlanAgent("PointReach", make_config("tiny", {"act_z_samples": 5}), device="cpu")
    agent.set_dataset(toy_dataset())
    obs = np.random.default_rng(1).normal(size=(8, 2))
    goal = -obs
    zero = agent.act(obs, goal)
    np.testing.assert_array_equal(zero, agent.act(obs, goal))  # z = 0: the same action every call
    sn = agent.state_norm(torch.as_tensor(obs, dtype=torch.float32))
    gn = agent.goal_norm(torch.as_tensor(goal, dtype=torch.float32))
    with torch.no_grad():
        np.testing.assert_allclose(zero, agent.policy(sn, gn, torch.zeros(8, agent.cfg.noise_dim)).numpy())
    agent.cfg.act_z = "sample"
    assert not np.allclose(agent.act(obs, goal), agent.act(obs, goal))  # one fresh z per call
    agent.cfg.act_z = "mean-of-k"
    torch.manual_seed(3)
    mean = agent.act(obs, goal)
    torch.manual_seed(3)
    z = torch.randn(5 * 8, agent.cfg.noise_dim)  # the same draws, one policy call per draw
    with torch.no_grad():
        each = torch.stack([agent.policy(sn, gn, z[i * 8:(i + 1) * 8]) for i in range(5)])
    np.testing.assert_allclose(mean, each.mean(0).numpy(), atol=1e-6)
    assert mean.shape == (8, 2) and agent.act(obs[0], goal[0]).shape == (2,)


def test_unknown_act_z_and_normalization_are_refused():
    with pytest.raises(ConfigError, match="act_z must be one of zero, sample, mean-of-k"):
        make_config("tiny", ["act_z=median"])
    with pytest.raises(ConfigError, match="normalization must be one of reference, exact"):
        make_config("tiny", ["normalization=minmax"])
    with pytest.raises(ConfigError, match="act_z_samples must be >= 1"):
        make_config("tiny", ["act_z_samples=0"])


def test_gcsl_loss_is_the_gaussian_negative_log_likelihood():
    torch.manual_seed(0)
    policy = GaussianPolicy(3, 8, 2, 3)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([math.log(0.5), math.log(2.0)]))
    x, a = torch.randn(4, 3), torch.rand(4, 2) * 2 - 1
    mu = torch.tanh(policy.net(x))
    std = torch.tensor([0.5, 2.0])
    by_hand = (0.5 * ((a - mu) / std) ** 2 + torch.log(std) + 0.5 * math.log(2 * math.pi)).mean()
    torch.testing.assert_close(policy.nll(x, a), by_hand)


def test_gcsl_learns_its_log_std_at_its_own_learning_rate():
    data = toy_dataset()
    agent = GCSLAgent("PointReach", make_config("tiny", {"gcsl_lr": 3e-3}), device="cpu")
    assert agent.opt.param_groups[0]["lr"] == 3e-3
    agent.set_dataset(data)
    before = agent.policy.log_std.detach().clone()
    for _ in range(20):
        agent.update()
    assert not torch.equal(before, agent.policy.log_std.detach())
    obs = data.observations[:, 0]
    np.testing.assert_array_equal(agent.act(obs, obs), agent.act(obs, obs))  # acts with the mean

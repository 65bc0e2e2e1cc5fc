"""Networks: the dynamics ensemble, the advantage weight, the CGAN losses, the value target."""
import math

import pytest
import torch

from goplan.models import Discriminator, DynamicsEnsemble, Generator, ValueFunction, advantage_weight
from goplan.models.cgan import discriminator_loss, generator_loss


def test_ensemble_fits_a_linear_system_and_disagrees_off_the_data():
    torch.manual_seed(0)
    s_dim, a_dim = 3, 2
    A = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.95]])
    B = torch.tensor([[0.5, 0.0], [0.0, 0.3], [0.2, 0.2]])
    ens = DynamicsEnsemble(s_dim, a_dim, hidden=64, layers=3, members=5)
    opt = torch.optim.Adam(ens.parameters(), lr=3e-3)
    for _ in range(1500):
        s = torch.rand(256, s_dim) * 2 - 1  # training data in [-1, 1]^3
        a = torch.rand(256, a_dim) * 2 - 1
        loss = ens.loss(s, a, s @ A.T + a @ B.T)
        opt.zero_grad()
        loss.backward()
        opt.step()
    s = torch.rand(512, s_dim) * 2 - 1
    a = torch.rand(512, a_dim) * 2 - 1
    with torch.no_grad():
        pred = ens.all_members(s, a)
        err = (pred.mean(0) - (s @ A.T + a @ B.T)).pow(2).mean()
        on = ens.disagreement(pred).mean()
        far = torch.rand(512, s_dim) * 2 + 4  # far outside the data
        off = ens.disagreement(ens.all_members(far, a)).mean()
    assert err < 1e-3
    assert off > 10 * on


@pytest.mark.parametrize("small_batch_rows", [0, 1000], ids=["grouped", "every-member-then-pick"])
def test_one_sampled_member_per_row_matches_that_members_prediction(small_batch_rows):
    torch.manual_seed(1)
    ens = DynamicsEnsemble(4, 2, hidden=16, layers=3, members=3, small_batch_rows=small_batch_rows)
    s, a = torch.randn(301, 4), torch.randn(301, 2)  # 301 rows: not a multiple of 3
    with torch.no_grad():
        every = ens.all_members(s, a)  # (3, 301, 4)
        one = ens.sample_next(s, a)
    match = torch.isclose(every, one.unsqueeze(0), atol=1e-5).all(-1)  # (3, 301)
    assert match.any(0).all()  # each row equals one of the members
    counts = match.float().sum(1)
    assert counts.min() > 60  # and the members are used evenly (about 100 each)


def test_disagreement_is_the_unbiased_variance_over_members_averaged_over_state_dimensions():
    pred = torch.tensor([[[0.0, 0.0]], [[2.0, 0.0]]])  # 2 members, 1 row: mean (1, 0)
    # sum_i ||M_i - mean||^2 / (N - 1) = 2 in the first dimension, 0 in the second: averaged, 1.0
    assert DynamicsEnsemble.disagreement(pred).item() == 1.0
    three = torch.tensor([[[0.0]], [[1.0]], [[2.0]]])  # unbiased variance of 0, 1, 2 is 1 (biased: 2/3)
    assert DynamicsEnsemble.disagreement(three).item() == pytest.approx(1.0)


def test_a_single_model_has_no_disagreement():
    pred = torch.randn(1, 7, 3)
    assert torch.equal(DynamicsEnsemble.disagreement(pred), torch.zeros(7))


def test_advantage_weight_follows_the_spec():
    gamma, beta, clip = 0.98, 60.0, 10.0
    r = torch.tensor([0.0, 1.0, 0.0, 0.0])
    v = torch.tensor([0.5, 0.5, 0.5, 0.9])
    v_next = torch.tensor([0.5, 0.9, 0.52, 0.1])
    w, adv = advantage_weight(r, v, v_next, gamma, beta, clip)
    expect_adv = r + gamma * (1 - r) * v_next - v  # the (1 - r) of the reference, SPEC section 2
    torch.testing.assert_close(adv, expect_adv)
    expect_w = torch.clamp(torch.exp(beta * expect_adv), 0, clip)
    torch.testing.assert_close(w, expect_w)
    assert w[1] == clip  # a large advantage saturates at M
    assert 0 < w[3] < 1e-10  # a very negative one is ~0, never negative
    assert torch.isfinite(advantage_weight(torch.ones(1), torch.zeros(1), torch.zeros(1), gamma, 1e6, clip)[0]).all()


def test_cgan_parts():
    torch.manual_seed(2)
    gen = Generator(5, 3, 4, noise_dim=8, hidden=32, layers=3)
    disc = Discriminator(5, 3, 4, hidden=32, layers=3, clip=1e-4)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in gen.modules())
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in disc.modules())
    s, g = torch.randn(64, 5) * 100, torch.randn(64, 3) * 100
    a = gen(s, g, torch.randn(64, 8))
    assert a.abs().max() <= 1  # tanh output
    d = disc(s, a, g)
    assert d.min() >= 1e-4 and d.max() <= 1 - 1e-4  # clipped sigmoid
    w = torch.full((64,), 2.0)
    d_real, d_fake = torch.full((64,), 0.8), torch.full((64,), 0.3)
    loss = discriminator_loss(d_real, d_fake, w, scale_fake_by_weight=False)
    assert math.isclose(loss.item(), -(2 * math.log(0.8)) - math.log(0.7), rel_tol=1e-6)
    scaled = discriminator_loss(d_real, d_fake, w, scale_fake_by_weight=True)
    assert math.isclose(scaled.item(), -(2 * math.log(0.8)) - 2 * math.log(0.7), rel_tol=1e-6)
    assert math.isclose(generator_loss(d_fake).item(), math.log(0.7), rel_tol=1e-6)


def test_value_target_network_is_polyak_averaged():
    torch.manual_seed(3)
    v = ValueFunction(3, 2, hidden=8, layers=2)
    before = [p.clone() for p in v.target.parameters()]
    with torch.no_grad():
        for p in v.net.parameters():
            p.add_(1.0)
    v.update_target(0.005)
    for b, t, o in zip(before, v.target.parameters(), v.net.parameters()):
        torch.testing.assert_close(t, 0.995 * b + 0.005 * o)
    assert not any(p.requires_grad for p in v.target.parameters())


def test_small_batch_path_picks_members_independently_per_row():
    """The every-member path draws each row's member on its own (the grouped path uses each member
    exactly n/N times); over many draws every member serves every row."""
    torch.manual_seed(2)
    ens = DynamicsEnsemble(4, 2, hidden=16, layers=3, members=3, small_batch_rows=64)
    s, a = torch.randn(30, 4), torch.randn(30, 2)
    with torch.no_grad():
        every = ens.all_members(s, a)
        picks = torch.stack([torch.isclose(every, ens.sample_next(s, a).unsqueeze(0), atol=1e-5).all(-1).float()
                             .argmax(0) for _ in range(60)])  # (draws, rows): the member each row got
    per_draw = torch.stack([(picks == m).sum(1) for m in range(3)], 1)  # members' counts in each draw
    assert (per_draw != 10).any()  # not always 10 / 10 / 10, as an exact split would give
    for m in range(3):
        assert ((picks == m).any(0)).all()  # every member served every row at least once

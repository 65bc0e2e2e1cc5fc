"""bf16 matrix units (plan_precision, train_precision, value_precision): the fast path against the
plain fp32 path on the same networks, inputs and seeds. Agents built here for bf16 set force_bf16, so
that the bf16 arithmetic is tested also on CPUs that only emulate it (where bf16 would fall back to
fp32; tests/test_hardware.py tests that decision)."""
import dataclasses

import numpy as np
import pytest
import torch

from goplan import make_config
from goplan.agents.goplan import GOPlanAgent
from goplan.data.collect import collect
from goplan.errors import ConfigError
from goplan.evaluation import evaluate
from goplan.reanalysis import inter_reanalysis, intra_reanalysis

SIZES = {"pretrain_updates": 1500, "hidden_dim": 128, "dynamics_hidden_dim": 128, "finetune_rounds": 0}


@pytest.fixture(scope="module")
def reach_data():
    return collect("PointReach", episodes=200, seed=0, progress=False)


@pytest.fixture(scope="module")
def agent(reach_data):
    torch.manual_seed(0)
    a = GOPlanAgent("PointReach", make_config("tiny", SIZES), device="cpu")
    a.fit(reach_data, progress=False)
    return a


def _with_precision(agent, precision):
    agent.planner.settings = dataclasses.replace(agent.planner.settings, precision=precision)


def _plan_both(agent, fn):
    out = {}
    for precision in ("fp32", "bf16"):
        _with_precision(agent, precision)
        torch.manual_seed(11)
        out[precision] = fn()
    _with_precision(agent, "fp32")
    return out["fp32"], out["bf16"]


def test_bf16_planning_tracks_fp32(agent):
    d = agent.data
    s = agent.state_norm(d.observations[:64, 0])
    g = d.achieved_goals[torch.arange(64).roll(1), -1]
    (first32, ret32), (first16, ret16) = _plan_both(agent, lambda: agent.planner.candidate_returns(s, g))
    assert first16.dtype == torch.bfloat16  # the fast path really ran in bf16
    torch.testing.assert_close(first16.float(), first32, atol=0.03, rtol=0)
    # imagined returns count steps within eps of the goal: rounding may move a borderline step only
    assert (ret16 - ret32).abs().mean() < 0.5, (ret16 - ret32).abs().mean()
    plan32, plan16 = _plan_both(agent, lambda: agent.planner.plan(s, g))
    assert plan16.dtype == torch.float32
    assert (plan16 - plan32).abs().mean() < 0.05, (plan16 - plan32).abs().mean()


def test_bf16_test_time_planning_returns_match_fp32(agent):
    r32, r16 = _plan_both(agent, lambda: evaluate(agent, episodes=30, mode="plan", seed=5)["return_mean"])
    assert r32 > 20, r32  # the agent reaches goals, so the comparison means something
    assert abs(r16 - r32) < 3.0, (r32, r16)


def test_bf16_reanalysis_case_fractions_match_fp32(agent):
    ctx = agent.reanalysis_context()
    intra32, intra16 = _plan_both(agent, lambda: intra_reanalysis(ctx, 128)[1])
    inter32, inter16 = _plan_both(agent, lambda: inter_reanalysis(ctx, 64)[1])
    assert intra32["a1"] > 0.2 and inter32["b1"] > 0.2  # cases that depend on the plans occur
    for k in intra32:
        assert abs(intra32[k] - intra16[k]) <= 0.1, (k, intra32, intra16)
    for k in inter32:
        assert abs(inter32[k] - inter16[k]) <= 0.1, (k, inter32, inter16)


def _one_update(agent, precision, batch):
    torch.manual_seed(3)
    cfg = dataclasses.replace(agent.cfg, train_precision=precision, value_precision=precision, force_bf16=True)
    fresh = GOPlanAgent("PointReach", cfg, device="cpu")
    tensors, meta = agent.state_tensors()
    fresh.load_state(tensors, meta)
    before = {k: v.clone() for k, v in fresh.policy.state_dict().items()}
    torch.manual_seed(4)
    metrics = fresh.update(*batch, train_dynamics=True)
    delta = torch.cat([(v - before[k]).flatten() for k, v in fresh.policy.state_dict().items() if v.is_floating_point()])
    return metrics, delta


def test_bf16_update_matches_fp32_step(agent):
    torch.manual_seed(2)
    batch = agent.sample_offline(256)
    m32, d32 = _one_update(agent, "fp32", batch)
    m16, d16 = _one_update(agent, "bf16", batch)
    for key in ("dynamics_loss", "disc_loss", "gen_loss", "value_loss", "weight"):
        assert torch.isfinite(m16[key])
        torch.testing.assert_close(m16[key], m32[key], rtol=0.05, atol=1e-3)
    assert torch.nn.functional.cosine_similarity(d16, d32, dim=0) > 0.9  # the step goes the same way


def test_bf16_saturated_discriminator_keeps_finite_losses(agent):
    """In bf16, 1 - 1e-4 rounds to 1: the clip must happen in fp32 or log(1 - D) is -inf."""
    cfg = dataclasses.replace(agent.cfg, train_precision="bf16", force_bf16=True)
    a = GOPlanAgent("PointReach", cfg, device="cpu")
    a.data, a.desired_goals = agent.data, agent.desired_goals
    a.state_norm.load_state_dict(agent.state_norm.state_dict())
    a.goal_norm.load_state_dict(agent.goal_norm.state_dict())
    with torch.no_grad():
        a.discriminator.net[-1].bias.fill_(30.0)  # D = 1 - clip everywhere
    metrics = a.update(*a.sample_offline(64), train_dynamics=False)
    assert torch.isfinite(metrics["gen_loss"]) and torch.isfinite(metrics["disc_loss"])
    assert metrics["gen_loss"].item() == pytest.approx(torch.log(torch.tensor(1e-4)).item(), rel=1e-3)


def test_bf16_training_learns(reach_data):
    torch.manual_seed(0)
    a = GOPlanAgent("PointReach", make_config("tiny", {**SIZES, "train_precision": "bf16", "plan_precision": "bf16",
                                                        "value_precision": "bf16", "force_bf16": True}), device="cpu")
    assert (a.cfg.train_precision, a.cfg.plan_precision, a.cfg.value_precision) == ("bf16",) * 3
    a.set_dataset(reach_data)
    before = evaluate(a, episodes=50, seed=7)["return_mean"]
    a.fit(progress=False)
    after = evaluate(a, episodes=50, seed=7)["return_mean"]
    assert after > before + 20, (before, after)  # fp32 with these settings: 1.2 -> 47.1


def test_bf16_value_hidden_layers_keep_fp32_resolution(agent):
    """value_precision=bf16 runs the hidden layers in bf16 but the output layer in fp32. V near 1 then
    is not rounded to bf16's grid there (2^-8 apart; beta = 60 turns half of that into a 12 % change
    of the advantage weight), and V and the weights stay closer to fp32 than an all-bf16 network's."""
    from goplan.models.cgan import advantage_weight
    from goplan.models.precision import matmul_precision

    torch.manual_seed(5)
    s, _, s_next, g = agent.sample_offline(2048)
    sn, sn_next, gn = agent.state_norm(s), agent.state_norm(s_next), agent.goal_norm(g)
    r, c, cpu = agent.task.reward(agent.task.phi(s_next), g), agent.cfg, torch.device("cpu")
    values = {}
    with torch.no_grad():
        for precision in ("fp32", "bf16"):
            with matmul_precision(cpu, precision):
                values[precision] = (agent.value(sn, gn), agent.value(sn_next, gn))
        with matmul_precision(cpu, "bf16"):  # the whole network in bf16, output included
            values["all"] = tuple(agent.value.net(torch.cat([x, gn], -1)).float().squeeze(-1) for x in (sn, sn_next))
        target = agent.value.target_value(sn_next, gn)
        with matmul_precision(cpu, "bf16"):
            target16 = agent.value.target_value(sn_next, gn)
    v32, v16 = values["fp32"][0], values["bf16"][0]
    assert v16.dtype == torch.float32 and target16.dtype == torch.float32
    near_one = v32 > 0.5
    assert near_one.sum() > 1000, "the fitted value function should be near 1 on most samples"
    assert (v16[near_one] == v16[near_one].bfloat16().float()).float().mean() < 0.1  # off bf16's grid
    assert (values["all"][0][near_one] == values["all"][0][near_one].bfloat16().float()).all()
    err16, err_all = (v16 - v32).abs().median(), (values["all"][0] - v32).abs().median()
    assert err16 < 0.75 * err_all and (target16 - target).abs().max() < 2.0 ** -7
    w32, _ = advantage_weight(r, *values["fp32"], c.gamma, c.beta, c.weight_clip)
    w16, _ = advantage_weight(r, *values["bf16"], c.gamma, c.beta, c.weight_clip)
    assert ((w16 - w32).abs() / w32).median() < 0.05  # measured 0.037 here (hidden 128; 0.016 at 512)


def test_cpu_planner_batch_follows_plan_precision():
    """bf16 rows take half the bytes, so on CPU the planner batches plan_cpu_max_rows_bf16 rows in bf16
    and plan_cpu_max_rows in fp32; agent.plan and reanalysis use that planner."""
    for precision, rows in (("fp32", 600), ("bf16", 1200)):
        cfg = make_config("tiny", {"plan_precision": precision, "force_bf16": True, "plan_cpu_max_rows": 600,
                                   "plan_cpu_max_rows_bf16": 1200})
        agent = GOPlanAgent("PointReach", cfg, device="cpu")
        assert agent.planner.settings.max_rows == rows
        assert agent.reanalysis_context().planner.settings.max_rows == rows


@pytest.mark.parametrize("name", ["plan_precision", "train_precision", "value_precision"])
def test_unknown_precision_is_refused(name):
    with pytest.raises(ConfigError, match=f"^{name} must be one of fp32, bf16, auto, got 'fp16'$"):
        make_config("tiny", [f"{name}=fp16"])


def test_fused_adam_gives_the_same_update_as_torch_default(reach_data):
    """fused_adam changes how Adam runs, not what it computes: the same run, digit for digit up to
    float rounding, with either implementation."""
    runs, actions = {}, {}
    s, g = reach_data.observations[:50, 0], reach_data.achieved_goals[:50, -1]
    for fused in (True, False):
        torch.manual_seed(0)
        a = GOPlanAgent("PointReach", make_config("tiny", {"pretrain_updates": 30, "fused_adam": fused,
                                                            "finetune_rounds": 0}), device="cpu")
        a.fit(reach_data, progress=False)
        runs[fused] = {k: v for k, v in a.state_tensors()[0].items() if not k.startswith(("rng", "policy_opt.state"))}
        assert a.policy_opt.param_groups[0]["fused"] is (True if fused else None)
        actions[fused] = a.act(s, g)
    # measured: 2.9e-4 apart after 30 updates (1.9e-6 after one)
    np.testing.assert_allclose(actions[True], actions[False], atol=2e-3)
    # the biases of the policy's linear layers that feed a batch norm get gradients of ~1e-9 (the
    # normalisation cancels them), so Adam's step there is rounding noise in either implementation,
    # and the batch norms' running means follow those biases
    cancelled = ("policy.net.0.bias", "policy.net.3.bias", "policy.net.1.running_mean", "policy.net.4.running_mean")
    for key, value in runs[True].items():
        if value.is_floating_point() and key not in cancelled:
            torch.testing.assert_close(value, runs[False][key], rtol=1e-4, atol=1e-5, msg=key)

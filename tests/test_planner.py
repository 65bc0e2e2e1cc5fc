"""The batched planner (Algorithm 2) on toys whose right answer is known."""
import pytest
import torch

from toys import ToyEnsemble, ToyPolicy, make_planner


def test_planner_prefers_the_mode_that_reaches_the_goal():
    torch.manual_seed(0)
    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    s = torch.zeros(1, 2)
    g = torch.tensor([[3.0, 0.0]])
    first, returns = planner.candidate_returns(s, g)
    right = first[0, :, 0] > 0
    assert right.any() and (~right).any(), "both modes must be sampled for the test to mean anything"
    # +x reaches x=3 after 3 steps and stays: 1 (s1) + 8 rollout steps, rewards from step 2 on
    assert torch.all(returns[0, right] == 7)
    assert torch.all(returns[0, ~right] == 0)
    action = planner.plan(s, g)
    assert action[0, 0] > 0.99  # exp(kappa R) weights: the left candidates get ~e^-14 of the weight
    # and the mirrored goal gives the mirrored choice
    assert planner.plan(s, -g)[0, 0] < -0.99


def test_planner_batches_many_states_independently():
    torch.manual_seed(1)
    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    b = 64
    s = torch.zeros(b, 2)
    side = torch.where(torch.arange(b) % 2 == 0, 1.0, -1.0)
    g = torch.stack([3.0 * side, torch.zeros(b)], dim=1)
    actions = planner.plan(s, g)
    assert actions.shape == (b, 2)
    assert torch.all(torch.sign(actions[:, 0]) == side)


def test_equal_returns_average_the_candidates():
    """With no candidate reaching the goal every weight is equal: the output is the candidates' mean."""
    torch.manual_seed(2)
    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble(), horizon=1)
    s = torch.zeros(1, 2)
    g = torch.tensor([[50.0, 0.0]])
    torch.manual_seed(3)
    first, returns = planner.candidate_returns(s, g)
    assert torch.all(returns == 0)
    torch.manual_seed(3)
    action = planner.plan(s, g)
    torch.testing.assert_close(action, first.mean(dim=1))


def test_rewards_use_raw_goal_space():
    """The planner un-normalises states before comparing with the (raw) goal and the task's eps."""
    torch.manual_seed(4)
    planner = make_planner(ToyPolicy("still"), ToyEnsemble(), horizon=2)
    planner.state_norm.mean.fill_(10.0)  # raw = norm * 2 + 10
    planner.state_norm.std.fill_(2.0)
    s_norm = torch.zeros(1, 2)  # raw (10, 10)
    _, near = planner.candidate_returns(s_norm, torch.tensor([[10.3, 10.0]]))
    _, far = planner.candidate_returns(s_norm, torch.tensor([[0.3, 0.0]]))  # near in normalised space only
    assert torch.all(near == 3) and torch.all(far == 0)


def test_chunked_planning_equals_one_batch():
    """Planning in cache-sized batches (CPU) gives the same actions as one batch, given the same noise."""
    from goplan.planner import PlannerSettings

    whole = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    chunked = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    chunked.settings = PlannerSettings(candidates=20, copies=10, horizon=8, kappa=2.0, noise_dim=4,
                                       max_rows=3 * 200)
    s = torch.zeros(10, 2)
    g = torch.stack([torch.linspace(-3, 3, 10), torch.zeros(10)], dim=1)
    torch.manual_seed(0)
    a = whole.plan(s, g)
    torch.manual_seed(0)
    b = chunked.plan(s, g)
    # the noise is drawn per batch, so individual samples differ; the decisions (signs) must agree
    assert torch.equal(torch.sign(a[:, 0]), torch.sign(b[:, 0]))
    assert b.shape == (10, 2)


# ---- test-time planning from CUDA graphs (goplan/planner/graphs.py); the CUDA tests run where a GPU is
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def test_plan_graphed_off_cuda_is_the_eager_plan():
    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    s, g = torch.zeros(3, 2), torch.tensor([[50.0, 0.0]] * 3)  # no candidate reaches: the mean of signs
    torch.manual_seed(5)
    eager = planner.plan(s, g)
    torch.manual_seed(5)
    torch.testing.assert_close(planner.plan_graphed(s, g), eager, rtol=0, atol=0)
    assert planner._graphs is None  # nothing was captured on the CPU


def _cuda_toy_planner(**kw):
    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble(), **kw)
    planner.state_norm.cuda(), planner.goal_norm.cuda()
    return planner


@needs_cuda
def test_graphed_planner_prefers_the_mode_that_reaches_the_goal():
    planner = _cuda_toy_planner()
    s, g = torch.zeros(1, 2, device="cuda"), torch.tensor([[3.0, 0.0]], device="cuda")
    assert planner.plan_graphed(s, g)[0, 0] > 0.99
    assert planner.plan_graphed(s, -g)[0, 0] < -0.99  # same graph, new inputs copied in
    assert planner._graphs.failed is None and len(planner._graphs.graphs) == 1


@needs_cuda
def test_graphed_planner_draws_fresh_random_numbers_at_every_replay():
    """Far goal: every return is 0, the plan is the mean of the candidates' random signs. A graph that
    froze its random numbers at capture would return the same action every time."""
    planner = _cuda_toy_planner(horizon=1)
    s, g = torch.zeros(1, 2, device="cuda"), torch.tensor([[50.0, 0.0]], device="cuda")
    outs = torch.stack([planner.plan_graphed(s, g)[0, 0] for _ in range(8)])
    assert planner._graphs.failed is None
    assert outs.unique().numel() > 1
    assert outs.abs().max() <= 1.0


@needs_cuda
def test_graphed_plan_equals_eager_plan_and_follows_weight_updates():
    """With the policy's noise input zeroed and all ensemble members equal, Algorithm 2 is deterministic:
    the graph must give the eager result, and after an in-place weight change the new eager result."""
    from goplan import GOPlanAgent, make_config

    agent = GOPlanAgent("PointReach", make_config("tiny", {"device": "cuda"}))
    first = agent.policy.net[0]
    with torch.no_grad():
        first.weight[:, -agent.cfg.noise_dim:] = 0.0  # pi ignores z
        for layer in agent.dynamics.net.layers:  # every member = member 0
            layer.weight.copy_(layer.weight[:1].expand_as(layer.weight))
            layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(6, agent.task.obs_dim, generator=gen).cuda()
    g = torch.randn(6, agent.task.goal_dim, generator=gen).cuda()
    eager = agent.planner.plan(s, g)
    torch.testing.assert_close(agent.planner.plan_graphed(s, g), eager, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        agent.policy.net[-1].bias.add_(0.3)  # what an optimiser step or load_state_dict does: in place
    eager_after = agent.planner.plan(s, g)
    assert (eager_after - eager).abs().max() > 1e-3
    torch.testing.assert_close(agent.planner.plan_graphed(s, g), eager_after, rtol=1e-5, atol=1e-5)
    assert agent.planner._graphs.failed is None


def test_failed_capture_falls_back_to_eager_and_says_so_once():
    """Capture cannot work on CPU tensors: GraphedPlans must warn once, then plan eagerly every time."""
    import warnings

    from goplan.planner.graphs import GraphedPlans

    planner = make_planner(ToyPolicy("two_modes"), ToyEnsemble())
    graphed = GraphedPlans(planner)
    s, g = torch.zeros(1, 2), torch.tensor([[3.0, 0.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = graphed(s, g)
        second = graphed(s, -g)
    assert len([w for w in caught if "planning eagerly" in str(w.message)]) == 1
    assert graphed.failed is not None and "\n" not in graphed.failed
    assert first[0, 0] > 0.99 and second[0, 0] < -0.99  # the eager planner's answers


def test_settings_are_given_by_keyword():
    """Settings objects refuse positional fields: a reordered field cannot silently change a plan."""
    from goplan.planner import Planner, PlannerSettings
    from goplan.reanalysis import ReanalysisContext, ReanalysisSettings

    for positional in (lambda: PlannerSettings(20, 10, 8, 2.0, 4), lambda: ReanalysisSettings(0.1, "mean"),
                       lambda: Planner(ToyPolicy("still"), ToyEnsemble()), lambda: ReanalysisContext(None)):
        with pytest.raises(TypeError):
            positional()

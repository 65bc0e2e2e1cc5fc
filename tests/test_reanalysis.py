"""Intra- and inter-trajectory reanalysis: each of the six cases stores what Section 4.2 says."""
import torch

from goplan.reanalysis import INTER_CASES, INTRA_CASES, inter_pairs, inter_reanalysis, intra_reanalysis, intra_segments
from toys import ToyEnsemble, ToyPolicy, line_trajectory, make_context, make_planner

# a detour: up the y axis and back down, then right; s_0 = (0, 0), s_10 = (0, 0) + 2 right ...
DETOUR = [(0.0, float(y)) for y in range(0, 5)] + [(0.0, float(y)) for y in range(3, -1, -1)] + \
         [(float(x), 0.0) for x in range(1, 4)]  # 12 states, 11 steps


def seg(*values):
    return torch.tensor(values, dtype=torch.long)


def test_intra_a1_stores_the_shorter_imagined_segment():
    obs, act = line_trajectory(DETOUR)
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act)
    trans, case = intra_segments(ctx, seg(0), seg(0), seg(11))  # s_0 -> s_11 = (3, 0): 11 steps in the data
    assert case.tolist() == [0]  # a-1
    n = trans["states"].shape[0]
    assert 1 <= n < 11  # the straight line reaches (within eps 0.5) in 3 steps
    assert n == 3
    torch.testing.assert_close(trans["states"][0], obs[0, 0])
    torch.testing.assert_close(trans["next_states"][0], torch.tensor([1.0, 0.0]))  # imagined, not the data's (0, 1)
    assert torch.all(trans["goals"] == obs[0, 11])
    assert torch.linalg.vector_norm(trans["next_states"][-1] - obs[0, 11]) <= 0.5
    assert trans["lengths"].tolist() == [3, 3, 3]  # each step knows its trajectory's length


def test_intra_a3_stores_the_original_segment_when_uncertain():
    obs, act = line_trajectory(DETOUR)
    ens = ToyEnsemble(disagree_x=-1.0)  # every state is uncertain
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act, threshold=0.1)
    trans, case = intra_segments(ctx, seg(0), seg(2), seg(9))
    assert case.tolist() == [2]  # a-3
    torch.testing.assert_close(trans["states"], obs[0, 2:11])
    torch.testing.assert_close(trans["next_states"], obs[0, 3:12])
    torch.testing.assert_close(trans["actions"], act[0, 2:11])
    assert torch.all(trans["goals"] == obs[0, 11])


def test_intra_a2_stores_the_original_segment_when_not_reached():
    obs, act = line_trajectory(DETOUR)
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("still"), ens), ens, obs, act)
    trans, case = intra_segments(ctx, seg(0, 0), seg(0, 8), seg(11, 3))
    assert case.tolist() == [1, 1]  # a-2 for both
    assert trans["states"].shape[0] == 11 + 3
    torch.testing.assert_close(trans["states"][:11], obs[0, :11])
    torch.testing.assert_close(trans["states"][11:], obs[0, 8:11])
    assert trans["lengths"].tolist() == [11] * 11 + [3] * 3


def test_intra_uncertainty_threshold_is_a_threshold():
    """The same rollout is a-1 under a loose threshold and a-3 under a strict one (Eq. 4 = 1 here)."""
    obs, act = line_trajectory(DETOUR)
    ens = ToyEnsemble(disagree_x=0.5, spread=1.0)  # uncertain once x > 0.5
    for threshold, expect in ((1.05, 0), (0.95, 2)):
        ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act, threshold=threshold)
        _, case = intra_segments(ctx, seg(0), seg(0), seg(11))
        assert case.tolist() == [expect]


def two_trajectories():
    a, _ = line_trajectory([(0.0, float(y)) for y in range(11)])  # up the y axis
    b, _ = line_trajectory([(float(x), 0.0) for x in range(11)])  # along the x axis
    obs = torch.cat([a, b])
    return obs, obs[:, 1:] - obs[:, :-1]


def test_inter_b1_stores_the_imagined_path_to_the_other_trajectory():
    obs, act = two_trajectories()
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act)
    trans, case = inter_pairs(ctx, seg(0), seg(3), seg(1), seg(4))  # (0, 3) -> (4, 0)
    assert case.tolist() == [0]
    assert torch.all(trans["goals"] == torch.tensor([4.0, 0.0]))
    assert trans["states"].shape[0] == 5  # distance 5 at unit speed
    torch.testing.assert_close(trans["states"][0], torch.tensor([0.0, 3.0]))


def test_inter_b2_relabels_the_goal_to_what_was_achieved():
    obs, act = two_trajectories()
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("still"), ens), ens, obs, act)
    trans, case = inter_pairs(ctx, seg(0), seg(3), seg(1), seg(9))
    assert case.tolist() == [1]  # b-2: low uncertainty, never reached
    assert trans["states"].shape[0] == 10  # the full horizon T
    assert torch.all(trans["goals"] == torch.tensor([0.0, 3.0]))  # hindsight: the imagined end state
    assert not torch.any(torch.all(trans["goals"] == torch.tensor([9.0, 0.0]), dim=-1))


def test_inter_b3_discards_uncertain_trajectories():
    obs, act = two_trajectories()
    ens = ToyEnsemble(disagree_x=0.5)
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act, threshold=0.1)
    trans, case = inter_pairs(ctx, seg(0, 0), seg(3, 3), seg(1, 1), seg(9, 0))
    # toward (9, 0): crosses x > 0.5 and is discarded; toward (0, 0): stays at x = 0 and is stored
    assert case.tolist() == [2, 0]
    assert torch.all(trans["goals"] == torch.tensor([0.0, 0.0]))
    assert trans["states"].shape[0] == 3


def test_batched_rounds_report_case_fractions():
    obs, act = line_trajectory(DETOUR)
    obs = obs.repeat(4, 1, 1)
    act = act.repeat(4, 1, 1)
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act)
    torch.manual_seed(0)
    trans, frac = intra_reanalysis(ctx, 200)
    assert set(frac) == set(INTRA_CASES) and abs(sum(frac.values()) - 1) < 1e-9
    assert frac["a1"] > 0.3 and frac["a2"] > 0 and frac["a3"] == 0
    trans, frac = inter_reanalysis(ctx, 100)
    assert set(frac) == set(INTER_CASES) and abs(sum(frac.values()) - 1) < 1e-9
    assert frac["b1"] > 0.9  # the straight policy reaches every goal on the detour within 11 steps


def test_samples_whose_start_already_reaches_the_goal_are_redrawn(monkeypatch):
    """With skip_solved (the reference's sampling), segments solved before any step are redrawn."""
    from goplan.reanalysis import reanalyse

    still, _ = line_trajectory([(0.0, 0.0)] * 12)  # a trajectory that never moves: every segment trivial
    moving, _ = line_trajectory(DETOUR)
    obs = torch.cat([still, moving])
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, obs[:, 1:] - obs[:, :-1])
    ctx.settings.skip_solved = True

    def trivial_rows(redraws):
        monkeypatch.setattr(reanalyse, "MAX_REDRAWS", redraws)
        torch.manual_seed(0)
        trans, case = reanalyse._intra_chunk(ctx, 200)
        assert case.numel() == 200
        # stored transitions that start on the still point with that same point as goal
        return int((torch.all(trans["states"] == 0, dim=-1) & torch.all(trans["goals"] == 0, dim=-1)).sum())

    assert trivial_rows(0) > 60  # about half the draws fall on the still trajectory
    assert trivial_rows(10) <= 2  # 0.5^10 of them survive ten redraws


def test_inter_goals_can_come_from_the_desired_goals():
    """inter_goal=desired (the reference implementation's choice) plans toward the dataset's desired
    goals: here they sit at (50, 50), out of reach, so every pair is relabelled (b-2); the achieved
    goals of the same data are all reached (b-1)."""
    obs, act = two_trajectories()
    ens = ToyEnsemble()
    ctx = make_context(make_planner(ToyPolicy("straight"), ens), ens, obs, act)
    torch.manual_seed(0)
    trans, frac = inter_reanalysis(ctx, 50)
    assert frac["b1"] > 0.5
    ctx.desired_goals = torch.full((2, 10, 2), 50.0)
    trans, frac = inter_reanalysis(ctx, 50)
    assert frac["b2"] == 1.0
    assert trans["states"].shape[0] == 50 * 10  # every pair ran the full horizon T

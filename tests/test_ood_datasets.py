"""IID regions of the OOD groups (SPEC section 7) and an OOD dataset collected through them."""
import numpy as np
import pytest

from goplan.data.ood import OOD_GROUPS, IIDRegion, group_by_alias, group_of_task
from goplan.errors import ConfigError, DatasetError
from goplan.tasks import task_names

ORIGIN = (1.3, 0.75, 0.42)
NEAR_RADIUS = 0.15
LOW_TOP = 0.6
STEPS = 51
INSIDE = {  # a point inside each region, and a step that leaves it
    "right": ((1.3, 0.80, 0.42), (1.3, 0.74, 0.42)),
    "near": ((1.4, 0.80, 0.42), (1.3, 0.75 + NEAR_RADIUS + 0.01, 0.42)),
    "low": ((1.3, 0.75, 0.50), (1.3, 0.75, LOW_TOP + 0.01)),
}


def trajectories(kind: str) -> np.ndarray:
    """4 trajectories: stays inside; leaves at step 0; leaves in the middle; leaves at the last step."""
    inside, outside = (np.asarray(p) for p in INSIDE[kind])
    ag = np.broadcast_to(inside, (4, STEPS, 3)).copy()
    ag[1, 0] = outside
    ag[2, STEPS // 2] = outside
    ag[3, -1] = outside
    return ag


@pytest.mark.parametrize("kind", sorted(INSIDE))
def test_region_keeps_only_trajectories_that_stay_inside(kind):
    region = IIDRegion(kind, ORIGIN, near_radius=NEAR_RADIUS, low_top=LOW_TOP)
    np.testing.assert_array_equal(region(trajectories(kind)), [True, False, False, False])


def test_region_boundaries():
    right = IIDRegion("right", ORIGIN, NEAR_RADIUS, LOW_TOP)
    near = IIDRegion("near", ORIGIN, NEAR_RADIUS, LOW_TOP)
    low = IIDRegion("low", ORIGIN, NEAR_RADIUS, LOW_TOP)
    on_line = np.asarray([ORIGIN])
    assert not right.inside(on_line)[0]  # strictly right of the gripper
    assert near.inside(on_line + [NEAR_RADIUS * 0.999, 0, 0])[0] and not near.inside(on_line + [0, 0.16, 0])[0]
    assert near.inside(on_line + [0, 0, 5.0])[0]  # Near looks at xy only
    assert low.inside([[0, 0, LOW_TOP - 1e-3]])[0] and not low.inside([[0, 0, LOW_TOP]])[0]


def test_bad_region_inputs():
    with pytest.raises(ConfigError):
        IIDRegion("up", ORIGIN, NEAR_RADIUS, LOW_TOP)
    region = IIDRegion("low", ORIGIN, NEAR_RADIUS, LOW_TOP)
    with pytest.raises(DatasetError):
        region(np.zeros((2, STEPS, 2)))
    with pytest.raises(DatasetError):
        region(np.zeros((STEPS, 3)))


def test_groups_match_the_registry():
    names = set(task_names())
    for group in OOD_GROUPS:
        assert group.iid_task in group.tasks and set(group.tasks) <= names
        assert group_by_alias(group.alias) is group and group_of_task(group.iid_task) is group
    covered = {t for g in OOD_GROUPS for t in g.tasks}
    assert covered == {n for n in names if "OOD" in n}


def test_regions_use_the_tasks_initial_gripper():
    pytest.importorskip("gymnasium_robotics")
    from goplan.tasks import fetch

    push = group_by_alias("FetchPushOOD-LeftRight").iid_region()
    assert push.origin == pytest.approx(fetch.GRIP0_PUSH_OOD) and push.kind == "right"
    assert group_by_alias("FetchPickOOD-LowHigh").iid_region().low_top == fetch.PICK_LOW_TOP
    assert group_by_alias("FetchPushOOD-NearFar").iid_region().near_radius == fetch.NEAR_RADII[1]


def test_fetch_push_ood_dataset_is_iid_only(tmp_path):
    pytest.importorskip("mujoco")
    pytest.importorskip("gymnasium_robotics")
    from goplan.data.collect import collect_to_file

    wanted, chunk = 6, 4
    ds = collect_to_file("FetchPushOOD-LeftRight", tmp_path / "push.npz", episodes=wanted, chunk_episodes=chunk,
                         workers=1, progress=False)
    region = group_by_alias("FetchPushOOD-LeftRight").iid_region()
    assert ds.num_episodes == wanted and region(ds.achieved_goals).all()
    card = ds.card
    assert card["task"] == "FetchPushOOD-Right2Right" and card["ood_group"] == "Push Left-Right"
    assert card["rolled_out_episodes"] >= wanted and card["keep_filter"] == region.describe()

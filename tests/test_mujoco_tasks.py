"""MuJoCo benchmark tasks: registration, environments, rewards, OOD regions, check_env, collection, policies.

Skipped as a whole when mujoco or gymnasium_robotics is missing; the Sawyer tests also need metaworld.
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("gymnasium_robotics")

import gymnasium  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from goplan.data.collect import collect  # noqa: E402
from goplan.tasks import get_task, task_names  # noqa: E402

try:
    import metaworld  # noqa: F401

    HAVE_METAWORLD = True
except ImportError:
    HAVE_METAWORLD = False

SIDES = ("Right", "Left")
FETCH = ["FetchReach", "FetchPush", "FetchPick", "FetchSlide"]
NOISY = ["FetchReachNoise-0.5", "FetchReachNoise-1.0", "FetchReachNoise-1.5"]
PUSH_OOD = [f"FetchPushOOD-{a}2{b}" for a in SIDES for b in SIDES] + [
    f"FetchPushOOD-{a}2{b}" for a in ("Near", "Far") for b in ("Near", "Far")]
PICK_OOD = [f"FetchPickOOD-{a}2{b}" for a in SIDES for b in SIDES] + ["FetchPickOOD-Low2Low",
                                                                      "FetchPickOOD-Low2High"]
OTHER = ["HandReach", "Reacher"]
SAWYER = ["SawyerReach", "SawyerDoor"]
ALL = FETCH + NOISY + PUSH_OOD + PICK_OOD + OTHER + SAWYER
# (obs, goal, act, eps, goal_indices)
DIMS = {
    "FetchReach": (10, 3, 4, 0.05, (0, 1, 2)),
    "FetchPush": (25, 3, 4, 0.05, (3, 4, 5)),
    "HandReach": (63, 15, 20, 0.01, tuple(range(48, 63))),
    "Reacher": (10, 2, 2, 0.05, (8, 9)),
    "SawyerReach": (3, 3, 3, 0.05, (0, 1, 2)),
    "SawyerDoor": (4, 1, 3, 0.05, (3,)),
}
SETTLE_STEPS = 3
RANDOM_STEPS = 5
RESETS = 60  # resets per OOD task when checking its regions
TIE = 1e-6  # distances this close to eps may disagree (< versus <=)


def _needs(task):
    if task in SAWYER and not HAVE_METAWORLD:
        pytest.skip("metaworld is not installed")


def _dims(task):
    if task in DIMS:
        return DIMS[task]
    return DIMS["FetchReach"] if task.startswith("FetchReach") else DIMS["FetchPush"]


def test_every_benchmark_task_is_registered():
    names = set(task_names())
    assert set(ALL) <= names
    for task in ALL:
        spec = get_task(task)
        obs_dim, goal_dim, act_dim, eps, idx = _dims(task)
        assert (spec.obs_dim, spec.goal_dim, spec.act_dim) == (obs_dim, goal_dim, act_dim)
        assert spec.eps == eps and spec.goal_indices == idx and spec.max_steps == 50
        assert spec.gym_id == f"goplan/{task}-v0" and spec.gym_id in gymnasium.registry
        assert spec.make_vec_env and spec.behaviour_policy and spec.goal_sampler


def test_listing_tasks_imports_no_simulator():
    code = ("import sys, goplan; goplan.task_names(); goplan.get_task('FetchPush'); "
            "heavy = [m for m in ('mujoco', 'gymnasium_robotics', 'metaworld') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("task", ALL)
def test_reset_step_phi_and_reward(task):
    _needs(task)
    spec = get_task(task)
    n = 2
    env = spec.make_vec_env(n, seed=0)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(RANDOM_STEPS):
        for key, dim in (("observation", spec.obs_dim), ("achieved_goal", spec.goal_dim),
                         ("desired_goal", spec.goal_dim)):
            assert obs[key].shape == (n, dim) and obs[key].dtype == np.float32
            assert np.isfinite(obs[key]).all()
        np.testing.assert_array_equal(spec.phi(obs["observation"]), obs["achieved_goal"])
        obs, reward = env.step(rng.uniform(-1, 1, size=(n, spec.act_dim)))
        assert reward.shape == (n,)
        np.testing.assert_array_equal(reward, spec.reward(obs["achieved_goal"], obs["desired_goal"]))
    goals = spec.goal_sampler(5, rng)
    assert goals.shape == (5, spec.goal_dim) and np.isfinite(goals).all()


def test_reset_is_deterministic_for_a_seed():
    spec = get_task("FetchPush")
    env = spec.make_vec_env(3, seed=0)
    a, b = env.reset(seed=7), env.reset(seed=7)
    c = env.reset(seed=8)
    np.testing.assert_array_equal(a["desired_goal"], b["desired_goal"])
    assert not np.array_equal(a["desired_goal"], c["desired_goal"])
    assert len({tuple(g) for g in a["desired_goal"]}) == 3  # every episode gets its own seed


def _native_success(task, achieved, desired):
    """The Gymnasium-Robotics env's own success test (d < threshold)."""
    env = get_task(task).make_vec_env(1, seed=0).envs[0].core.env
    return np.array([env._is_success(a, d) for a, d in zip(achieved, desired)], dtype=np.float32)


@pytest.mark.parametrize("task", ["FetchReach", "FetchPush", "FetchPick", "FetchSlide", "HandReach"])
def test_reward_agrees_with_the_environments_success(task):
    spec = get_task(task)
    env = spec.make_vec_env(4, seed=1)
    obs = env.reset()
    rng = np.random.default_rng(1)
    states = []
    for _ in range(SETTLE_STEPS):
        obs, _ = env.step(rng.uniform(-1, 1, size=(4, spec.act_dim)))
        states.append(obs["observation"].astype(np.float64))
    states = np.concatenate(states)
    achieved = spec.phi(states)
    # desired goals at distances spread around eps in random directions
    direction = rng.normal(size=achieved.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = rng.uniform(0.0, 2.0 * spec.eps, size=(len(achieved), 1))
    desired = achieved + radius * direction
    ours = spec.reward(achieved, desired)
    theirs = _native_success(task, achieved, desired)
    clear = np.abs(np.linalg.norm(achieved - desired, axis=1) - spec.eps) > TIE
    assert 0 < ours.mean() < 1
    np.testing.assert_array_equal(ours[clear], theirs[clear])


@pytest.mark.parametrize("task", ["FetchReach", "FetchPush", "HandReach"])
def test_phi_equals_the_environments_achieved_goal(task):
    spec = get_task(task)
    genv = spec.make_vec_env(1, seed=0).envs[0]
    genv.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(RANDOM_STEPS):
        genv.advance(rng.uniform(-1, 1, size=spec.act_dim))
        native = genv.core.env._get_obs()
        np.testing.assert_array_equal(spec.phi(native["observation"]), native["achieved_goal"])


def test_reacher_phi_is_the_fingertip():
    spec = get_task("Reacher")
    genv = spec.make_vec_env(1, seed=0).envs[0]
    genv.reset(seed=0)
    obs, ag, dg = genv.advance(np.array([0.5, -0.5]))
    tip = genv.core.env.get_body_com("fingertip")[:2]
    np.testing.assert_allclose(ag, tip, atol=1e-6)
    np.testing.assert_allclose(dg, genv.core.env.data.qpos[2:4], atol=1e-6)  # the target is the goal
    assert np.linalg.norm(dg) <= 0.2 + 1e-6


@pytest.mark.skipif(not HAVE_METAWORLD, reason="metaworld is not installed")
def test_sawyer_phi_is_hand_and_door_angle():
    reach = get_task("SawyerReach").make_vec_env(1, seed=0).envs[0]
    reach.reset(seed=0)
    _, ag, _ = reach.advance(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(ag, reach.core.data.body("hand").xpos, atol=1e-6)
    door = get_task("SawyerDoor").make_vec_env(1, seed=0).envs[0]
    door.reset(seed=0)
    _, ag, _ = door.advance(np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(ag, [-door.core.data.joint("doorjoint").qpos[0]], atol=1e-6)


def test_layout_constants_match_the_environments():
    from goplan.tasks.fetch import LAYOUTS

    for task in FETCH + ["FetchPushOOD-Near2Far"]:
        layout = LAYOUTS[task]
        env = get_task(task).make_vec_env(1, seed=0).envs[0].core.env
        np.testing.assert_allclose(env.initial_gripper_xpos, layout.grip0, atol=1e-6)
        if env.has_object:
            assert env.height_offset == pytest.approx(layout.table_z, abs=1e-6)
    from goplan.tasks.hand import INITIAL_FINGERTIPS, PALM_XPOS

    hand = get_task("HandReach").make_vec_env(1, seed=0).envs[0].core.env
    np.testing.assert_allclose(hand.initial_goal.reshape(5, 3), INITIAL_FINGERTIPS, atol=1e-6)
    np.testing.assert_allclose(hand.palm_xpos, PALM_XPOS, atol=1e-6)


def _region_ok(name, xy, grip_xy):
    off = xy - grip_xy
    radius = np.linalg.norm(off, axis=-1)
    return {
        "Right": off[..., 1] >= 0, "Left": off[..., 1] <= 0,
        "Near": radius <= 0.15 + 1e-6, "Far": (radius >= 0.15 - 1e-6) & (radius <= 0.3 + 1e-6),
    }[name]


@pytest.mark.parametrize("task", PUSH_OOD + PICK_OOD)
def test_ood_tasks_start_and_place_goals_in_their_regions(task):
    from goplan.tasks.fetch import LAYOUTS

    layout = LAYOUTS[task]
    genv = get_task(task).make_vec_env(1, seed=0).envs[0]
    grip = np.asarray(layout.grip0)
    start_name, goal_name = task.split("-")[1].split("2")
    objs, goals = [], []
    for seed in range(RESETS):
        obs, ag, dg = genv.reset_arrays(seed)
        objs.append(ag.astype(np.float64))
        goals.append(dg.astype(np.float64))
    objs, goals = np.array(objs), np.array(goals)
    assert np.all(np.abs(objs[:, 2] - layout.table_z) < 1e-3)  # resting on the table
    if start_name in ("Low",):
        off = objs[:, :2] - grip[:2]
        assert np.all(np.abs(off) <= 0.15 + 1e-6) and np.all(np.linalg.norm(off, axis=1) >= 0.1 - 1e-6)
        lo, hi = (layout.table_z, 0.6) if goal_name == "Low" else (0.6, 0.9)
        assert np.all((goals[:, 2] >= lo - 1e-6) & (goals[:, 2] <= hi + 1e-6))
        assert goals[:, 2].max() - goals[:, 2].min() > 0.5 * (hi - lo)  # spread over the range
        return
    assert _region_ok(start_name, objs[:, :2], grip[:2]).all()
    assert _region_ok(goal_name, goals[:, :2], grip[:2]).all()
    if task.startswith("FetchPush"):
        assert np.all(np.abs(goals[:, 2] - layout.table_z) < 1e-6)
    else:
        assert np.all((goals[:, 2] >= layout.table_z - 1e-6) & (goals[:, 2] <= layout.table_z + 0.45 + 1e-6))
    # the goal sampler draws from the same regions
    sampled = get_task(task).goal_sampler(200, np.random.default_rng(0)).astype(np.float64)
    assert _region_ok(goal_name, sampled[:, :2], grip[:2]).all()


def test_noisy_reach_adds_action_noise():
    still = np.zeros((2, 4))
    clean = get_task("FetchReach").make_vec_env(2, seed=0)
    noisy = get_task("FetchReachNoise-1.5").make_vec_env(2, seed=0)
    o_clean, o_noisy = clean.reset(), noisy.reset()
    for _ in range(RANDOM_STEPS):
        o_clean, _ = clean.step(still)
        o_noisy, _ = noisy.step(still)
    drift = lambda o, o0: np.abs(o["achieved_goal"] - o0)  # noqa: E731
    start = clean.reset()["achieved_goal"]
    assert drift(o_clean, start).max() < 0.01
    assert drift(o_noisy, noisy.reset()["achieved_goal"]).max() > 0.02


@pytest.mark.parametrize("task", ALL)
def test_gymnasium_env_passes_check_env(task):
    _needs(task)
    env = gymnasium.make(get_task(task).gym_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"} and "is_success" in info
    steps = 0
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated and reward in (0.0, 1.0) and reward == float(info["is_success"])
        steps += 1
    assert steps == 50
    env.close()


@pytest.mark.parametrize("task", ALL)
def test_tiny_collection_is_a_valid_dataset(task):
    _needs(task)
    spec = get_task(task)
    ds = collect(task, 4, seed=0, progress=False)
    t = spec.max_steps
    assert ds.observations.shape == (4, t + 1, spec.obs_dim)
    assert ds.actions.shape == (4, t, spec.act_dim) and (np.abs(ds.actions) <= 1).all()
    np.testing.assert_array_equal(ds.achieved_goals, spec.phi(ds.observations))
    assert (ds.desired_goals == ds.desired_goals[:, :1]).all()
    assert ds.card["task"] == task and 0.0 <= ds.card["behaviour_success_rate"] <= 1.0


# (task, episodes, minimum noise-free success); 200-episode rates are in benchmarks/behaviour_success.py
POLICY_CHECKS = [
    ("FetchReach", 16, 0.9), ("FetchPush", 16, 0.8), ("FetchPick", 16, 0.8), ("FetchSlide", 16, 0.05),
    ("FetchPushOOD-Far2Far", 16, 0.75), ("FetchPickOOD-Low2High", 16, 0.8), ("HandReach", 16, 0.5),
    ("Reacher", 32, 0.9), ("SawyerReach", 32, 0.9), ("SawyerDoor", 32, 0.8),
]


@pytest.mark.parametrize("task,episodes,minimum", POLICY_CHECKS)
def test_behaviour_policy_succeeds(task, episodes, minimum):
    _needs(task)
    spec = get_task(task)
    env = spec.make_vec_env(episodes, seed=123)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(spec.max_steps):
        obs, _ = env.step(spec.behaviour_policy(obs, rng))
    success = spec.reward(obs["achieved_goal"], obs["desired_goal"]).mean()
    assert success >= minimum, f"{task}: {success:.2f} < {minimum}"


SLIDE_EPISODES = 64
SLIDE_MIN_SUCCESS = 0.7  # 200-episode noise-free rates are in benchmarks/behaviour_success.py (about 0.85)
SLIDE_LAUNCH_DISTANCES = (0.1, 0.9)  # m, goal distances the glide model is checked over
SLIDE_LAUNCH_TOL = 0.005  # m, the launch velocity must glide (in the model) to within this of the goal
SLIDE_LAUNCH_CASES = 200
SLIDE_MIN_BEND = np.radians(1.0)  # some launch must point at least this far off the goal direction


def test_fetch_slide_policy_strikes_most_pucks_home():
    """FetchSlide's scripted strike: noise-free success well above the 0.70 aim, and a stateless, deterministic
    policy (the same observation gives the same action whatever the rng) with actions in the box."""
    spec = get_task("FetchSlide")
    env = spec.make_vec_env(SLIDE_EPISODES, seed=123)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(spec.max_steps):
        act = spec.behaviour_policy(obs, rng)
        assert act.shape == (SLIDE_EPISODES, spec.act_dim) and act.dtype == np.float32
        assert (np.abs(act) <= 1).all()
        np.testing.assert_array_equal(act, spec.behaviour_policy(obs, np.random.default_rng(1)))
        obs, _ = env.step(act)
    success = spec.reward(obs["achieved_goal"], obs["desired_goal"]).mean()
    assert success >= SLIDE_MIN_SUCCESS, f"FetchSlide: {success:.2f} < {SLIDE_MIN_SUCCESS}"


def test_puck_launch_velocity_glides_to_the_goal():
    """The launch velocity of the FetchSlide policy glides, in its own friction model, to the goal in any
    direction (fast pucks bend toward the diagonals, so it is not simply aimed at the goal)."""
    from goplan.tasks.fetch import puck_launch_velocity, puck_rest_point

    rng = np.random.default_rng(0)
    start = rng.uniform(-0.1, 0.1, size=(SLIDE_LAUNCH_CASES, 2))
    angle = rng.uniform(-np.pi, np.pi, SLIDE_LAUNCH_CASES)
    dist = rng.uniform(*SLIDE_LAUNCH_DISTANCES, SLIDE_LAUNCH_CASES)
    goal = start + dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    vel = puck_launch_velocity(start, goal)
    rest = puck_rest_point(start, vel)
    assert np.linalg.norm(rest - goal, axis=1).max() < SLIDE_LAUNCH_TOL
    # bent paths: the launch direction differs from the goal direction somewhere
    launch_angle = np.arctan2(vel[:, 1], vel[:, 0])
    assert np.abs((launch_angle - angle + np.pi) % (2 * np.pi) - np.pi).max() > SLIDE_MIN_BEND

"""PointReach / PointRooms: walls, sliding, rewards, Gymnasium API, behaviour policies."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from goplan.tasks import get_task
from goplan.tasks.point import (
    POS_LIMIT,
    PointGoalEnv,
    PointVecEnv,
    rooms_policy,
)

TASKS = ("PointReach", "PointRooms")
NUM_ENVS = 2000
RANDOM_STEPS = 150
BIG_ACTION = 3.0  # random actions far outside [-1, 1] exercise the clipping too
SLIDE_TOL = 1e-3  # bisection stops within 2^-12 of a wall
MIN_SUCCESS = 0.95


WALL_HALF_LENGTH, WALL_THICKNESS, BALL_RADIUS = 0.85, 0.3, 0.5  # SPEC section 6, stated independently
LONG, SHORT = WALL_HALF_LENGTH + BALL_RADIUS, WALL_THICKNESS / 2 + BALL_RADIUS


def blocked(p):
    """Independent statement of the PointRooms walls: the ball centre keeps its radius off them."""
    ax, ay = np.abs(p[..., 0]), np.abs(p[..., 1])
    return ((ax < LONG) & (ay < SHORT)) | ((ax < SHORT) & (ay < LONG))


def random_walk(seed, steps=RANDOM_STEPS, n=NUM_ENVS):
    """Positions (steps + 1, n, 2) of PointRooms balls pushed by large random actions."""
    rng = np.random.default_rng(seed)
    env = PointVecEnv(n, rooms=True, seed=seed)
    obs = env.reset()
    path = [obs["observation"]]
    for _ in range(steps):
        obs, _ = env.step(rng.uniform(-BIG_ACTION, BIG_ACTION, size=(n, 2)))
        path.append(obs["observation"])
    return np.stack(path)


def test_never_inside_a_wall_or_outside_the_arena():
    path = random_walk(seed=0)
    assert path.dtype == np.float32
    assert not blocked(path).any()
    assert (np.abs(path) <= POS_LIMIT).all()
    # the walk reaches the walls and the arena edge, so the check above is not vacuous
    assert ((np.abs(path[..., 0]) < LONG + SLIDE_TOL) & (np.abs(path[..., 1]) < SHORT + SLIDE_TOL)).any()
    assert (np.abs(path) == POS_LIMIT).any()


def test_walls_are_never_crossed():
    """A step never passes through a wall: the segment between consecutive positions, split into the
    x move (at the old y) then the y move (at the new x), never enters a blocked box."""
    path = random_walk(seed=1)
    before, after = path[:-1], path[1:]
    frac = np.linspace(0, 1, 33)[:, None, None]
    x_leg = np.stack([before[..., 0] + frac * (after[..., 0] - before[..., 0]), np.broadcast_to(before[..., 1], frac.shape[:1] + before.shape[:2])], -1)
    y_leg = np.stack([np.broadcast_to(after[..., 0], frac.shape[:1] + before.shape[:2]), before[..., 1] + frac * (after[..., 1] - before[..., 1])], -1)
    # in float32, as the environment stores positions (0.65 in float32 is just below 0.65)
    assert not blocked(x_leg.astype(np.float32)).any() and not blocked(y_leg.astype(np.float32)).any()
    # the walk does press against the walls, so the check is not vacuous
    near = (np.abs(path[..., 0]) < LONG + 0.05) & (np.abs(path[..., 1]) < SHORT + 0.05)
    assert near.any()
    assert (np.abs(after - before) <= 1.0 + 1e-6).all()


@pytest.mark.parametrize(
    "start, action, expect",
    [
        # pushed diagonally into the horizontal wall from below: slides (x moves, y stops at the wall)
        ((1.0, -1.5), (0.2, 1.0), (1.2, -SHORT)),
        # pushed into the nook between two wall arms: stops in its corner
        ((-1.0, -1.0), (0.5, 1.0), (-SHORT, -SHORT)),
        # pushed left into the vertical wall: stops at its side, y move done
        ((1.5, 1.0), (-1.0, 0.2), (SHORT, 1.2)),
        # past the end of a wall: free
        ((-2.0, 0.0), (-1.0, 0.0), (-3.0, 0.0)),
        # arena edge: clipped
        ((4.2, -4.2), (1.0, -1.0), (POS_LIMIT, -POS_LIMIT)),
    ],
)
def test_sliding_and_stopping(start, action, expect):
    env = PointVecEnv(1, rooms=True)
    env.set_state(np.array([start]), np.zeros((1, 2)))
    obs, _ = env.step(np.array([action]))
    pos = obs["observation"][0]
    np.testing.assert_allclose(np.abs(pos), np.abs(expect), atol=SLIDE_TOL)
    np.testing.assert_array_equal(np.sign(pos), np.sign(expect))
    assert not blocked(pos)


def test_reach_has_no_walls():
    env = PointVecEnv(1, rooms=False)
    env.set_state(np.array([[-0.5, -0.2]]), np.zeros((1, 2)))
    obs, _ = env.step(np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(obs["observation"][0], [0.5, 0.8], atol=1e-6)


def test_set_state_rejects_walls():
    env = PointVecEnv(1, rooms=True)
    with pytest.raises(ValueError):
        env.set_state(np.array([[0.0, 0.0]]), np.zeros((1, 2)))


@pytest.mark.parametrize("name", TASKS)
def test_reset_is_seeded_and_free(name):
    spec = get_task(name)
    a = spec.make_vec_env(500, seed=3).reset()
    b = spec.make_vec_env(500, seed=3).reset()
    c = spec.make_vec_env(500, seed=4).reset()
    for key in ("observation", "achieved_goal", "desired_goal"):
        assert a[key].shape == (500, 2) and a[key].dtype == np.float32
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["observation"], c["observation"])
    if name == "PointRooms":
        assert not blocked(a["observation"]).any() and not blocked(a["desired_goal"]).any()
    goals = spec.goal_sampler(500, np.random.default_rng(0))
    assert goals.shape == (500, 2) and (np.abs(goals) <= POS_LIMIT).all()


@pytest.mark.parametrize("name", TASKS)
def test_reward_agrees_everywhere(name):
    spec = get_task(name)
    env = spec.make_vec_env(300, seed=5)
    obs = env.reset()
    gym_env = PointGoalEnv(rooms=name == "PointRooms")
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(spec.max_steps):
        act = spec.behaviour_policy(obs, rng) + rng.normal(0, 0.5, size=(300, 2))
        obs, reward = env.step(act)
        assert reward.shape == (300,) and reward.dtype == np.float32
        np.testing.assert_array_equal(reward, spec.reward(obs["achieved_goal"], obs["desired_goal"]))
        np.testing.assert_array_equal(reward, gym_env.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        np.testing.assert_array_equal(spec.phi(obs["observation"]), obs["achieved_goal"])
        hits += reward.sum()
    assert 0 < hits < 300 * spec.max_steps
    # compute_reward keeps any leading shape, like gymnasium-robotics
    assert gym_env.compute_reward(np.zeros((3, 4, 2)), np.full((3, 4, 2), 0.5), None).shape == (3, 4)
    assert gym_env.compute_reward(np.zeros(2), np.array([0.6, 0.8]), None) == 1.0  # distance exactly eps
    assert gym_env.compute_reward(np.zeros(2), np.array([0.0, 1.01]), None) == 0.0


@pytest.mark.parametrize("name", TASKS)
def test_gymnasium_env(name):
    spec = get_task(name)
    env = gym.make(spec.gym_id)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"} and "is_success" in info
    for step in range(1, spec.max_steps + 1):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward == float(info["is_success"]) and not terminated
        assert truncated == (step == spec.max_steps)
    env.close()


@pytest.mark.parametrize("name", TASKS)
def test_behaviour_policy_succeeds(name):
    spec = get_task(name)
    env = spec.make_vec_env(200, seed=0)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(spec.max_steps):
        obs, reward = env.step(spec.behaviour_policy(obs, rng))
    assert reward.mean() >= MIN_SUCCESS  # measured: 1.0 on both tasks


def test_rooms_policy_from_every_start_to_every_goal():
    """Grid of starts x goals, plus the nooks between the wall arms and the wall ends: all reached."""
    grid = np.linspace(-POS_LIMIT, POS_LIMIT, 10)
    pts = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    edges = [[SHORT + 0.01, SHORT + 0.01], [-SHORT - 0.01, SHORT + 0.01], [0.7, -0.7], [-0.7, -0.7],
             [LONG + 0.01, 0.0], [0.0, -LONG - 0.01], [1.0, SHORT + 0.01], [-SHORT - 0.01, -1.2]]
    pts = np.concatenate([pts, edges]).astype(np.float32)
    pts = pts[~blocked(pts)]
    starts, goals = np.repeat(pts, len(pts), 0), np.tile(pts, (len(pts), 1))
    env = PointVecEnv(len(starts), rooms=True)
    obs = env.set_state(starts, goals)
    for _ in range(get_task("PointRooms").max_steps):
        obs, reward = env.step(rooms_policy(obs, None))
    assert reward.all()

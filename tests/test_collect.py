"""Dataset collection: shapes, card, determinism, consistency with the environment, argument checks."""
import numpy as np
import pytest

from goplan.data.collect import behaviour_success, collect
from goplan.data.dataset import TrajectoryDataset
from goplan.errors import ConfigError
from goplan.tasks import get_task

EPISODES = 30
CHUNK = 8  # not a divisor of EPISODES, so the last chunk is short
CARD_KEYS = {"task", "episodes", "behaviour_policy", "noise_std", "seed", "behaviour_success_rate",
             "average_return", "generator"}


@pytest.fixture(scope="module")
def rooms_data():
    return collect("PointRooms", EPISODES, seed=1, num_envs=CHUNK, progress=False)


def test_shapes_and_card(rooms_data):
    ds, spec = rooms_data, get_task("PointRooms")
    t = spec.max_steps
    assert ds.observations.shape == (EPISODES, t + 1, 2)
    assert ds.achieved_goals.shape == (EPISODES, t + 1, 2)
    assert ds.desired_goals.shape == (EPISODES, t, 2)
    assert ds.actions.shape == (EPISODES, t, 2)
    assert (np.abs(ds.actions) <= 1.0).all()
    np.testing.assert_array_equal(ds.achieved_goals, spec.phi(ds.observations))
    assert (ds.desired_goals == ds.desired_goals[:, :1]).all()  # one goal per episode
    assert set(ds.card) >= CARD_KEYS
    assert ds.card["task"] == "PointRooms" and ds.card["episodes"] == EPISODES
    assert ds.card["noise_std"] == 0.2 and ds.card["seed"] == 1
    assert ds.card["behaviour_policy"] == "scripted-corner" and ds.card["generator"] == "goplan collect"


def test_card_statistics_match_the_arrays(rooms_data):
    ds, spec = rooms_data, get_task("PointRooms")
    final = spec.reward(ds.achieved_goals[:, -1], ds.desired_goals[:, -1])
    rewards = spec.reward(ds.achieved_goals[:, 1:], ds.desired_goals)
    assert ds.card["behaviour_success_rate"] == pytest.approx(final.mean())
    assert ds.card["average_return"] == pytest.approx(rewards.sum(1).mean())
    assert ds.card["behaviour_success_rate"] >= 0.9


def test_transitions_replay_in_the_environment(rooms_data):
    ds = rooms_data
    n, t = ds.num_episodes * ds.horizon, ds.horizon
    env = get_task("PointRooms").make_vec_env(n)
    env.set_state(ds.observations[:, :-1].reshape(n, 2), ds.desired_goals.reshape(n, 2))
    obs, _ = env.step(ds.actions.reshape(n, 2))
    np.testing.assert_array_equal(obs["observation"].reshape(ds.num_episodes, t, 2), ds.observations[:, 1:])


def test_deterministic_for_a_seed(rooms_data):
    again = collect("PointRooms", EPISODES, seed=1, num_envs=CHUNK, progress=False)
    other = collect("PointRooms", EPISODES, seed=2, num_envs=CHUNK, progress=False)
    assert again.checksum() == rooms_data.checksum()
    assert other.checksum() != rooms_data.checksum()
    # chunks get different seeds: no two chunks repeat the same starts
    starts = rooms_data.observations[:, 0]
    assert not np.array_equal(starts[:CHUNK], starts[CHUNK : 2 * CHUNK])


def test_noise_is_added_and_clipped():
    spec = get_task("PointReach")
    clean = collect(spec, 10, seed=0, noise_std=0.0, num_envs=10, progress=False)
    obs = {"observation": clean.observations[:, :-1].reshape(-1, 2),
           "achieved_goal": clean.achieved_goals[:, :-1].reshape(-1, 2),
           "desired_goal": clean.desired_goals.reshape(-1, 2)}
    policy = spec.behaviour_policy(obs, np.random.default_rng(0)).reshape(clean.actions.shape)
    np.testing.assert_array_equal(clean.actions, policy)
    noisy = collect(spec, 10, seed=0, noise_std=5.0, num_envs=10, progress=False)
    assert (np.abs(noisy.actions) <= 1.0).all() and (np.abs(noisy.actions) == 1.0).mean() > 0.5


def test_random_actions_replace_the_policy_with_the_given_probability():
    """random_prob: each step's action is, with that probability, uniform in [-1, 1] (DDPG + HER's
    random_eps), drawn after the noise; at 0 the data are those made without it, bit for bit."""
    spec = get_task("PointReach")
    clean = collect(spec, 40, seed=0, noise_std=0.0, num_envs=40, progress=False)
    assert collect(spec, 40, seed=0, noise_std=0.0, num_envs=40, progress=False,
                   random_prob=0.0).checksum() == clean.checksum()
    for prob in (0.3, 1.0):
        data = collect(spec, 40, seed=0, noise_std=0.0, num_envs=40, progress=False, random_prob=prob)
        assert data.card["random_prob"] == prob
        obs = {"observation": data.observations[:, :-1].reshape(-1, 2),
               "achieved_goal": data.achieved_goals[:, :-1].reshape(-1, 2),
               "desired_goal": data.desired_goals.reshape(-1, 2)}
        policy = spec.behaviour_policy(obs, np.random.default_rng(0))
        replaced = np.abs(data.actions.reshape(-1, 2) - policy).max(axis=1) > 1e-6
        # noise-free, so every step that differs from the policy's action was replaced
        assert abs(replaced.mean() - prob) < 0.03, replaced.mean()
        acts = data.actions.reshape(-1, 2)[replaced]
        assert (np.abs(acts) <= 1.0).all()
        assert abs(acts.mean()) < 0.05 and abs(acts.std() - 1 / np.sqrt(3)) < 0.03  # uniform on [-1, 1]


def test_behaviour_success_report():
    for name in ("PointReach", "PointRooms"):
        report = behaviour_success(name, episodes=200, seed=0)
        assert report["success_rate"] >= 0.95  # measured: 1.0 on both
        assert 0 < report["average_return"] <= get_task(name).max_steps


def test_dataset_round_trip(tmp_path, rooms_data):
    loaded = TrajectoryDataset.load(rooms_data.save(tmp_path / "rooms.npz"))
    assert loaded.checksum() == rooms_data.checksum() and loaded.card["task"] == "PointRooms"


@pytest.mark.parametrize(
    "kwargs",
    [{"episodes": 0}, {"episodes": -3}, {"noise_std": -0.1}, {"noise_std": float("nan")},
     {"num_envs": 0}, {"num_envs": -1}, {"episodes": 2.5}, {"random_prob": 1.5}, {"random_prob": -0.1}],
)
def test_bad_arguments(kwargs):
    args = {"task": "PointReach", "episodes": 4, "seed": 0, "progress": False, **kwargs}
    with pytest.raises(ConfigError) as info:
        collect(**args)
    assert "\n" not in str(info.value)

"""PointReach and PointRooms: a 2-D ball moved by its clipped action, vectorised in numpy.

The ball (radius 0.5) lives in the square [-5, 5]^2, so its centre stays in [-4.5, 4.5]^2.
PointRooms is the benchmark's four-room layout (WGCSL's `four-room-v1`): two wall segments of
thickness WALL_THICKNESS on the lines y = 0 and x = 0 for coordinates in [-WALL_HALF_LENGTH,
WALL_HALF_LENGTH] (the outer segments of that layout lie outside the arena). The ball is kept off the
walls by its radius, so its centre stays out of two boxes: |x| < WALL_HALF_LENGTH + BALL_RADIUS with
|y| < WALL_THICKNESS / 2 + BALL_RADIUS, and the same with x and y swapped. Motion is resolved per axis
(x first, then y); a move that would end inside a wall is shortened to the largest free fraction, so
the ball slides along walls and never passes through them.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

# ---- geometry ----
ARENA_HALF = 5.0
BALL_RADIUS = 0.5
POS_LIMIT = ARENA_HALF - BALL_RADIUS  # the ball centre stays in [-POS_LIMIT, POS_LIMIT]^2
WALL_HALF_LENGTH = 0.85  # walls span [-0.85, 0.85] along their line
WALL_THICKNESS = 0.3
BLOCK_LONG = WALL_HALF_LENGTH + BALL_RADIUS  # half extent of a wall's blocked box along the wall
BLOCK_SHORT = WALL_THICKNESS / 2 + BALL_RADIUS  # half extent across the wall

# ---- dynamics and task ----
DIM = 2
ACTION_LIMIT = 1.0
ACTION_SCALE = 1.0
EPS = 1.0
MAX_STEPS = 50
BISECTION_ITERS = 12  # resolution 2^-12 of a step when a move is shortened at a wall
DTYPE = np.float32

# ---- detour behaviour policy (PointRooms) ----
SAME_POINT = 1e-6  # waypoints closer than this to the ball count as reached
CORNER = 1.6  # waypoints (+-CORNER, +-CORNER) just outside the walls' blocked boxes

OBS_KEYS = ("observation", "achieved_goal", "desired_goal")
REACH_ID = "goplan/PointReach-v0"
ROOMS_ID = "goplan/PointRooms-v0"


# ======================================================================================
# geometry helpers (all vectorised over a leading batch axis)
# ======================================================================================
def in_walls(positions: np.ndarray) -> np.ndarray:
    """Whether each ball centre (..., 2) touches a PointRooms wall."""
    p = np.asarray(positions)
    ax, ay = np.abs(p[..., 0]), np.abs(p[..., 1])
    horizontal = (ax < BLOCK_LONG) & (ay < BLOCK_SHORT)
    vertical = (ax < BLOCK_SHORT) & (ay < BLOCK_LONG)
    return horizontal | vertical


def is_free(positions: np.ndarray, rooms: bool = True) -> np.ndarray:
    """Whether each ball centre (..., 2) is in free space (inside the arena, off the walls)."""
    p = np.asarray(positions)
    inside = (np.abs(p[..., 0]) <= POS_LIMIT) & (np.abs(p[..., 1]) <= POS_LIMIT)
    return inside & ~in_walls(p) if rooms else inside


def sample_free(n: int, rng: np.random.Generator, rooms: bool) -> np.ndarray:
    """n positions uniform in the free space (vectorised rejection sampling)."""
    out = np.empty((n, DIM), dtype=DTYPE)
    missing = np.arange(n)
    while missing.size:
        cand = rng.uniform(-POS_LIMIT, POS_LIMIT, size=(missing.size, DIM)).astype(DTYPE)
        ok = is_free(cand, rooms)
        out[missing[ok]] = cand[ok]
        missing = missing[~ok]
    return out


def _move_axis(pos: np.ndarray, delta: np.ndarray, axis: int, rooms: bool) -> np.ndarray:
    """Move every position along one axis by delta, shortened where the move ends in a wall.

    pos must be free. A move is at most one unit and every blocked interval along an axis is wider
    than that, so the free part of a move is a prefix of it and bisection finds its end.
    """

    def at(frac: np.ndarray) -> np.ndarray:
        cand = pos.copy()
        cand[:, axis] = np.clip(pos[:, axis] + frac * delta, -POS_LIMIT, POS_LIMIT).astype(DTYPE)
        return cand

    full = at(np.ones(len(pos)))
    blocked = ~is_free(full, rooms)
    if not blocked.any():
        return full
    lo = np.zeros(len(pos))
    hi = np.ones(len(pos))
    for _ in range(BISECTION_ITERS):
        mid = 0.5 * (lo + hi)
        free_mid = is_free(at(mid), rooms)
        lo = np.where(free_mid, mid, lo)
        hi = np.where(free_mid, hi, mid)
    short = at(lo)
    short = np.where(is_free(short, rooms)[:, None], short, pos)  # guard: never end in a wall
    return np.where(blocked[:, None], short, full)


# ======================================================================================
# the vectorised environment
# ======================================================================================
class PointVecEnv:
    """num_envs point episodes stepped as one array; see the module docstring for the rules."""

    def __init__(self, num_envs: int, rooms: bool, seed: int | None = None, eps: float = EPS):
        if num_envs <= 0:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        self.num_envs = int(num_envs)
        self.rooms = bool(rooms)
        self.eps = float(eps)
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros((self.num_envs, DIM), dtype=DTYPE)
        self.goal = np.zeros((self.num_envs, DIM), dtype=DTYPE)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"observation": self.pos.copy(), "achieved_goal": self.pos.copy(), "desired_goal": self.goal.copy()}

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.pos = sample_free(self.num_envs, self.rng, self.rooms)
        self.goal = sample_free(self.num_envs, self.rng, self.rooms)
        return self._obs()

    def set_state(self, positions: np.ndarray, goals: np.ndarray) -> dict[str, np.ndarray]:
        """Place the balls and goals directly (for tests); positions must be free."""
        pos = np.asarray(positions, dtype=DTYPE).reshape(self.num_envs, DIM)
        goal = np.asarray(goals, dtype=DTYPE).reshape(self.num_envs, DIM)
        if not is_free(pos, self.rooms).all():
            raise ValueError("set_state: some positions lie outside the free space")
        self.pos, self.goal = pos.copy(), goal.copy()
        return self._obs()

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        act = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, DIM)
        if not np.isfinite(act).all():
            raise ValueError("step: actions contain NaN or infinity")
        self.pos = move(self.pos, act, self.rooms).astype(DTYPE)
        return self._obs(), success(self.pos, self.goal, self.eps)


def move(pos: np.ndarray, actions: np.ndarray, rooms: bool = True) -> np.ndarray:
    """One step of the physics for every row: the clipped, scaled action moves the ball axis by axis,
    shortened where it would enter a wall (PointRooms) or leave the arena."""
    delta = ACTION_SCALE * np.clip(np.asarray(actions, dtype=np.float64), -ACTION_LIMIT, ACTION_LIMIT)
    for axis in range(DIM):
        pos = _move_axis(pos, delta[:, axis], axis, rooms)
    return pos


def success(achieved: np.ndarray, desired: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Sparse reward 1[||achieved - desired|| <= eps] as float32, any leading shape."""
    dist = np.linalg.norm(np.asarray(achieved, dtype=np.float64) - np.asarray(desired, dtype=np.float64), axis=-1)
    return (dist <= eps).astype(np.float32)


# ======================================================================================
# behaviour policies (noise-free, stateless)
# ======================================================================================
def _toward(target: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Action along the straight line to the target: the offset scaled down (direction kept) so that
    no component exceeds the action limit."""
    d = target - pos
    scale = np.maximum(np.abs(d).max(axis=-1, keepdims=True) / ACTION_LIMIT, 1.0)
    return (d / scale).astype(DTYPE)


def reach_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """PointReach: move straight toward the goal."""
    return _toward(np.asarray(obs["desired_goal"], np.float64), np.asarray(obs["achieved_goal"], np.float64))


def _segment_hits_box(start: np.ndarray, end: np.ndarray, half_x: float, half_y: float) -> np.ndarray:
    """Exact test (slab method) of whether segments start -> end (..., 2) enter the open box
    |x| < half_x, |y| < half_y."""
    d = end - start
    t_in = np.zeros(start.shape[:-1])
    t_out = np.ones(start.shape[:-1])
    for axis, half in ((0, half_x), (1, half_y)):
        p, v = start[..., axis], d[..., axis]
        still = np.abs(v) < 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - p) / v, (half - p) / v
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        lo = np.where(still, np.where(np.abs(p) < half, -np.inf, np.inf), lo)
        hi = np.where(still, np.where(np.abs(p) < half, np.inf, -np.inf), hi)
        t_in, t_out = np.maximum(t_in, lo), np.minimum(t_out, hi)
    return t_in < t_out


def _segment_free(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether straight segments start -> end (..., 2) stay off both walls."""
    return ~(_segment_hits_box(start, end, BLOCK_LONG, BLOCK_SHORT) | _segment_hits_box(start, end, BLOCK_SHORT, BLOCK_LONG))


CORNERS = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64) * CORNER


def rooms_waypoint(pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Next waypoint on the shortest way to the goal through the four corners around the walls,
    derived from the current position only (Floyd-Warshall on the 6-node visibility graph
    {position, 4 corners, goal}, batched over rows)."""
    n = len(pos)
    nodes = np.concatenate([pos[:, None], np.broadcast_to(CORNERS, (n, 4, 2)), goal[:, None]], axis=1)  # (n, 6, 2)
    a, b = nodes[:, :, None, :], nodes[:, None, :, :]
    a, b = np.broadcast_arrays(a, b)
    length = np.linalg.norm(b - a, axis=-1)
    dist = np.where(_segment_free(a, b), length, np.inf)  # (n, 6, 6)
    for k in range(nodes.shape[1]):
        dist = np.minimum(dist, dist[:, :, k : k + 1] + dist[:, k : k + 1, :])
    # first hop from the position (node 0): the node j minimising |pos - j| + dist(j, goal)
    first = np.where(_segment_free(a[:, 0], b[:, 0]), length[:, 0], np.inf) + dist[:, :, -1]
    # never "move" to a corner where the ball already is: it ties with the goal and would stall
    first[:, :-1][length[:, 0, :-1] < SAME_POINT] = np.inf
    hop = np.argmin(first, axis=1)
    return nodes[np.arange(n), hop]


def rooms_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """PointRooms: straight at the goal, around the walls by the best corner when they are in the way."""
    pos = np.asarray(obs["achieved_goal"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    return _toward(rooms_waypoint(pos, goal), pos)


# ======================================================================================
# single-episode Gymnasium environment
# ======================================================================================
class PointGoalEnv(gymnasium.Env):
    """One point episode as a goal-conditioned Gymnasium environment (dict observations)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, rooms: bool = False, max_steps: int = MAX_STEPS, render_mode: str | None = None):
        self.rooms = bool(rooms)
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        box = spaces.Box(-POS_LIMIT, POS_LIMIT, shape=(DIM,), dtype=DTYPE)
        self.observation_space = spaces.Dict({k: box for k in OBS_KEYS})
        self.action_space = spaces.Box(-ACTION_LIMIT, ACTION_LIMIT, shape=(DIM,), dtype=DTYPE)
        self._vec = PointVecEnv(1, self.rooms)
        self._t = 0

    @staticmethod
    def _single(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: obs[k][0].copy() for k in OBS_KEYS}

    def compute_reward(self, achieved_goal, desired_goal, info=None) -> np.ndarray:
        """1.0 where ||achieved - desired|| <= eps else 0.0, for any leading shape."""
        return success(achieved_goal, desired_goal, EPS)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._vec.rng = self.np_random
        self._t = 0
        obs = self._single(self._vec.reset())
        return obs, {"is_success": bool(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))}

    def step(self, action):
        obs, _ = self._vec.step(np.asarray(action, dtype=np.float64)[None])
        obs = self._single(obs)
        self._t += 1
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))
        info = {"is_success": reward > 0}
        return obs, reward, False, self._t >= self.max_steps, info


# ======================================================================================
# registration
# ======================================================================================
def _goal_sampler(rooms: bool):
    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_free(n, rng, rooms)

    return sample


def _vec_factory(rooms: bool):
    def make(num_envs: int, seed: int | None = None, **kwargs) -> PointVecEnv:
        return PointVecEnv(num_envs, rooms, seed=seed, **kwargs)

    return make


def _register(name: str, gym_id: str, rooms: bool, policy, policy_name: str, description: str) -> TaskSpec:
    register_gym_env(gym_id, f"{__name__}:PointGoalEnv", {"rooms": rooms}, MAX_STEPS)
    return register_task(
        TaskSpec(
            name=name,
            obs_dim=DIM,
            goal_dim=DIM,
            act_dim=DIM,
            eps=EPS,
            goal_indices=(0, 1),
            max_steps=MAX_STEPS,
            gym_id=gym_id,
            description=description,
            make_vec_env=_vec_factory(rooms),
            behaviour_policy=policy,
            goal_sampler=_goal_sampler(rooms),
            behaviour_policy_name=policy_name,
            naive_policy=reach_policy,
        )
    )


POINT_REACH = _register(
    "PointReach", REACH_ID, False, reach_policy, "scripted-straight",
    "2-D point in [-5, 5]^2 moved by its clipped action; reach a goal within 1.0",
)
POINT_ROOMS = _register(
    "PointRooms", ROOMS_ID, True, rooms_policy, "scripted-corner",
    "2-D point with the benchmark's four-room walls (a central cross); slides along walls; reach a goal within 1.0",
)

__all__ = [
    "PointVecEnv", "PointGoalEnv", "is_free", "sample_free", "success", "reach_policy", "rooms_policy",
    "rooms_waypoint", "in_walls", "WALL_HALF_LENGTH", "WALL_THICKNESS", "BLOCK_LONG", "BLOCK_SHORT", "POS_LIMIT", "EPS", "MAX_STEPS",
]

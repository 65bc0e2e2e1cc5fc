"""SawyerReach and SawyerDoor on Meta-World's Sawyer models (`reach-v3`, `door-open-v3`; metaworld 3.1.1).

Both use the Meta-World simulators (MuJoCo, mocap-driven hand, 5 substeps of 2.5 ms per step, hand moved
by at most 1 cm per unit action and step) but with goal-conditioned states, goals and our sparse reward:

- SawyerReach: state = hand (end-effector) xyz (3), goal = hand xyz uniform in the box
  REACH_GOAL_LOW..REACH_GOAL_HIGH, phi = state[0:3], eps 0.05. Actions: hand motion xyz in [-1, 1].
- SawyerDoor: state = hand xyz + door opening angle (rad, >= 0 as the door opens toward the robot) (4),
  goal = opening angle uniform in [0, DOOR_MAX_OPEN], phi = state[3:4], eps 0.05 (rad). The door starts
  closed with the open hand around its handle bar. Actions: hand motion xyz; the gripper stays closed.

Each episode starts from a fixed settled state (the arm brought to its start pose once per model, then
restored), so a reset costs one state copy rather than Meta-World's 250-substep hand reset.

Behaviour policies: SawyerReach moves the hand straight to the goal (as Meta-World's reach policy);
SawyerDoor starts with the hand around the door's handle bar (like the reset-free hook door of the original
benchmark, the hand starts at the handle), closes the gripper on it and moves the hand along the handle's
arc to the goal angle.

metaworld and mujoco are imported only inside the factories.
"""
from __future__ import annotations

import functools

import numpy as np

from goplan.tasks.mujoco_common import GoalCore, GoalTaskEnv, MujocoVecGoalEnv
from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

MAX_STEPS = 50
EPS = 0.05
ACT_DIM = 3
GRIPPER_CLOSED = 1.0  # Meta-World's grab effort (its door policy keeps the gripper closed)
GRIPPER_OPEN = -1.0
MOCAP_QUAT = (1.0, 0.0, 1.0, 0.0)  # Meta-World keeps the hand's orientation fixed
# ---- SawyerReach ----
REACH_OBS_DIM = 3
REACH_HAND_START = (0.0, 0.6, 0.2)  # Meta-World's hand_init_pos for reach-v3
REACH_GOAL_LOW = (-0.2, 0.55, 0.05)  # Meta-World's default hand space (SawyerXYZEnv hand_low/high)
REACH_GOAL_HIGH = (0.2, 0.75, 0.3)
# ---- SawyerDoor ----
DOOR_OBS_DIM = 4
DOOR_POS = (0.1, 0.95, 0.15)  # door body position (Meta-World's door-open-v3 default)
# the open hand is brought above the handle bar, then lowered so that its pads straddle the bar; the
# episode then closes the gripper on it
DOOR_GRIP_XY = (0.31, 0.734)  # hand xy on the handle bar when the door is closed
DOOR_HAND_STAGES = ((0.31, 0.734, 0.33), (0.31, 0.734, 0.15))
DOOR_MAX_OPEN = 0.5  # rad
DOOR_HINGE_XY = (-0.085, 0.85)  # hinge axis (vertical) of the door at DOOR_POS
DOOR_HANDLE_Z = 0.15
# ---- behaviour policies ----
HAND_GAIN = 50.0  # action per metre of hand error (1 cm per unit action: half the error per step)
DOOR_ABOVE_Z = 0.33  # approach height (the top of the handle bar is at about 0.25)
DOOR_XY_TOL = 0.02  # hand over the handle within this before dropping
DOOR_Z_TOL = 0.02  # hand at handle height within this counts as engaged
DOOR_ENGAGE_TOL = 0.04  # hand within this (xy) of the handle counts as holding it
DOOR_ANGLE_STEP = 0.2  # rad: how far ahead along the arc the hand aims while moving the door
DOOR_GAIN = 15.0  # gentler than HAND_GAIN: the door lags the hand and the mocap target leads it


def _reach_sampler(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(REACH_GOAL_LOW, REACH_GOAL_HIGH, size=(n, 3))


def _door_sampler(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, DOOR_MAX_OPEN, size=(n, 1))


@functools.lru_cache(maxsize=None)
def _sawyer_template(kind: str) -> dict:
    """One Meta-World env per kind, reset once: its model (shared by every core of that kind), its
    control constants and the settled start state that every episode restores."""
    if kind == "reach":
        from metaworld.envs.sawyer_reach_v3 import SawyerReachEnvV3 as cls
        rand_vec = np.array([0.0, 0.6, 0.02, 0.0, 0.85, 0.2])  # object and (unused) goal
        hand = (REACH_HAND_START,)
    else:
        from metaworld.envs.sawyer_door_v3 import SawyerDoorEnvV3 as cls
        rand_vec = np.array(DOOR_POS)
        hand = DOOR_HAND_STAGES
    env = cls()
    env._set_task_called = True
    env._freeze_rand_vec = True
    env._last_rand_vec = rand_vec
    env.hand_init_pos = np.array(hand[0])
    env.reset()
    for waypoint in hand[1:]:  # further settling stages (the door's hand is lowered behind the handle)
        env.hand_init_pos = np.array(waypoint)
        env._reset_hand()
    d = env.data
    return {
        "model": env.model, "frame_skip": env.frame_skip, "action_scale": env.action_scale,
        "mocap_low": env.mocap_low.copy(), "mocap_high": env.mocap_high.copy(),
        "qpos": d.qpos.copy(), "qvel": d.qvel.copy(), "mocap_pos": d.mocap_pos.copy(),
        "mocap_quat": d.mocap_quat.copy(), "env": env,
    }


class SawyerCore(GoalCore):
    """A Meta-World Sawyer simulator (shared model, own MjData) restored to a settled start each episode.

    The step replicates Meta-World's: the mocap target moves by action * action_scale (clipped to the mocap
    box, fixed orientation), the two gripper actuators get (g, -g), and MuJoCo advances frame_skip steps."""

    act_dim = ACT_DIM

    def __init__(self, kind: str):
        import mujoco

        self._mj = mujoco
        self.kind = kind
        self.t = _sawyer_template(kind)
        self.model = self.t["model"]
        self.data = mujoco.MjData(self.model)
        if kind == "door":
            self._door_qpos = self.model.joint("doorjoint").qposadr.item()
        self.obs_dim = REACH_OBS_DIM if kind == "reach" else DOOR_OBS_DIM
        self.goal_dim = 3 if kind == "reach" else 1
        self._hand = self.model.body("hand").id
        self.goal = np.zeros(self.goal_dim)
        grip = GRIPPER_OPEN if kind == "reach" else GRIPPER_CLOSED
        self._ctrl = np.array([grip, -grip])
        self._quat = np.array(MOCAP_QUAT)

    def _triple(self):
        d = self.data
        hand = d.xpos[self._hand].copy()
        if self.kind == "reach":
            return hand, hand.copy(), self.goal.copy()
        angle = np.array([-d.qpos[self._door_qpos]])
        return np.concatenate([hand, angle]), angle, self.goal.copy()

    def reset(self, rng: np.random.Generator):
        t, d = self.t, self.data
        self._mj.mj_resetData(self.model, d)
        d.qpos[:] = t["qpos"]
        d.qvel[:] = t["qvel"]
        d.mocap_pos[:] = t["mocap_pos"]
        d.mocap_quat[:] = t["mocap_quat"]
        self._mj.mj_forward(self.model, d)
        self.goal = (_reach_sampler if self.kind == "reach" else _door_sampler)(1, rng)[0]
        return self._triple()

    def step(self, action: np.ndarray):
        t, d = self.t, self.data
        d.mocap_pos[0] = np.clip(d.mocap_pos[0] + np.clip(action[:3], -1.0, 1.0) * t["action_scale"],
                                 t["mocap_low"], t["mocap_high"])
        d.mocap_quat[0] = self._quat
        d.ctrl[:] = self._ctrl
        self._mj.mj_step(self.model, d, nstep=t["frame_skip"])
        self._mj.mj_kinematics(self.model, d)
        return self._triple()


def make_gym_env(kind: str, render_mode: str | None = None) -> GoalTaskEnv:
    """One Sawyer episode ("reach" or "door") as a Gymnasium environment."""
    return GoalTaskEnv(functools.partial(SawyerCore, kind), EPS, MAX_STEPS, render_mode=render_mode)


def _vec_factory(kind: str):
    def make(num_envs: int, seed: int | None = None, **kwargs) -> MujocoVecGoalEnv:
        return MujocoVecGoalEnv(functools.partial(make_gym_env, kind, **kwargs), num_envs, seed=seed)

    return make


# ======================================================================================
# behaviour policies
# ======================================================================================
def _hand_action(target: np.ndarray, hand: np.ndarray) -> np.ndarray:
    return np.clip(HAND_GAIN * (target - hand), -1.0, 1.0).astype(np.float32)


def reach_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """SawyerReach: move the hand straight to the goal."""
    hand = np.asarray(obs["observation"], np.float64)[:, :3]
    return _hand_action(np.asarray(obs["desired_goal"], np.float64), hand)


def hook_xy(angle: np.ndarray) -> np.ndarray:
    """Where the hand holds the handle (n, 2) when the door is opened by `angle` (n,) radians."""
    hinge = np.asarray(DOOR_HINGE_XY)
    r = np.asarray(DOOR_GRIP_XY) - hinge
    c, s = np.cos(-angle), np.sin(-angle)
    return hinge + np.stack([c * r[0] - s * r[1], s * r[0] + c * r[1]], axis=1)


def door_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """SawyerDoor: hold the handle and move the hand along the handle's arc to the goal angle (aiming at
    most DOOR_ANGLE_STEP ahead of the current angle); if the hand has lost the handle, go back above the
    grip point and lower the hand onto the handle again."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)[:, 0]
    hand, angle = o[:, :3], o[:, 3]
    hook = hook_xy(angle)
    xy_err = np.linalg.norm(hand[:, :2] - hook, axis=1)
    engaged = (np.abs(hand[:, 2] - DOOR_HANDLE_Z) < DOOR_Z_TOL) & (xy_err < DOOR_ENGAGE_TOL)
    target = np.empty_like(hand)
    target[:, :2] = hook
    target[:, 2] = np.where(xy_err < DOOR_XY_TOL, DOOR_HANDLE_Z, DOOR_ABOVE_Z)
    aim = angle + np.clip(goal - angle, -DOOR_ANGLE_STEP, DOOR_ANGLE_STEP)
    target[engaged, :2] = hook_xy(aim[engaged])
    target[engaged, 2] = DOOR_HANDLE_Z
    return np.clip(DOOR_GAIN * (target - hand), -1.0, 1.0).astype(np.float32)


# ======================================================================================
# registration
# ======================================================================================
def _register(name: str, kind: str, obs_dim: int, goal_dim: int, goal_indices, policy, policy_name, sampler,
              desc) -> TaskSpec:
    gym_id = f"goplan/{name}-v0"
    register_gym_env(gym_id, f"{__name__}:make_gym_env", {"kind": kind}, MAX_STEPS)

    def goal_sampler(n: int, rng: np.random.Generator) -> np.ndarray:
        return sampler(n, rng).astype(np.float32)

    return register_task(
        TaskSpec(
            name=name, obs_dim=obs_dim, goal_dim=goal_dim, act_dim=ACT_DIM, eps=EPS, goal_indices=goal_indices,
            max_steps=MAX_STEPS, gym_id=gym_id, description=desc, make_vec_env=_vec_factory(kind),
            behaviour_policy=policy, goal_sampler=goal_sampler,
            behaviour_policy_name=policy_name, simulator=f"metaworld {kind}-v3 Sawyer model (MuJoCo)",
        )
    )


SAWYER_REACH = _register("SawyerReach", "reach", REACH_OBS_DIM, 3, (0, 1, 2), reach_policy, "scripted-sawyer-reach",
                         _reach_sampler, "Sawyer arm (Meta-World model): move the hand to a 3-D goal")
SAWYER_DOOR = _register("SawyerDoor", "door", DOOR_OBS_DIM, 1, (3,), door_policy, "scripted-sawyer-door",
                        _door_sampler, "Sawyer arm (Meta-World model): open a door to a goal angle (rad)")

__all__ = ["SAWYER_REACH", "SAWYER_DOOR", "SawyerCore", "reach_policy", "door_policy", "hook_xy", "make_gym_env"]

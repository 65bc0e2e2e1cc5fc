"""Reacher: the MuJoCo 2-link reacher of Gymnasium (`Reacher-v5`, reacher.xml) made goal-conditioned.

The goal is the target's xy position, uniform in the disc of radius 0.2 around the arm's base; phi is the
fingertip's xy position. State (10), laid out like Reacher-v5's observation but with the fingertip's
absolute position in place of fingertip - target:
    [cos q0, cos q1, sin q0, sin q1, target x, target y, dq0, dq1, fingertip x, fingertip y]
so phi(state) = state[8:10]. Success radius 0.05; 50 steps of 0.02 s; actions are the two joint torques
in [-1, 1] (gear 200).

The behaviour policy solves the arm's inverse kinematics analytically (keeping the current elbow side)
and drives the joints there with a PD controller.

mujoco and Gymnasium's MuJoCo environments are imported only inside the factories.
"""
from __future__ import annotations

import functools

import numpy as np

from goplan.tasks.mujoco_common import GoalCore, GoalTaskEnv, MujocoVecGoalEnv
from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

TASK = "Reacher"
GYM_ID = "goplan/Reacher-v0"
MAX_STEPS = 50
EPS = 0.05
OBS_DIM = 10
GOAL_DIM = 2
ACT_DIM = 2
GOAL_SLICE = (8, 9)
GOAL_RADIUS = 0.2  # goals uniform in the disc of this radius
INIT_NOISE = 0.1  # joint angles start uniform in +-this around the straight arm (as Reacher-v5)
INIT_VEL_NOISE = 0.005
LINK0 = 0.1  # shoulder to elbow
LINK1 = 0.11  # elbow to fingertip
ELBOW_LIMIT = 3.0  # |q1| <= this (reacher.xml)
# PD controller on the joint angles (action units per rad and per rad/s)
KP = 2.0
KD = 0.12


def sample_goals(n: int, rng: np.random.Generator) -> np.ndarray:
    """n goals uniform in the disc of radius GOAL_RADIUS."""
    r = GOAL_RADIUS * np.sqrt(rng.uniform(size=n))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


class ReacherCore(GoalCore):
    """The Reacher-v5 simulator (its model, data and frame skip) with our reset and observation."""

    obs_dim, goal_dim, act_dim = OBS_DIM, GOAL_DIM, ACT_DIM

    def __init__(self):
        from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv

        self.env = ReacherEnv()
        self._fingertip = self.env.model.body("fingertip").id
        self.goal = np.zeros(GOAL_DIM)

    def _triple(self):
        d = self.env.data
        q = d.qpos
        tip = d.xpos[self._fingertip][:2].copy()
        obs = np.concatenate([np.cos(q[:2]), np.sin(q[:2]), q[2:4], d.qvel[:2], tip])
        return obs, tip, self.goal.copy()

    def reset(self, rng: np.random.Generator):
        env = self.env
        env.np_random = rng
        self.goal = sample_goals(1, rng)[0]
        qpos = env.init_qpos + rng.uniform(-INIT_NOISE, INIT_NOISE, size=env.model.nq)
        qpos[2:4] = self.goal
        qvel = env.init_qvel + rng.uniform(-INIT_VEL_NOISE, INIT_VEL_NOISE, size=env.model.nv)
        qvel[2:4] = 0.0
        env.set_state(qpos, qvel)
        return self._triple()

    def step(self, action: np.ndarray):
        self.env.do_simulation(action, self.env.frame_skip)
        return self._triple()

    def close(self) -> None:
        self.env.close()


def make_gym_env(render_mode: str | None = None) -> GoalTaskEnv:
    """One Reacher episode as a Gymnasium environment (the entry point of goplan/Reacher-v0)."""
    return GoalTaskEnv(ReacherCore, EPS, MAX_STEPS, render_mode=render_mode)


def make_vec_env(num_envs: int, seed: int | None = None, **kwargs) -> MujocoVecGoalEnv:
    return MujocoVecGoalEnv(functools.partial(make_gym_env, **kwargs), num_envs, seed=seed)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2.0 * np.pi) - np.pi


def inverse_kinematics(goal: np.ndarray, elbow_sign: np.ndarray) -> np.ndarray:
    """Joint angles (n, 2) putting the fingertip at goal (n, 2) (or as close as the arm reaches)."""
    r2 = np.sum(goal ** 2, axis=1)
    c1 = np.clip((r2 - LINK0 ** 2 - LINK1 ** 2) / (2.0 * LINK0 * LINK1), -1.0, 1.0)
    q1 = elbow_sign * np.arccos(c1)
    q0 = np.arctan2(goal[:, 1], goal[:, 0]) - np.arctan2(LINK1 * np.sin(q1), LINK0 + LINK1 * np.cos(q1))
    return np.stack([q0, np.clip(q1, -ELBOW_LIMIT, ELBOW_LIMIT)], axis=1)


def pd_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """Reacher: analytic IK (keeping the current elbow side) and a PD controller on the joint angles."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    q = np.arctan2(o[:, 2:4], o[:, 0:2])
    dq = o[:, 6:8]
    elbow = np.where(q[:, 1] >= 0, 1.0, -1.0)
    q_des = inverse_kinematics(goal, elbow)
    err = _wrap(q_des - q)
    err[:, 1] = q_des[:, 1] - q[:, 1]  # the elbow is limited: never wrap through the limit
    return np.clip(KP * err - KD * dq, -1.0, 1.0).astype(np.float32)


def _goal_sampler(n: int, rng: np.random.Generator) -> np.ndarray:
    return sample_goals(n, rng).astype(np.float32)


register_gym_env(GYM_ID, f"{__name__}:make_gym_env", {}, MAX_STEPS)
REACHER = register_task(
    TaskSpec(
        name=TASK,
        obs_dim=OBS_DIM,
        goal_dim=GOAL_DIM,
        act_dim=ACT_DIM,
        eps=EPS,
        goal_indices=GOAL_SLICE,
        max_steps=MAX_STEPS,
        gym_id=GYM_ID,
        description="MuJoCo 2-link reacher: put the fingertip on a goal in the disc of radius 0.2",
        make_vec_env=make_vec_env,
        behaviour_policy=pd_policy,
        goal_sampler=_goal_sampler,
        behaviour_policy_name="scripted-reacher-ik-pd",
        simulator="gymnasium Reacher-v5 model (MuJoCo)",
    )
)

__all__ = ["REACHER", "ReacherCore", "pd_policy", "inverse_kinematics", "sample_goals", "make_gym_env",
           "make_vec_env"]

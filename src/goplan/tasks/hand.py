"""HandReach (Shadow Dexterous Hand, Gymnasium-Robotics `HandReach-v3`) as a goplan task.

State (63) = 24 joint positions, 24 joint velocities, 5 fingertip positions (15); the goal is the 15
fingertip coordinates and phi(state) = state[48:63] is exactly the env's achieved goal. eps = 0.01 on the
norm of the 15-vector. Actions (20) are absolute joint-position targets scaled to [-1, 1].

The behaviour policy is a damped-least-squares inverse-kinematics controller: it loads its own copy of
the hand model, sets the observed joint angles, and takes Gauss-Newton steps on the fingertip error
with MuJoCo's site Jacobians over the 20 actuated joints (each distal finger joint follows its middle
joint through the tendon coupling of the model); the resulting joint angles are the position targets,
plus a gravity/passive-force feed-forward term that cancels the sag of the weak position servos.

Heavy packages (mujoco, gymnasium_robotics) are imported only inside the factories and the policy.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from goplan.tasks.mujoco_common import GoalTaskEnv, MujocoVecGoalEnv, RoboticsCore, init_shared_simulation
from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

TASK = "HandReach"
GYM_ID = "goplan/HandReach-v0"
MAX_STEPS = 50
EPS = 0.01
OBS_DIM = 63
GOAL_DIM = 15
ACT_DIM = 20
NUM_JOINTS = 24
FINGERTIPS = 5
GOAL_SLICE = tuple(range(OBS_DIM - GOAL_DIM, OBS_DIM))  # the last 15 entries are the fingertip positions
THUMB = 4  # index of the thumb among the fingertip sites (ff, mf, rf, lf, th)

# ---- goal distribution of HandReach (Gymnasium-Robotics), constants of the v3 model ----
INITIAL_FINGERTIPS = (
    (0.99173995, 0.79754733, 0.15223313),
    (1.02087845, 0.80174036, 0.15185374),
    (1.04221773, 0.80748274, 0.15524235),
    (1.06619684, 0.82309667, 0.16429032),
    (0.95049775, 0.84029193, 0.16172142),
)
PALM_XPOS = (1.00558936, 0.96046261, 0.13999892)
MEETING_OFFSET = (0.0, -0.09, 0.05)  # meeting point of thumb and finger relative to the palm
MEETING_NOISE = 0.005
MEETING_GAP = 0.005  # each of the two tips stops this short of the meeting point
STAY_PROB = 0.1  # probability that the goal is the initial fingertip configuration

# ---- behaviour policy (IK) ----
IK_ITERS = 12  # Gauss-Newton steps per control step
IK_DAMPING = 0.02  # Levenberg-Marquardt damping (metres)
IK_MAX_STEP = 0.3  # largest joint change per Gauss-Newton step (rad)
IK_TOL = 1e-4  # stop iterating once the fingertip error norm is below this


def sample_goals(n: int, rng: np.random.Generator) -> np.ndarray:
    """HandReach goals (n, 15): thumb and one other finger meet above the palm, or (10 %) stay put."""
    init = np.asarray(INITIAL_FINGERTIPS, dtype=np.float64)
    goals = np.repeat(init[None], n, axis=0)
    finger = rng.integers(0, FINGERTIPS - 1, size=n)  # 0..3: ff, mf, rf, lf
    meeting = np.asarray(PALM_XPOS) + np.asarray(MEETING_OFFSET) + rng.normal(scale=MEETING_NOISE, size=(n, 3))
    rows = np.arange(n)
    for idx in (np.full(n, THUMB), finger):
        direction = meeting - init[idx]
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        goals[rows, idx] = meeting - MEETING_GAP * direction
    stay = rng.uniform(size=n) < STAY_PROB
    goals[stay] = init
    return goals.reshape(n, GOAL_DIM)


# ======================================================================================
# simulator
# ======================================================================================
@functools.lru_cache(maxsize=None)
def _hand_env_class():
    import mujoco
    from gymnasium_robotics.envs.shadow_dexterous_hand.reach import MujocoHandReachEnv

    class GoplanHandReachEnv(MujocoHandReachEnv):
        """HandReach-v3 on a shared MjModel with goals from this module's sampler."""

        def _initialize_simulation(self):
            init_shared_simulation(self, self.fullpath, lambda: mujoco.MjModel.from_xml_path(self.fullpath))

        def _sample_goal(self):
            return sample_goals(1, self.np_random)[0].copy()

    return GoplanHandReachEnv


def make_hand_core() -> RoboticsCore:
    return RoboticsCore(_hand_env_class()(reward_type="sparse"), OBS_DIM, GOAL_DIM, ACT_DIM)


def make_gym_env(render_mode: str | None = None) -> GoalTaskEnv:
    """One HandReach episode as a Gymnasium environment (the entry point of goplan/HandReach-v0)."""
    return GoalTaskEnv(make_hand_core, EPS, MAX_STEPS, render_mode=render_mode)


def make_vec_env(num_envs: int, seed: int | None = None, **kwargs) -> MujocoVecGoalEnv:
    return MujocoVecGoalEnv(functools.partial(make_gym_env, **kwargs), num_envs, seed=seed)


# ======================================================================================
# behaviour policy: damped least-squares IK on the hand model
# ======================================================================================
class HandIK:
    """Inverse kinematics of the Shadow hand's fingertips over its 20 actuated joints."""

    def __init__(self):
        import mujoco
        from gymnasium_robotics.envs.shadow_dexterous_hand import reach as hand_reach

        self._mj = mujoco
        path = os.path.join(os.path.dirname(hand_reach.__file__), "..", "assets", hand_reach.MODEL_XML_PATH)
        self.model = mujoco.MjModel.from_xml_path(os.path.normpath(path))
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.sites = [m.site(name).id for name in hand_reach.FINGERTIP_SITE_NAMES]
        self.act_joint = np.array([m.actuator_trnid[i, 0] for i in range(m.nu)])
        self.ctrl_low = m.actuator_ctrlrange[:, 0].copy()
        self.ctrl_high = m.actuator_ctrlrange[:, 1].copy()
        self.kp = m.actuator_gainprm[:, 0].copy()
        self.jnt_low = m.jnt_range[:, 0].copy()
        self.jnt_high = m.jnt_range[:, 1].copy()
        # each finger's distal joint J0 follows its middle joint J1 through a coupling tendon
        # c0 * J0 + c1 * J1 held at ~0 (tendons named T_<finger>J1c): J0 = -c1 / c0 * J1
        self.coupled: list[tuple[int, int, float]] = []  # (J1 joint, J0 joint, ratio)
        for t in range(m.ntendon):
            if not m.tendon(t).name.endswith("J1c"):
                continue
            adr, num = m.tendon_adr[t], m.tendon_num[t]
            coef = {m.joint(m.wrap_objid[adr + k]).name: m.wrap_prm[adr + k] for k in range(num)}
            j0 = next(name for name in coef if name.endswith("J0"))
            j1 = next(name for name in coef if name.endswith("J1"))
            self.coupled.append((m.joint(j1).id, m.joint(j0).id, -coef[j1] / coef[j0]))
        # map from the 20 actuated joint angles to all 24: q = B @ qa
        self.basis = np.zeros((m.nq, m.nu))
        for a, j in enumerate(self.act_joint):
            self.basis[j, a] = 1.0
        for j1, j0, ratio in self.coupled:
            a = int(np.where(self.act_joint == j1)[0][0])
            self.basis[j0, a] = ratio
        self._jac = np.zeros((3, m.nv))

    def _fingertips(self) -> np.ndarray:
        return np.concatenate([self.data.site_xpos[s] for s in self.sites])

    def _jacobian(self) -> np.ndarray:
        rows = []
        for s in self.sites:
            self._mj.mj_jacSite(self.model, self.data, self._jac, None, s)
            rows.append(self._jac.copy())
        return np.concatenate(rows) @ self.basis  # (15, 20)

    def slack(self, q: np.ndarray) -> np.ndarray:
        """Offsets (24,) of the distal joints from their nominal coupling (the tendons leave some play)."""
        out = np.zeros(self.model.nq)
        for j1, j0, ratio in self.coupled:
            out[j0] = q[j0] - ratio * q[j1]
        return out

    def solve(self, q: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Actuated joint angles (20,) that put the fingertips at goal (15,), starting from q (24,) and
        keeping the distal joints' current play."""
        m, d = self.model, self.data
        qa = np.clip(q[self.act_joint], self.ctrl_low, self.ctrl_high)
        offset = self.slack(q)
        damping = IK_DAMPING ** 2 * np.eye(GOAL_DIM)
        for _ in range(IK_ITERS):
            d.qpos[:] = np.clip(self.basis @ qa + offset, self.jnt_low, self.jnt_high)
            self._mj.mj_kinematics(m, d)
            err = goal - self._fingertips()
            if np.linalg.norm(err) < IK_TOL:
                break
            self._mj.mj_comPos(m, d)
            jac = self._jacobian()
            step = jac.T @ np.linalg.solve(jac @ jac.T + damping, err)
            scale = max(1.0, np.max(np.abs(step)) / IK_MAX_STEP)
            qa = np.clip(qa + step / scale, self.ctrl_low, self.ctrl_high)
        return qa

    def hold_torque(self, qa: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Generalised gravity and passive forces at the pose qa, mapped onto the 20 actuators."""
        m, d = self.model, self.data
        d.qpos[:] = np.clip(self.basis @ qa + offset, self.jnt_low, self.jnt_high)
        d.qvel[:] = 0.0
        self._mj.mj_forward(m, d)
        return self.basis.T @ (d.qfrc_bias - d.qfrc_passive)

    def action(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        q = obs[:NUM_JOINTS]
        qa = self.solve(q, goal)
        ctrl = qa + self.hold_torque(qa, self.slack(q)) / self.kp
        centre = 0.5 * (self.ctrl_high + self.ctrl_low)
        half = 0.5 * (self.ctrl_high - self.ctrl_low)
        return np.clip((ctrl - centre) / half, -1.0, 1.0)


@functools.lru_cache(maxsize=None)
def _hand_ik() -> HandIK:
    return HandIK()


def ik_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """HandReach: joint targets from damped least-squares IK toward the goal fingertip positions."""
    ik = _hand_ik()
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    return np.stack([ik.action(o[i], goal[i]) for i in range(len(o))]).astype(np.float32)


def _goal_sampler(n: int, rng: np.random.Generator) -> np.ndarray:
    return sample_goals(n, rng).astype(np.float32)


register_gym_env(GYM_ID, f"{__name__}:make_gym_env", {}, MAX_STEPS)
HAND_REACH = register_task(
    TaskSpec(
        name=TASK,
        obs_dim=OBS_DIM,
        goal_dim=GOAL_DIM,
        act_dim=ACT_DIM,
        eps=EPS,
        goal_indices=GOAL_SLICE,
        max_steps=MAX_STEPS,
        gym_id=GYM_ID,
        description="Shadow Dexterous Hand: place the five fingertips at goal positions (thumb meets a finger)",
        make_vec_env=make_vec_env,
        behaviour_policy=ik_policy,
        goal_sampler=_goal_sampler,
        behaviour_policy_name="scripted-hand-ik",
        simulator="gymnasium-robotics HandReach-v3 (MuJoCo)",
    )
)

__all__ = ["HAND_REACH", "HandIK", "ik_policy", "sample_goals", "make_gym_env", "make_vec_env"]

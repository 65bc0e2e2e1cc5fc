"""Fetch tasks of Gymnasium-Robotics as goplan tasks: Reach, Push, Pick(AndPlace), Slide, the OOD groups
of GOAT (Push/Pick Left-Right, Push Near-Far, Pick Low-High) and noisy FetchReach.

Every task wraps a subclass of the Gymnasium-Robotics MuJoCo environment (`Fetch*-v4`) whose object
placement and goal sampling come from this module's vectorised samplers (`sample_object_xy`,
`sample_goals`), so a task's goal_sampler and its environment draw from the same distribution by
construction. The OOD variants sample the object and the goal directly inside their regions (no
rejection over resets). Simulators of one kind share one read-only MjModel.

State layout (Gymnasium-Robotics): FetchReach obs[0:3] = gripper xyz (phi); Push/Pick/Slide obs[3:6] =
object xyz (phi), obs[0:3] gripper, obs[6:9] object - gripper, obs[9:11] finger joints, obs[14:17] object
velocity minus gripper velocity (times dt), obs[20:23] gripper velocity (times dt).

Heavy packages (mujoco, gymnasium_robotics) are imported only inside the factories.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from goplan.tasks.mujoco_common import GoalTaskEnv, MujocoVecGoalEnv, RoboticsCore, init_shared_simulation
from goplan.tasks.registry import TaskSpec, register_gym_env, register_task

# ======================================================================================
# constants of the Gymnasium-Robotics Fetch environments (v4; checked against the envs in the tests)
# ======================================================================================
MAX_STEPS = 50
EPS = 0.05
ACT_DIM = 4
GOAL_DIM = 3
REACH_OBS_DIM = 10
OBJECT_OBS_DIM = 25
GRIP_SLICE = (0, 1, 2)
OBJECT_SLICE = (3, 4, 5)
# initial gripper position after the env's setup, per model
GRIP0_REACH = (1.34183525, 0.74910104, 0.53472381)
GRIP0_PUSH = (1.3455407, 0.74902433, 0.41361656)
GRIP0_PUSH_OOD = (1.35162794, 0.74902808, 0.41355544)  # the enlarged Push table touches the arm while it settles
GRIP0_PICK = (1.34193525, 0.74910105, 0.53472382)
GRIP0_SLIDE = (0.99272972, 0.74904077, 0.41266129)
# height of the object's centre resting on the table
TABLE_Z_PUSH_PICK = 0.4246997490299934
TABLE_Z_SLIDE = 0.413536328354387
# default sampling ranges of Gymnasium-Robotics
REACH_TARGET_RANGE = 0.15
OBJ_RANGE = 0.15
TARGET_RANGE = 0.15
SLIDE_OBJ_RANGE = 0.1
SLIDE_TARGET_RANGE = 0.3
SLIDE_TARGET_OFFSET = (0.4, 0.0)
OBJ_MIN_DIST = 0.1  # the default object start is at least this far (xy) from the gripper
PICK_AIR_PROB = 0.5  # FetchPickAndPlace: probability that the goal is lifted off the table
PICK_AIR_HEIGHT = 0.45  # lifted goals rise up to this much above the table
# OOD regions (GOAT)
OOD_RANGE = 0.15  # obj_range = target_range for the OOD groups
NEAR_RADII = (0.0, 0.15)
FAR_RADII = (0.15, 0.3)
PICK_LOW_TOP = 0.6  # Low: goal z in [table, 0.6]
PICK_HIGH_Z = (0.6, 0.9)  # High: goal z in [0.6, 0.9]
PUSH_OOD_TABLE_HALF = (0.35, 0.35)  # GOAT enlarges the Push table so Far goals stay on it
NOISE_LEVELS = (0.5, 1.0, 1.5)

# ======================================================================================
# behaviour-policy constants
# ======================================================================================
TINY = 1e-9  # guards divisions by a zero length
MOCAP_STEP = 0.05  # metres per unit action per step (Gymnasium-Robotics scales actions by 0.05)
POS_GAIN = 2.0 / MOCAP_STEP  # action = gain * position error (twice the error: the arm lags its mocap target)
GRIPPER_OPEN = 1.0
GRIPPER_CLOSE = -1.0
# push
PUSH_BEHIND = 0.07  # where the gripper waits behind the object (from the object's centre)
PUSH_CONTACT = 0.035  # gripper-to-object-centre distance while pushing
PUSH_ALONG_MAX = -0.015  # the gripper counts as behind the object when (grip - obj).u is below this
PUSH_LATERAL_TOL = 0.012  # ... and its sideways offset from the push line is below this
PUSH_LATERAL_PUSHING = 0.025  # sideways offset tolerated once pushing
PUSH_ADVANCE = 0.1  # while pushing, aim this far ahead of the contact point (at most the remaining distance)
PUSH_DESCENT_STARTED = 0.01  # below the safe height by this much: the descent has begun
PUSH_XY_TOL_DESCENDING = 0.025  # waiting-point tolerance once descending
PUSH_SAFE_HEIGHT = 0.06  # travel height above the object when repositioning
PUSH_LOW_TOL = 0.02  # the gripper is "low" when below object z + this
PUSH_DONE_TOL = 0.01  # stop pushing when the object is this close to the goal
PUSH_XY_TOL = 0.01  # the gripper reached the waiting point when within this (xy)
PUSH_GAIN = 8.0  # gentler gain while pushing (the object lags the gripper)
# pick
PICK_ABOVE = 0.07  # approach height above the object
PICK_XY_TOL = 0.008  # xy alignment before descending
PICK_NEAR_XY = 0.016  # closer than this (xy), hover exactly at the approach height
PICK_GRASP_TOL = 0.012  # gripper-object distance at which the gripper closes
PICK_HOLD_TOL = 0.025  # object within this of the gripper counts as in hand
PICK_WIDTH_HELD = 0.06  # finger opening (sum of both fingers) below which a held block is gripped
PICK_WIDTH_MIN = 0.03  # below this the fingers closed on nothing
# slide: strike the resting puck once so that it glides to a stop at the goal (see slide_policy)
DT = 0.04  # s, control period (20 substeps of 2 ms)
PUCK_RADIUS = 0.025  # m, slide.xml object0 cylinder
FINGER_HALF_X = 0.014  # m, half extent of the closed fingers around the grip site along x (robot.xml boxes)
FINGER_HALF_Y = 0.016  # m, ... along y
# gliding model, fitted to MuJoCo pucks: friction pulls with TABLE_FRICTION * g, but MuJoCo's pyramidal friction
# cone shares it between the world axes as |v_i|^q / sum_j |v_j|^q (q = 1: straight against the motion; large q: all
# along the dominant axis, which slows diagonal motion less and bends fast pucks toward the diagonal)
TABLE_FRICTION = 0.1  # slide.xml friction of the table and the puck
GRAVITY = 9.81  # m/s^2
GLIDE_DECEL = TABLE_FRICTION * GRAVITY  # m/s^2, deceleration of a puck sliding along a world axis
GLIDE_SHARE_EXPONENT = (0.615, 5.108)  # q of slow and of fast pucks (fitted) ...
GLIDE_SHARE_SPEEDS = (0.116, 0.880)  # ... ramping linearly between these speeds (m/s, fitted)
GLIDE_CREEP_SPEEDS = (0.0327, 0.0559)  # m/s: friction fades out from the second speed down to the first (fitted)
GLIDE_HORIZON = 40  # control periods simulated to find where a puck will rest (an episode has 50)
GLIDE_SUBSTEPS = 2  # Euler substeps per control period
LAUNCH_ITERATIONS = 5  # corrections of the launch velocity (speed and direction) by simulating it
LAUNCH_SLOPE_RANGE = (0.2, 5.0)  # bounds of the secant slope (launch angle per rest angle)
LAUNCH_MIN_ANGLE_STEP = 1e-6  # rad: smaller changes of the rest angle leave the slope as it was
LAUNCH_FIRST_GUESS = 0.9  # first guess: this fraction of the speed that stops within the distance at GLIDE_DECEL
LAUNCH_SCALE_LIMIT = 2.0  # one correction scales the glide distance by at most this factor either way
# strikes (measured): the gripper rests touching the puck, then moves at a commanded speed; the puck leaves at
# STRIKE_RATIO times that speed (interpolated in the launch speed)
SLIDE_SPEED_PER_ACTION = 0.585  # m/s of gripper speed (as observed at the end of a step) per unit action
STRIKE_GRIP_SPEEDS = (0.15, 0.25, 0.35, 0.45, 0.55)  # m/s, commanded gripper speeds ...
STRIKE_RATIO = (2.07, 1.98, 1.94, 1.89, 1.87)  # ... and launch speed per unit of gripper speed
STRIKE_AIM_BIAS = np.radians(1.8)  # a corner strike launches this much further from the nearest axis than aimed
STRIKE_FACE_MAX = np.radians(0.9)  # closer to an axis than this, strike square on a face (launches along the axis)
# the arm sags back toward its base near the edge of its reach at table height (measured): the outward action that
# holds the gripper still grows with the distance from ARM_BASE_XY
ARM_BASE_XY = (0.36, 0.744)  # m, fitted centre of the arm's reach
ARM_HOLD_RADII = (0.80, 0.845, 0.895, 0.945, 0.995)  # m from ARM_BASE_XY ...
ARM_HOLD_ACTIONS = (0.0, 0.083, 0.183, 0.313, 0.52)  # ... and the holding action there
# getting into position (the strike calibration assumes exactly this approach)
SLIDE_GRIP_HEIGHT = 0.006  # m, gripper above the puck's centre (the fingertips just clear the table)
SLIDE_ORBIT_RADIUS = 0.075  # m: go round the puck on this circle ...
SLIDE_ORBIT_START = 0.6  # rad: ... when the gripper is further than this around from the strike side ...
SLIDE_ORBIT_STEP = 0.9  # rad: ... aiming this far ahead along the circle
SLIDE_STAGE = 0.03  # m, staging point behind the contact position
SLIDE_CORRIDOR = 0.015  # m: closer than this to the strike line (and behind the puck), close in on the puck
SLIDE_CLEARANCE = 0.001  # m, the contact position stops this short of touching
SLIDE_GAIN_FAR = 20.0  # 1/s, velocity command per metre of position error while travelling ...
SLIDE_GAIN_NEAR = 12.0  # 1/s, ... and while closing in
STRIKE_LATERAL_TOL = 0.008  # m: strike when within this of the strike line, ...
STRIKE_SHORT_TOL = 0.01  # m: ... at most this short of the contact position, ...
STRIKE_PAST_TOL = 0.01  # m: ... at most this past it ...
STRIKE_STILL = 0.2  # m/s: ... and moving slower than this relative to the puck
FOLLOW_GAP = 0.015  # m: keep pushing through while within this of the contact position ...
FOLLOW_SPEED_FRACTION = 0.5  # ... and moving along the strike faster than this fraction of the strike speed
FOLLOW_LATERAL_GAIN = 10.0  # 1/s, sideways correction while pushing through
PUCK_AT_REST = 0.1  # m/s: a slower puck can be struck (again)
HOME_REST_TOL = 0.02  # m: leave the puck alone once it will rest this close to the goal ...
HOME_NOW_TOL = 0.03  # m: ... or once it is at rest this close to it


# ======================================================================================
# layouts: where objects start and goals lie
# ======================================================================================
@dataclass(frozen=True)
class FetchLayout:
    """Object-start and goal distributions of one Fetch task, relative to the initial gripper."""

    base: str  # "reach", "push", "pick" or "slide"
    grip0: tuple[float, float, float]
    table_z: float
    obj_region: str = "default"  # "none", "default", "right", "left", "near", "far"
    obj_range: float = OBJ_RANGE
    goal_xy: str = "square"  # "square", "right", "left", "near", "far"
    goal_range: float = TARGET_RANGE
    goal_offset: tuple[float, float] = (0.0, 0.0)
    goal_z: str = "table"  # "reach", "table", "pick", "air", "low", "high"
    table_half: tuple[float, float] | None = None  # enlarge the table (half sizes in x, y)


def _annulus(n: int, rng: np.random.Generator, radii: tuple[float, float]) -> np.ndarray:
    """n points uniform (by area) in the annulus r0 <= r <= r1 around the origin."""
    r0, r1 = radii
    r = np.sqrt(rng.uniform(r0 * r0, r1 * r1, size=n))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _side(n: int, rng: np.random.Generator, rng_range: float, sign: float) -> np.ndarray:
    """x offset uniform in [-range, range], y offset uniform in [0, range] on the side `sign`."""
    x = rng.uniform(-rng_range, rng_range, size=n)
    y = sign * rng.uniform(0.0, rng_range, size=n)
    return np.stack([x, y], axis=1)


def _region_offsets(kind: str, n: int, rng: np.random.Generator, rng_range: float) -> np.ndarray:
    if kind == "right":
        return _side(n, rng, rng_range, 1.0)
    if kind == "left":
        return _side(n, rng, rng_range, -1.0)
    if kind == "near":
        return _annulus(n, rng, NEAR_RADII)
    if kind == "far":
        return _annulus(n, rng, FAR_RADII)
    if kind == "square":
        return rng.uniform(-rng_range, rng_range, size=(n, 2))
    raise ValueError(f"unknown region {kind!r}")


def sample_object_xy(layout: FetchLayout, n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial object xy (n, 2) for the layout."""
    grip = np.asarray(layout.grip0[:2])
    if layout.obj_region == "default":
        # Gymnasium-Robotics: uniform in the square, at least OBJ_MIN_DIST from the gripper (vectorised rejection)
        out = np.empty((n, 2))
        missing = np.arange(n)
        while missing.size:
            cand = rng.uniform(-layout.obj_range, layout.obj_range, size=(missing.size, 2))
            ok = np.linalg.norm(cand, axis=1) >= OBJ_MIN_DIST
            out[missing[ok]] = cand[ok]
            missing = missing[~ok]
        return grip + out
    return grip + _region_offsets(layout.obj_region, n, rng, layout.obj_range)


def sample_goals(layout: FetchLayout, n: int, rng: np.random.Generator) -> np.ndarray:
    """Goals (n, 3) for the layout."""
    grip = np.asarray(layout.grip0)
    if layout.base == "reach":
        return grip + rng.uniform(-REACH_TARGET_RANGE, REACH_TARGET_RANGE, size=(n, 3))
    goals = np.empty((n, 3))
    goals[:, :2] = grip[:2] + np.asarray(layout.goal_offset) + _region_offsets(
        layout.goal_xy, n, rng, layout.goal_range)
    z = np.full(n, layout.table_z)
    if layout.goal_z == "pick":
        lifted = rng.uniform(size=n) < PICK_AIR_PROB
        z = z + np.where(lifted, rng.uniform(0.0, PICK_AIR_HEIGHT, size=n), 0.0)
    elif layout.goal_z == "air":
        z = z + rng.uniform(0.0, PICK_AIR_HEIGHT, size=n)
    elif layout.goal_z == "low":
        z = rng.uniform(layout.table_z, PICK_LOW_TOP, size=n)
    elif layout.goal_z == "high":
        z = rng.uniform(*PICK_HIGH_Z, size=n)
    elif layout.goal_z != "table":
        raise ValueError(f"unknown goal height rule {layout.goal_z!r}")
    goals[:, 2] = z
    return goals


# ======================================================================================
# the simulator: Gymnasium-Robotics Fetch env subclasses (built lazily)
# ======================================================================================
@functools.lru_cache(maxsize=None)
def _fetch_env_class(base: str):
    import mujoco
    from gymnasium_robotics.envs.fetch.pick_and_place import MujocoFetchPickAndPlaceEnv
    from gymnasium_robotics.envs.fetch.push import MujocoFetchPushEnv
    from gymnasium_robotics.envs.fetch.reach import MujocoFetchReachEnv
    from gymnasium_robotics.envs.fetch.slide import MujocoFetchSlideEnv

    parent = {"reach": MujocoFetchReachEnv, "push": MujocoFetchPushEnv, "pick": MujocoFetchPickAndPlaceEnv,
              "slide": MujocoFetchSlideEnv}[base]

    class GoplanFetchEnv(parent):
        """A Fetch env whose object start and goal come from a FetchLayout, on a shared MjModel."""

        def __init__(self, layout: FetchLayout):
            self._layout = layout
            super().__init__(reward_type="sparse")

        def _initialize_simulation(self):
            table_half = self._layout.table_half

            def build():
                model = mujoco.MjModel.from_xml_path(self.fullpath)
                if table_half is not None:
                    table = model.body("table0").id
                    for g in range(model.ngeom):
                        if model.geom_bodyid[g] == table:
                            model.geom_size[g, :2] = table_half
                return model

            init_shared_simulation(self, (self.fullpath, table_half), build)

        def _reset_sim(self):
            mujoco.mj_resetData(self.model, self.data)
            self.data.time = self.initial_time
            self.data.qpos[:] = self.initial_qpos
            self.data.qvel[:] = self.initial_qvel
            if self.has_object:
                xy = sample_object_xy(self._layout, 1, self.np_random)[0]
                qpos = self._utils.get_joint_qpos(self.model, self.data, "object0:joint").copy()
                qpos[:2] = xy
                self._utils.set_joint_qpos(self.model, self.data, "object0:joint", qpos)
            mujoco.mj_forward(self.model, self.data)
            return True

        def _sample_goal(self):
            return sample_goals(self._layout, 1, self.np_random)[0].copy()

    GoplanFetchEnv.__name__ = f"GoplanFetch{base.capitalize()}Env"
    return GoplanFetchEnv


def make_fetch_core(layout: FetchLayout) -> RoboticsCore:
    env = _fetch_env_class(layout.base)(layout)
    obs_dim = REACH_OBS_DIM if layout.base == "reach" else OBJECT_OBS_DIM
    return RoboticsCore(env, obs_dim, GOAL_DIM, ACT_DIM)


# ======================================================================================
# behaviour policies (noise-free, stateless: a function of the observation and goal only)
# ======================================================================================
def _to_action(target: np.ndarray, grip: np.ndarray, gripper: np.ndarray, gain: float | np.ndarray = POS_GAIN):
    gain = np.asarray(gain, dtype=np.float64)
    if gain.ndim == 1:
        gain = gain[:, None]
    act = np.empty((len(grip), ACT_DIM), dtype=np.float64)
    act[:, :3] = gain * (target - grip)
    act[:, 3] = gripper
    return np.clip(act, -1.0, 1.0).astype(np.float32)


def reach_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """FetchReach: move the gripper straight to the goal."""
    grip = np.asarray(obs["observation"], np.float64)[:, 0:3]
    goal = np.asarray(obs["desired_goal"], np.float64)
    return _to_action(goal, grip, np.zeros(len(grip)))


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, TINY), norm[..., 0]


def push_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """FetchPush: get behind the object (seen from the goal) at a safe height, descend, push it to the goal.

    Stateless: the phase is read off the geometry every step, so a block that turns or slips sideways is
    simply approached again."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    grip, obj = o[:, 0:3], o[:, 3:6]
    u, dist = _unit(goal[:, :2] - obj[:, :2])
    rel = grip[:, :2] - obj[:, :2]
    along = np.sum(rel * u, axis=1)
    lateral = np.linalg.norm(rel - along[:, None] * u, axis=1)
    low = grip[:, 2] < obj[:, 2] + PUSH_LOW_TOL
    # pushing tolerates more sideways offset than starting a push (hysteresis)
    behind = (along < PUSH_ALONG_MAX) & (lateral < np.where(low, PUSH_LATERAL_PUSHING, PUSH_LATERAL_TOL))
    wait_xy = obj[:, :2] - u * PUSH_BEHIND
    safe_z = obj[:, 2] + PUSH_SAFE_HEIGHT
    wait_err = np.linalg.norm(grip[:, :2] - wait_xy, axis=1)
    descending = grip[:, 2] < safe_z - PUSH_DESCENT_STARTED
    at_wait = wait_err < np.where(descending, PUSH_XY_TOL_DESCENDING, PUSH_XY_TOL)

    target = np.empty_like(grip)
    gain = np.full(len(grip), POS_GAIN)
    # default: travel to the waiting point at the safe height
    target[:, :2] = wait_xy
    target[:, 2] = safe_z
    # low but not behind the object: rise straight up first (never sweep across the table)
    rise = ~behind & low
    target[rise, :2] = grip[rise, :2]
    # above the waiting point: descend to the object's height
    descend = at_wait & ~low
    target[descend, 2] = obj[descend, 2]
    # behind, aligned and low: stay on the line from the goal through the object and advance along it
    push = behind & low
    advance = np.minimum(dist, PUSH_ADVANCE)[:, None]
    target[push, :2] = (obj[:, :2] + u * (advance - PUSH_CONTACT))[push]
    target[push, 2] = obj[push, 2]
    gain[push] = PUSH_GAIN
    # done: hold still
    done = dist < PUSH_DONE_TOL
    target[done] = grip[done]
    return _to_action(target, grip, np.zeros(len(grip)), gain)


def pick_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """FetchPickAndPlace: hover above the object with open fingers, descend, close, carry it to the goal."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    grip, obj = o[:, 0:3], o[:, 3:6]
    width = o[:, 9] + o[:, 10]
    rel = obj - grip
    xy_err = np.linalg.norm(rel[:, :2], axis=1)
    dist = np.linalg.norm(rel, axis=1)
    held = (dist < PICK_HOLD_TOL) & (width < PICK_WIDTH_HELD) & (width > PICK_WIDTH_MIN)
    grasp = ~held & (dist < PICK_GRASP_TOL)
    aligned = xy_err < PICK_XY_TOL

    n = len(grip)
    target = np.empty_like(grip)
    fingers = np.full(n, GRIPPER_OPEN)
    # approach: above the object, fingers open
    target[:, :2] = obj[:, :2]
    target[:, 2] = np.maximum(obj[:, 2] + PICK_ABOVE, grip[:, 2])
    target[:, 2] = np.where(xy_err < PICK_NEAR_XY, obj[:, 2] + PICK_ABOVE, target[:, 2])
    # aligned: descend onto the object
    target[aligned] = obj[aligned]
    # close around it
    target[grasp] = obj[grasp]
    fingers[grasp] = GRIPPER_CLOSE
    # carry the object to the goal
    target[held] = grip[held] + (goal[held] - obj[held])
    fingers[held] = GRIPPER_CLOSE
    return _to_action(target, grip, fingers)


def _glide_decel(vel: np.ndarray) -> np.ndarray:
    """Acceleration (n, 2) of pucks gliding with velocity vel (n, 2) under table friction (the fitted model)."""
    speed = np.linalg.norm(vel, axis=-1, keepdims=True)
    share = np.abs(vel) / np.maximum(speed, TINY)
    lo, hi = GLIDE_SHARE_SPEEDS
    q = GLIDE_SHARE_EXPONENT[0] + (GLIDE_SHARE_EXPONENT[1] - GLIDE_SHARE_EXPONENT[0]) * np.clip(
        (speed - lo) / (hi - lo), 0.0, 1.0)
    share = share ** q
    share = share / np.maximum(share.sum(-1, keepdims=True), TINY)
    creep_lo, creep_hi = GLIDE_CREEP_SPEEDS
    strength = np.clip((speed - creep_lo) / (creep_hi - creep_lo), 0.0, 1.0)
    return -GLIDE_DECEL * strength * np.sign(vel) * share


def puck_rest_point(pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """Where pucks at pos (n, 2) gliding with velocity vel (n, 2) m/s will be after GLIDE_HORIZON steps (at rest,
    or nearly: the slowest pucks creep on)."""
    pos = np.array(pos, dtype=np.float64)
    vel = np.array(vel, dtype=np.float64)
    h = DT / GLIDE_SUBSTEPS
    for _ in range(GLIDE_HORIZON * GLIDE_SUBSTEPS):
        new = vel + h * _glide_decel(vel)
        new = np.where(np.sign(new) != np.sign(vel), 0.0, new)  # friction stops a component, never reverses it
        pos += 0.5 * h * (vel + new)
        vel = new
    return pos


def puck_launch_velocity(pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Velocity (n, 2) with which pucks at pos (n, 2) glide to rest at goal (n, 2) in the glide model: a
    straight-line first guess, then corrections from simulated glides (secant steps in the launch angle, since
    fast pucks bend; the glide distance grows with the square of the speed)."""
    to_goal = goal - pos
    _, dist = _unit(to_goal)
    goal_angle = np.arctan2(to_goal[:, 1], to_goal[:, 0])
    angle = goal_angle.copy()
    speed = LAUNCH_FIRST_GUESS * np.sqrt(2.0 * GLIDE_DECEL * dist)
    slope = np.ones_like(angle)  # change of launch angle per change of rest angle
    last = None
    for _ in range(LAUNCH_ITERATIONS):
        glide = puck_rest_point(pos, speed[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)) - pos
        rest_angle = np.arctan2(glide[:, 1], glide[:, 0])
        if last is not None:
            d_launch = angle - last[0]
            d_rest = (rest_angle - last[1] + np.pi) % (2.0 * np.pi) - np.pi
            measurable = np.abs(d_rest) > LAUNCH_MIN_ANGLE_STEP
            slope = np.where(measurable, np.clip(d_launch / np.where(measurable, d_rest, 1.0), *LAUNCH_SLOPE_RANGE),
                             slope)
        last = (angle.copy(), rest_angle)
        angle = angle + slope * ((goal_angle - rest_angle + np.pi) % (2.0 * np.pi) - np.pi)
        ratio = dist / np.maximum(np.linalg.norm(glide, axis=1), TINY)
        speed = speed * np.sqrt(np.clip(ratio, 1.0 / LAUNCH_SCALE_LIMIT, LAUNCH_SCALE_LIMIT))
    return speed[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _strike_speed(launch_speed: np.ndarray) -> np.ndarray:
    """Gripper speed command (m/s) whose strike launches the puck at launch_speed."""
    grip, ratio = np.asarray(STRIKE_GRIP_SPEEDS), np.asarray(STRIKE_RATIO)
    return launch_speed / np.interp(launch_speed, grip * ratio, ratio)


def _strike_geometry(launch_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For launch directions (n, 2): the direction to move the gripper in and the gripper position relative to the
    puck at contact. Near an axis a face of the fingers strikes the puck square (launching it along the axis);
    otherwise a corner strikes it along the corner-to-centre line, aimed STRIKE_AIM_BIAS closer to the axis."""
    mag = np.abs(launch_dir)
    x_major = (mag[:, 0] >= mag[:, 1])[:, None]
    sx = np.where(launch_dir[:, 0] >= 0.0, 1.0, -1.0)
    sy = np.where(launch_dir[:, 1] >= 0.0, 1.0, -1.0)
    zero = np.zeros_like(sx)
    off_axis = np.arctan2(mag.min(axis=1), mag.max(axis=1))
    face = (off_axis < STRIKE_FACE_MAX)[:, None]
    aim = np.maximum(off_axis - STRIKE_AIM_BIAS, 0.0)
    major, minor = np.cos(aim), np.sin(aim)
    corner_dir = np.where(x_major, np.stack([sx * major, sy * minor], 1), np.stack([sx * minor, sy * major], 1))
    axis_dir = np.where(x_major, np.stack([sx, zero], 1), np.stack([zero, sy], 1))
    move = np.where(face, axis_dir, corner_dir)
    corner = np.stack([sx * FINGER_HALF_X, sy * FINGER_HALF_Y], 1)
    face_centre = np.where(x_major, np.stack([sx * FINGER_HALF_X, zero], 1), np.stack([zero, sy * FINGER_HALF_Y], 1))
    offset = -(PUCK_RADIUS * move + np.where(face, face_centre, corner))
    return move, offset


def slide_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """FetchSlide: strike the resting puck once, from touching it, so that it glides to rest at the goal.

    The velocity the puck needs comes from a model of its glide (table friction shared between the axes as
    MuJoCo's pyramidal friction cone does, which bends fast pucks toward the diagonals), the gripper speed that
    launches it so from a measured strike ratio, and the strike geometry (square on a face near an axis, else on a
    corner of the fingers) from measured launch directions. The gripper goes round the puck at table height to
    the strike side, closes in on the contact position, strikes and pushes through while the puck leaves. A puck
    that comes to rest away from the goal is struck again if the arm reaches it. Stateless and deterministic:
    everything is read off the observation (rng is unused)."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)[:, :2]
    grip, grip_z = o[:, 0:2], o[:, 2]
    puck, puck_z = o[:, 3:5], o[:, 5]
    puck_vel = (o[:, 14:16] + o[:, 20:22]) / DT  # the observation holds (puck - gripper) and gripper velocity * dt
    grip_vel = o[:, 20:22] / DT
    speed = np.linalg.norm(puck_vel, axis=1)
    at_rest = speed < PUCK_AT_REST
    miss = goal - puck_rest_point(puck, puck_vel)
    home = (np.linalg.norm(miss, axis=1) < HOME_REST_TOL) | (
        at_rest & (np.linalg.norm(goal - puck, axis=1) < HOME_NOW_TOL))
    # a moving puck that will overshoot is beyond help
    overshoot = ~at_rest & (np.sum(miss * puck_vel, axis=1) < 0.0)

    launch_dir, launch_speed = _unit(puck_launch_velocity(puck, goal))
    move, contact_offset = _strike_geometry(launch_dir)
    side = np.stack([-move[:, 1], move[:, 0]], axis=1)
    strike_speed = np.minimum(_strike_speed(launch_speed), SLIDE_SPEED_PER_ACTION / np.max(np.abs(move), axis=1))

    contact = puck + contact_offset - SLIDE_CLEARANCE * move
    to_contact = contact - grip
    short = np.sum(to_contact * move, axis=1)  # > 0: the gripper is behind the contact position
    lateral = np.sum(to_contact * side, axis=1)
    behind = np.sum((grip - puck) * move, axis=1) < -PUCK_RADIUS
    corridor = behind & (np.abs(lateral) < SLIDE_CORRIDOR)

    # travel: go round the puck on a circle until on the strike side, then to the staging point, then close in
    rel = grip - puck
    grip_angle = np.arctan2(rel[:, 1], rel[:, 0])
    turn = (np.arctan2(-move[:, 1], -move[:, 0]) - grip_angle + np.pi) % (2.0 * np.pi) - np.pi
    orbit_angle = grip_angle + np.sign(turn) * np.minimum(np.abs(turn), SLIDE_ORBIT_STEP)
    orbit = puck + SLIDE_ORBIT_RADIUS * np.stack([np.cos(orbit_angle), np.sin(orbit_angle)], axis=1)
    stage = contact - SLIDE_STAGE * move
    target = np.where(corridor[:, None], contact, stage)
    target = np.where((np.abs(turn) > SLIDE_ORBIT_START)[:, None], orbit, target)
    gain = np.where(corridor, SLIDE_GAIN_NEAR, SLIDE_GAIN_FAR)
    vel_cmd = puck_vel + gain[:, None] * (target - grip)

    # strike a puck at rest from the contact position; push through while the launched puck leaves
    in_place = ((np.abs(lateral) < STRIKE_LATERAL_TOL) & (short < STRIKE_SHORT_TOL) & (short > -STRIKE_PAST_TOL)
                & (np.linalg.norm(grip_vel - puck_vel, axis=1) < STRIKE_STILL))
    strike = at_rest & in_place
    follow = (~at_rest & corridor & (np.sum((puck + contact_offset - grip) * move, axis=1) < FOLLOW_GAP)
              & (np.sum(grip_vel * move, axis=1) > FOLLOW_SPEED_FRACTION * strike_speed))
    push = strike_speed[:, None] * move + FOLLOW_LATERAL_GAIN * lateral[:, None] * side
    vel_cmd = np.where((strike | follow)[:, None], push, vel_cmd)
    # otherwise wait: the puck is home, overshooting, or gliding on
    vel_cmd[home | overshoot | (~at_rest & ~follow)] = 0.0

    act = np.zeros((len(o), ACT_DIM))
    act[:, :2] = vel_cmd / SLIDE_SPEED_PER_ACTION
    act[:, :2] /= np.maximum(np.max(np.abs(act[:, :2]), axis=1, keepdims=True), 1.0)  # keep the direction
    outward, reach = _unit(grip - np.asarray(ARM_BASE_XY))
    act[:, :2] += np.interp(reach, ARM_HOLD_RADII, ARM_HOLD_ACTIONS)[:, None] * outward
    act[:, 2] = SLIDE_GAIN_FAR * (puck_z + SLIDE_GRIP_HEIGHT - grip_z) / SLIDE_SPEED_PER_ACTION
    act[:, 3] = GRIPPER_CLOSE
    return np.clip(act, -1.0, 1.0).astype(np.float32)


# ======================================================================================
# tasks
# ======================================================================================
def _layouts() -> dict[str, FetchLayout]:
    reach = FetchLayout("reach", GRIP0_REACH, TABLE_Z_PUSH_PICK, obj_region="none", goal_z="reach")
    push = FetchLayout("push", GRIP0_PUSH, TABLE_Z_PUSH_PICK)
    pick = FetchLayout("pick", GRIP0_PICK, TABLE_Z_PUSH_PICK, goal_z="pick")
    slide = FetchLayout("slide", GRIP0_SLIDE, TABLE_Z_SLIDE, obj_range=SLIDE_OBJ_RANGE,
                        goal_range=SLIDE_TARGET_RANGE, goal_offset=SLIDE_TARGET_OFFSET)
    out = {"FetchReach": reach, "FetchPush": push, "FetchPick": pick, "FetchSlide": slide}
    for level in NOISE_LEVELS:
        out[f"FetchReachNoise-{level}"] = reach
    sides = ("Right", "Left")
    push_ood = replace(push, grip0=GRIP0_PUSH_OOD, obj_range=OOD_RANGE, goal_range=OOD_RANGE,
                       table_half=PUSH_OOD_TABLE_HALF)
    pick_ood = replace(pick, obj_range=OOD_RANGE, goal_range=OOD_RANGE)
    for start in sides:
        for end in sides:
            suffix = f"{start}2{end}"
            out[f"FetchPushOOD-{suffix}"] = replace(push_ood, obj_region=start.lower(), goal_xy=end.lower())
            out[f"FetchPickOOD-{suffix}"] = replace(pick_ood, obj_region=start.lower(), goal_xy=end.lower(),
                                                     goal_z="air")
    for start in ("Near", "Far"):
        for end in ("Near", "Far"):
            out[f"FetchPushOOD-{start}2{end}"] = replace(push_ood, obj_region=start.lower(), goal_xy=end.lower())
    out["FetchPickOOD-Low2Low"] = replace(pick_ood, goal_z="low")
    out["FetchPickOOD-Low2High"] = replace(pick_ood, goal_z="high")
    return out


LAYOUTS: dict[str, FetchLayout] = _layouts()
_POLICIES = {"reach": (reach_policy, "scripted-fetch-reach"), "push": (push_policy, "scripted-fetch-push"),
             "pick": (pick_policy, "scripted-fetch-pick"), "slide": (slide_policy, "scripted-fetch-slide")}


def action_noise(task: str) -> float:
    return float(task.split("-")[1]) if task.startswith("FetchReachNoise-") else 0.0


def make_gym_env(task: str, render_mode: str | None = None) -> GoalTaskEnv:
    """One episode of a Fetch task as a Gymnasium environment (the entry point of goplan/<task>-v0)."""
    layout = LAYOUTS[task]
    return GoalTaskEnv(functools.partial(make_fetch_core, layout), EPS, MAX_STEPS,
                       action_noise_std=action_noise(task), render_mode=render_mode)


def _vec_factory(task: str):
    def make(num_envs: int, seed: int | None = None, **kwargs) -> MujocoVecGoalEnv:
        return MujocoVecGoalEnv(functools.partial(make_gym_env, task, **kwargs), num_envs, seed=seed)

    return make


def _goal_sampler(layout: FetchLayout):
    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_goals(layout, n, rng).astype(np.float32)

    return sample


def _register(task: str, layout: FetchLayout) -> TaskSpec:
    gym_id = f"goplan/{task}-v0"
    register_gym_env(gym_id, f"{__name__}:make_gym_env", {"task": task}, MAX_STEPS)
    policy, policy_name = _POLICIES[layout.base]
    reach = layout.base == "reach"
    noise = action_noise(task)
    desc = {
        "reach": "Fetch arm: move the gripper to a 3-D goal",
        "push": "Fetch arm: push a block across the table to a goal",
        "pick": "Fetch arm: pick a block up and place it at a goal (on the table or in the air)",
        "slide": "Fetch arm: slide a puck along a low-friction table to a goal out of reach",
    }[layout.base]
    if noise:
        desc += f"; the environment adds N(0, {noise}^2) noise to every action"
    if "OOD" in task:
        desc += f"; OOD layout: object {layout.obj_region}, goal {layout.goal_xy}/{layout.goal_z}"
    return register_task(
        TaskSpec(
            name=task,
            obs_dim=REACH_OBS_DIM if reach else OBJECT_OBS_DIM,
            goal_dim=GOAL_DIM,
            act_dim=ACT_DIM,
            eps=EPS,
            goal_indices=GRIP_SLICE if reach else OBJECT_SLICE,
            max_steps=MAX_STEPS,
            gym_id=gym_id,
            description=desc,
            make_vec_env=_vec_factory(task),
            behaviour_policy=policy,
            goal_sampler=_goal_sampler(layout),
            extra={"behaviour_policy_name": policy_name, "layout": layout, "action_noise_std": noise,
                   "simulator": f"gymnasium-robotics Fetch{layout.base.capitalize()}-v4 (MuJoCo)"},
        )
    )


FETCH_TASKS: dict[str, TaskSpec] = {task: _register(task, layout) for task, layout in LAYOUTS.items()}

__all__ = ["FETCH_TASKS", "LAYOUTS", "FetchLayout", "sample_goals", "sample_object_xy", "reach_policy",
           "push_policy", "pick_policy", "slide_policy", "puck_rest_point", "puck_launch_velocity",
           "make_gym_env"]

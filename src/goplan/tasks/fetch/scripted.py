"""Scripted behaviour policies of FetchReach, FetchPush and FetchPick(AndPlace), and the helpers they
share with the FetchSlide policy (`slide.py`).

Every policy is noise-free and stateless: a function of the observation and goal only, vectorised
over a batch of episodes. The data's noise is added by goplan.data.collect.
"""
from __future__ import annotations

import numpy as np

from goplan.tasks.fetch.env import ACT_DIM

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


def _to_action(target: np.ndarray, grip: np.ndarray, gripper: np.ndarray, gain: float | np.ndarray = POS_GAIN):
    """float32 actions (n, 4): gain times the position error (per row where gain is an array), then the
    finger command, clipped to the action box."""
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


def unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along v (..., d) and the lengths of v (...); a zero vector stays zero."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, TINY), norm[..., 0]


def push_policy(obs: dict[str, np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
    """FetchPush: get behind the object (seen from the goal) at a safe height, descend, push it to the goal.

    Stateless: the phase is read off the geometry every step, so a block that turns or slips sideways is
    simply approached again."""
    o = np.asarray(obs["observation"], np.float64)
    goal = np.asarray(obs["desired_goal"], np.float64)
    grip, obj = o[:, 0:3], o[:, 3:6]
    u, dist = unit(goal[:, :2] - obj[:, :2])
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



__all__ = ["pick_policy", "push_policy", "reach_policy", "unit"]

"""The scripted FetchSlide policy: strike the resting puck once, from touching it, so that it glides to
rest at the goal. Where to aim comes from the glide model (`glide.py`); the strike speed, the strike
geometry and the arm's sag were measured in the simulator.
"""
from __future__ import annotations

import numpy as np

from goplan.tasks.fetch.env import ACT_DIM
from goplan.tasks.fetch.glide import DT, puck_launch_velocity, puck_rest_point
from goplan.tasks.fetch.scripted import GRIPPER_CLOSE, unit

PUCK_RADIUS = 0.025  # m, slide.xml object0 cylinder
FINGER_HALF_X = 0.014  # m, half extent of the closed fingers around the grip site along x (robot.xml boxes)
FINGER_HALF_Y = 0.016  # m, ... along y
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

    launch_dir, launch_speed = unit(puck_launch_velocity(puck, goal))
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
    outward, reach = unit(grip - np.asarray(ARM_BASE_XY))
    act[:, :2] += np.interp(reach, ARM_HOLD_RADII, ARM_HOLD_ACTIONS)[:, None] * outward
    act[:, 2] = SLIDE_GAIN_FAR * (puck_z + SLIDE_GRIP_HEIGHT - grip_z) / SLIDE_SPEED_PER_ACTION
    act[:, 3] = GRIPPER_CLOSE
    return np.clip(act, -1.0, 1.0).astype(np.float32)



__all__ = ["slide_policy"]

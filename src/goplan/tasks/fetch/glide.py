"""The FetchSlide glide model: how a struck puck glides to rest on the table, and with what velocity to
launch it so that it rests at a goal (fitted to MuJoCo pucks). The slide policy (`slide.py`) aims
with it.
"""
from __future__ import annotations

import numpy as np

from goplan.tasks.fetch.scripted import TINY, unit

DT = 0.04  # s, control period (20 substeps of 2 ms)
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
    _, dist = unit(to_goal)
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



__all__ = ["puck_launch_velocity", "puck_rest_point"]

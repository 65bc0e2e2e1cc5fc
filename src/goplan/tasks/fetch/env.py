"""The Fetch simulators: Gymnasium-Robotics Fetch environments whose object start and goal come from a
FetchLayout, wrapped as one goplan episode (`make_gym_env`) and as a vectorised env (`vec_env_factory`).

Simulators of one kind share one read-only MjModel. mujoco and gymnasium_robotics are imported only
inside `_fetch_env_class`, when the first environment is built.

State layout (Gymnasium-Robotics): FetchReach obs[0:3] = gripper xyz (phi); Push/Pick/Slide obs[3:6] =
object xyz (phi), obs[0:3] gripper, obs[6:9] object - gripper, obs[9:11] finger joints, obs[14:17] object
velocity minus gripper velocity (times dt), obs[20:23] gripper velocity (times dt).
"""
from __future__ import annotations

import functools

from goplan.tasks.fetch.layouts import LAYOUTS, FetchLayout, action_noise, sample_goals, sample_object_xy
from goplan.tasks.mujoco_common import GoalTaskEnv, MujocoVecGoalEnv, RoboticsCore, init_shared_simulation

# constants of the Gymnasium-Robotics Fetch environments (v4; checked against the envs in the tests)
MAX_STEPS = 50
EPS = 0.05
ACT_DIM = 4
GOAL_DIM = 3
REACH_OBS_DIM = 10
OBJECT_OBS_DIM = 25
GRIP_SLICE = (0, 1, 2)
OBJECT_SLICE = (3, 4, 5)


@functools.lru_cache(maxsize=None)
def _fetch_env_class(base: str):
    """The env class of a layout base ("reach", "push", "pick" or "slide"), built on first use."""
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
    """One simulator of the layout, as the core a GoalTaskEnv steps."""
    env = _fetch_env_class(layout.base)(layout)
    obs_dim = REACH_OBS_DIM if layout.base == "reach" else OBJECT_OBS_DIM
    return RoboticsCore(env, obs_dim, GOAL_DIM, ACT_DIM)


def make_gym_env(task: str, render_mode: str | None = None) -> GoalTaskEnv:
    """One episode of a Fetch task as a Gymnasium environment (the entry point of goplan/<task>-v0)."""
    layout = LAYOUTS[task]
    return GoalTaskEnv(functools.partial(make_fetch_core, layout), EPS, MAX_STEPS,
                       action_noise_std=action_noise(task), render_mode=render_mode)


def vec_env_factory(task: str):
    """(num_envs, seed, **kwargs) -> a MujocoVecGoalEnv of the task: the TaskSpec's make_vec_env."""

    def make(num_envs: int, seed: int | None = None, **kwargs) -> MujocoVecGoalEnv:
        return MujocoVecGoalEnv(functools.partial(make_gym_env, task, **kwargs), num_envs, seed=seed)

    return make


__all__ = ["ACT_DIM", "EPS", "GOAL_DIM", "GRIP_SLICE", "MAX_STEPS", "OBJECT_OBS_DIM", "OBJECT_SLICE",
           "REACH_OBS_DIM", "make_fetch_core", "make_gym_env", "vec_env_factory"]

"""The built-in tasks: importing this module registers every one of them.

Each task module registers its TaskSpecs with `goplan.tasks.registry.register_task` when it is
imported; this is the one place that imports them all. `goplan.tasks` (the package) imports this
module, so any import of a `goplan.tasks` module registers the built-in tasks first.

The MuJoCo task modules register static TaskSpecs without importing mujoco, gymnasium_robotics or
metaworld; those load inside the environment factories, so listing tasks stays cheap.
"""
from __future__ import annotations


def _quiet_adroit_notice() -> None:
    """gymnasium-robotics prints a notice about its Adroit hand tasks (which goplan does not use) to
    stderr on import; drop it, so that a one-line error stays one line."""
    try:
        import farama_notifications
    except ImportError:
        return
    farama_notifications.notifications.pop("gymnasium_robotics", None)


_quiet_adroit_notice()  # before any factory can import gymnasium_robotics

# isort: split
from goplan.tasks import fetch, hand, point, reacher, sawyer  # noqa: E402  (importing registers the tasks)

BUILTIN_MODULES = (point, fetch, hand, reacher, sawyer)

__all__ = ["BUILTIN_MODULES"]

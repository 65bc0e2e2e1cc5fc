"""Runs beside other busy processes (goplan/threads.py, docs/notes/overlap-under-load.md): importing goplan
makes torch's idle OpenMP threads sleep instead of spinning, before torch loads its OpenMP runtime,
unless the user chose a wait policy; the setting reaches worker processes, and where torch came first
goplan says that it was too late.

Each check runs in a fresh interpreter: libgomp reads its settings once, when torch is imported.
OMP_DISPLAY_ENV=verbose makes libgomp print what it read (on stderr) when it is loaded."""
import os
import subprocess
import sys

import pytest

from goplan.threads import WAIT_VARIABLES, configure_openmp_wait

CHILD = """
import json, os, subprocess, sys
{first}
import torch
torch.ones(4).sum()  # the OpenMP runtime is loaded with torch
from goplan.threads import openmp_wait
worker = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                        capture_output=True, text=True, check=True).stdout.strip()
print(json.dumps(dict(openmp_wait(), worker=worker)))
"""


def _run(first: str = "import goplan", **env_vars: str):
    """A fresh interpreter with none of the wait variables set except `env_vars`: (goplan's report, the
    settings libgomp printed, or {} where the runtime prints none)."""
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    env.update(env_vars, OMP_DISPLAY_ENV="verbose")
    out = subprocess.run([sys.executable, "-c", CHILD.format(first=first)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout.strip().splitlines()[-1])
    shown = {}
    for line in out.stderr.splitlines():  # libgomp's lines:   OMP_WAIT_POLICY = 'PASSIVE'
        key, sep, value = line.strip().partition(" = ")
        if sep and key in WAIT_VARIABLES:
            shown[key] = value.strip("'")
    return report, shown


def test_importing_goplan_makes_idle_openmp_threads_sleep():
    report, shown = _run("import goplan")
    assert report["OMP_WAIT_POLICY"] == "PASSIVE" and report["set_by_goplan"] and report["effective"]
    assert report["worker"] == "PASSIVE"  # child processes inherit it
    if "GOMP_SPINCOUNT" in shown:  # libgomp (torch's Linux builds): no spinning at all
        assert shown == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"}


def test_the_command_line_entry_point_sets_it_before_torch():
    """`goplan` (console script goplan.cli:main) imports the package, and so the setting, first."""
    report, shown = _run("from goplan.cli import main")
    assert report["OMP_WAIT_POLICY"] == "PASSIVE" and report["effective"]
    if "GOMP_SPINCOUNT" in shown:
        assert shown["GOMP_SPINCOUNT"] == "0"


@pytest.mark.parametrize("user", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5000"}])
def test_a_users_wait_setting_is_kept(user):
    report, shown = _run("import goplan", **user)
    assert not report["set_by_goplan"]
    assert report["OMP_WAIT_POLICY"] == user.get("OMP_WAIT_POLICY")  # not added beside GOMP_SPINCOUNT
    assert report["GOMP_SPINCOUNT"] == user.get("GOMP_SPINCOUNT")
    if "GOMP_SPINCOUNT" in shown:
        assert shown["GOMP_SPINCOUNT"] == user.get("GOMP_SPINCOUNT", "30000000000")  # ACTIVE: spin on


def test_torch_imported_before_goplan_is_reported_as_too_late():
    report, shown = _run("import torch\nimport goplan")
    assert report["set_by_goplan"] and not report["effective"]
    if "GOMP_SPINCOUNT" in shown:  # libgomp kept its default, read before goplan ran
        assert shown["GOMP_SPINCOUNT"] == "300000"


def test_configure_openmp_wait_on_a_mapping():
    env: dict = {}
    assert configure_openmp_wait(env) and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for user in ({"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "0"}):
        env = dict(user)
        assert not configure_openmp_wait(env) and env == user

"""How torch's OpenMP threads wait, set before torch loads its OpenMP runtime.

torch's CPU build runs its parallel loops, MKL and oneDNN on GNU OpenMP (libgomp). Between two parallel
regions libgomp's idle threads spin on their core: by default up to GOMP_SPINCOUNT = 300 000 pause
loops (milliseconds) before they sleep. On an idle machine that saves a wake-up per region; beside other
busy processes it is a collapse: a spinning thread holds the core that a thread with work needs, and the
thread with work is then descheduled while its team spins at the next barrier. Measured on 2 cores
(docs/notes/overlap-under-load.md): two `goplan train` runs at once finetuned at about 5.7 updates/s
each instead of 96 alone, and a micro-benchmark of the same update beside another 2-thread process ran
40 steps/s with spinning and 221 with passive waiting.

`configure_openmp_wait` sets OMP_WAIT_POLICY=PASSIVE (idle threads sleep at once; libgomp's spin count
becomes 0) unless the user has set OMP_WAIT_POLICY or GOMP_SPINCOUNT. libgomp reads them once, when it
is loaded, i.e. on `import torch`: goplan/__init__.py calls this first, before anything imports torch,
so `goplan` on the command line, `import goplan` in a script or notebook and every worker process
(which inherits the environment) get it. Where torch was imported before goplan, it is too late and
nothing changes (`openmp_wait()["effective"]` says so). A wait policy changes no arithmetic: results
are the same bit for bit.

This module imports nothing heavy (no torch): it runs before torch is loaded.
"""
from __future__ import annotations

import os
import sys
from typing import MutableMapping

# the variables that decide how libgomp's idle threads wait (the first is standard OpenMP, and is also
# read by LLVM's and Intel's OpenMP runtimes; the second only by libgomp)
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
DEFAULT_WAIT_POLICY = "PASSIVE"

_state = {"set_by_goplan": False, "torch_was_loaded": False}


def configure_openmp_wait(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE in `environ` (default: this process's environment) unless the user
    has set OMP_WAIT_POLICY or GOMP_SPINCOUNT; True if it set it. Call it before `import torch`."""
    env = os.environ if environ is None else environ
    if any(name in env for name in WAIT_VARIABLES):
        return False
    env["OMP_WAIT_POLICY"] = DEFAULT_WAIT_POLICY
    if environ is None:
        _state["set_by_goplan"] = True
        # torch already imported: libgomp has read its settings, and this changes nothing in this process
        _state["torch_was_loaded"] = "torch" in sys.modules
    return True


def openmp_wait() -> dict:
    """What this process runs with: the two variables as the environment holds them, whether goplan set
    the policy, and whether it took effect (False where torch was imported before goplan)."""
    return {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
            "set_by_goplan": _state["set_by_goplan"],
            "effective": not (_state["set_by_goplan"] and _state["torch_was_loaded"])}

"""Suite-wide settings."""
import os

import torch

# Under pytest-xdist (`-n W`), each worker would start as many torch threads as the machine has
# cores: W x cores threads on cores, and CPU-bound tests slow down many times over (on a 16-core GPU
# machine with 12 workers, CPU tests hit 150 s timeouts). Give each worker its share of the cores.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers))

"""Refactoring changes no result: a tiny GOPlan fit (pretraining, one reanalysis round, finetuning)
must leave every parameter, optimiser moment and buffer entry exactly as the code computed it when this
digest was recorded (2026-12-06, before the settings and agent files were reshaped).

Bit-identical results hold only on one CPU kernel path (README, Reproducibility), so the check runs
where the digest was recorded: torch 2.13.0+cpu, AVX2 kernels, 2 threads. Elsewhere it is skipped.
"""
import hashlib

import pytest
import torch

from goplan import make_config
from goplan.agents.goplan import GOPlanAgent
from goplan.data.collect import collect
from goplan.experiments.train import seed_everything

RECORDED_ON = ("2.13.0+cpu", "AVX2", 2)
DIGEST = "3d894d7d7f7ffcdc4674b4be5e42b255a81bf2837f6b973d81b656b39c963a17"
BUFFER_TRANSITIONS = 1367
SETTINGS = {"pretrain_updates": 300, "finetune_rounds": 1, "finetune_updates": 50, "intra_per_round": 32,
            "inter_per_round": 32}


def state_digest(agent: GOPlanAgent) -> str:
    tensors, _ = agent.state_tensors(with_buffer=True)
    h = hashlib.sha256()
    for key in sorted(tensors):
        if key.startswith("rng."):
            continue
        h.update(key.encode())
        h.update(tensors[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.skipif((torch.__version__, torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())
                    != RECORDED_ON, reason="the digest was recorded on another CPU kernel path")
def test_a_tiny_fit_gives_the_recorded_numbers():
    data = collect("PointReach", 200, 0, progress=False)
    seed_everything(0)
    agent = GOPlanAgent("PointReach", make_config("tiny", SETTINGS), device="cpu")
    agent.fit(data, progress=False)
    assert len(agent.buffer) == BUFFER_TRANSITIONS
    assert state_digest(agent) == DIGEST

"""Learning is not crippled: a short FetchReach pretraining run must lift the prior far above its
untrained policy and above a floor.

Measured on the project's 2-core machine (AMD EPYC Zen 3, torch 2.13.0+cpu, 2 threads), this exact
run gave 16.18 with the default normalisation and 1.46 with the former rule (`normalization=exact`),
from an untrained 0.56 (docs/notes/prior-fidelity.md). The floor is half of the measured value, so that
other CPU kernel paths pass while the former rule fails.
"""
import torch

from goplan import make_config
from goplan.agents.goplan import GOPlanAgent
from goplan.data.collect import collect
from goplan.evaluation import evaluate
from goplan.experiments.train import seed_everything

EPISODES = 400  # a fifth of the paper's FetchReach size: fast to collect, and the former rule fails on it
UPDATES = 3000  # pretraining updates at the cpu preset's sizes
EVAL_EPISODES = 50
FLOOR = 8.0  # half of the 16.18 measured with the default normalisation (the former rule: 1.46)


def test_a_short_fetchreach_pretraining_clears_the_floor():
    data = collect("FetchReach", EPISODES, 0, progress=False)
    seed_everything(0)
    agent = GOPlanAgent("FetchReach", make_config("cpu", {"seed": 0, "finetune_rounds": 0}), device="cpu")
    agent.set_dataset(data)
    untrained = evaluate(agent, EVAL_EPISODES, "policy", seed=10)["return_mean"]
    for _ in range(UPDATES):
        agent.pretrain_step()
    agent.guard.check("pretraining")
    trained = evaluate(agent, EVAL_EPISODES, "policy", seed=10)["return_mean"]
    assert trained > FLOOR, (untrained, trained)
    assert trained > untrained + FLOOR, (untrained, trained)
    assert torch.isfinite(agent.goal_norm.std).all()

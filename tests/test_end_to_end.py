"""A tiny end-to-end GOPlan run on PointReach: it trains, improves, saves and loads exactly."""
import numpy as np
import pytest
import torch

from goplan import make_config
from goplan.agents.gcsl import GCSLAgent
from goplan.agents.goplan import GOPlanAgent
from goplan.data.collect import collect
from goplan.evaluation import evaluate

TINY = {"pretrain_updates": 1500, "finetune_rounds": 1, "finetune_updates": 100, "intra_per_round": 64,
        "inter_per_round": 64}


@pytest.fixture(scope="module")
def reach_data():
    return collect("PointReach", episodes=300, seed=0, progress=False)


@pytest.fixture(scope="module")
def trained(reach_data):
    torch.manual_seed(0)
    agent = GOPlanAgent("PointReach", make_config("tiny", TINY), device="cpu")
    agent.set_dataset(reach_data)
    before = evaluate(agent, episodes=100, seed=7)["return_mean"]
    logs = []
    agent.fit(reach_data, on_log=lambda phase, step, m: logs.append((phase, step, m)), progress=False)
    return agent, before, logs


def test_training_improves_over_the_untrained_policy(trained):
    agent, before, logs = trained
    after = evaluate(agent, episodes=100, seed=7)["return_mean"]
    assert after > before + 10, (before, after)
    assert agent.counters["pretrain_updates"] == TINY["pretrain_updates"] and agent.counters["rounds"] == 1
    rounds = [m for phase, _, m in logs if phase == "round"]
    assert len(rounds) == 1 and {"case_a1", "case_a2", "case_a3", "case_b1", "case_b2", "case_b3"} <= set(rounds[0])
    assert len(agent.buffer) > 0


def test_test_time_planning_runs_batched(trained):
    agent, _, _ = trained
    result = evaluate(agent, episodes=20, mode="plan", seed=3)
    assert 0 <= result["return_mean"] <= 50 and result["episodes"] == 20


def test_save_and_load_give_identical_actions(trained, reach_data, tmp_path):
    agent, _, _ = trained
    path = agent.save(tmp_path / "agent.safetensors", with_buffer=True)
    assert path.read_bytes()[:8] != b"\x80\x04\x95"[:8]  # not a pickle
    loaded = GOPlanAgent.load(path, device="cpu", dataset=reach_data)  # the device of `agent`: exact equality
    rng = np.random.default_rng(0)
    obs, goal = rng.uniform(-4, 4, (32, 2)), rng.uniform(-4, 4, (32, 2))
    np.testing.assert_array_equal(agent.act(obs, goal), loaded.act(obs, goal))
    torch.manual_seed(5)
    planned = agent.plan(obs, goal)
    torch.manual_seed(5)
    np.testing.assert_array_equal(planned, loaded.plan(obs, goal))
    assert len(loaded.buffer) == len(agent.buffer)
    assert loaded.counters == agent.counters
    # optimiser state came back too: one more identical update from identical states
    for a in (agent, loaded):
        torch.manual_seed(9)
        a.pretrain_step()
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters()):
        torch.testing.assert_close(p, q)


def test_gcsl_baseline_learns_and_round_trips(reach_data, tmp_path):
    torch.manual_seed(0)
    cfg = make_config("tiny", {"pretrain_updates": 400, "finetune_rounds": 0})
    gcsl = GCSLAgent("PointReach", cfg, device="cpu")
    gcsl.set_dataset(reach_data)
    before = evaluate(gcsl, 100, seed=7)["return_mean"]
    gcsl.fit(progress=False)
    after = evaluate(gcsl, 100, seed=7)["return_mean"]
    assert after > before + 10
    loaded = GCSLAgent.load(gcsl.save(tmp_path / "gcsl.safetensors"), device="cpu")
    obs = np.random.default_rng(1).uniform(-4, 4, (16, 2))
    np.testing.assert_array_equal(gcsl.act(obs, -obs), loaded.act(obs, -obs))


def test_same_seed_same_run(tmp_path):
    """The same seed gives an identical dataset and identical training metrics on CPU."""
    from goplan.experiments.logging import read_metrics
    from goplan.experiments.train import train

    a = collect("PointRooms", episodes=60, seed=4, progress=False)
    b = collect("PointRooms", episodes=60, seed=4, progress=False)
    assert a.checksum() == b.checksum()
    assert collect("PointRooms", episodes=60, seed=5, progress=False).checksum() != a.checksum()
    settings = {"pretrain_updates": 40, "finetune_rounds": 1, "finetune_updates": 10, "intra_per_round": 8,
                "inter_per_round": 8, "eval_episodes": 5, "eval_plan_episodes": 3, "log_every": 20,
                "checkpoint_every": 20}
    runs = [train("PointRooms", a, seed=2, out=tmp_path / str(i), preset="tiny", overrides=settings,
                  progress=False, log=lambda *_: None) for i in range(2)]

    def values(run):
        return [(r["phase"], r["step"], r["metric"], r["value"]) for r in read_metrics(run["run_dir"])]

    assert values(runs[0]) == values(runs[1])
    assert runs[0]["goplan2_return"] == runs[1]["goplan2_return"]

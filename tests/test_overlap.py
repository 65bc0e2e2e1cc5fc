"""Overlapped CPU work (goplan/overlap.py): the pretraining update and the planner's batches give the
same results as sequential work, really run on a second thread, and stay safe when either side fails."""
import dataclasses
import threading
import time

import pytest
import torch

from goplan import make_config
from goplan.agents.goplan import GOPlanAgent
from goplan.data.collect import collect
from goplan.planner import Planner

SIZES = {"finetune_rounds": 0}


@pytest.fixture(scope="module")
def reach_data():
    return collect("PointReach", episodes=50, seed=0, progress=False)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _agent(data, precision="fp32", **overrides):
    torch.manual_seed(0)
    # force_bf16: the bf16 arithmetic is what is tested, also on CPUs that only emulate it
    cfg = make_config("tiny", {**SIZES, "train_precision": precision, "value_precision": precision,
                               "force_bf16": True, **overrides})
    agent = GOPlanAgent("PointReach", cfg, device="cpu")
    agent.set_dataset(data)
    return agent


def _record_threads(agent, names):
    """Wrap the side half's two calls so each notes the thread it ran on."""
    for attr in ("dynamics_step", "_value_step"):
        original = getattr(agent, attr)

        def wrapped(*args, _original=original, _attr=attr):
            names.append((_attr, threading.current_thread().name))
            return _original(*args)
        setattr(agent, attr, wrapped)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_overlapped_update_equals_the_sequential_update_bit_for_bit(reach_data, two_threads, precision):
    """Overlapped with 2 threads (one per half) against sequential with 1 thread (the same threads per
    matrix kernel): every parameter, optimiser moment and random-number state is equal after 20 updates,
    and the side half did run on the side thread."""
    overlapped = _agent(reach_data, precision)
    names: list = []
    _record_threads(overlapped, names)
    for _ in range(20):
        overlapped.pretrain_step()
    assert torch.get_num_threads() == 2  # the caller's thread count is restored after every update
    assert {n for _, n in names} and all(n.startswith("goplan-side") for _, n in names)
    assert sorted({a for a, _ in names}) == ["_value_step", "dynamics_step"]

    sequential = _agent(reach_data, precision, overlap_cpu_update=False)
    seq_names: list = []
    _record_threads(sequential, seq_names)
    torch.set_num_threads(1)
    for _ in range(20):
        sequential.pretrain_step()
    assert all(n == threading.main_thread().name for _, n in seq_names)

    a, b = overlapped.state_tensors()[0], sequential.state_tensors()[0]
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ: {different[:5]}"


def test_finetuning_updates_stay_on_the_calling_thread(reach_data, two_threads):
    """Without the ensemble's step the side half is only V's step, too little to pay for halving the
    CGAN's threads: finetuning runs sequentially."""
    agent = _agent(reach_data)
    batch = agent.sample_offline(agent.cfg.batch_size)
    names: list = []
    _record_threads(agent, names)
    agent.update(*batch, train_dynamics=False)
    assert names == [("_value_step", threading.main_thread().name)]


def test_a_failure_on_the_side_thread_reaches_the_caller(reach_data, two_threads):
    agent = _agent(reach_data)

    def broken(*args):
        raise RuntimeError("dynamics step failed on purpose")
    agent.dynamics_step = broken
    with pytest.raises(RuntimeError, match="dynamics step failed on purpose"):
        agent.pretrain_step()
    assert torch.get_num_threads() == 2
    del agent.dynamics_step  # the agent goes on normally afterwards
    metrics = agent.pretrain_step()
    assert torch.isfinite(metrics["dynamics_loss"])


def test_a_failure_of_the_main_half_waits_for_the_side_half(reach_data, two_threads):
    """When the CGAN's half raises, the side half still finishes before the error leaves the update, so
    nothing keeps training in the background."""
    agent = _agent(reach_data)
    finished = []
    original = agent.dynamics_step

    def slow(*args):
        time.sleep(0.3)
        out = original(*args)
        finished.append(True)
        return out

    def broken(*args):
        raise ValueError("CGAN step failed on purpose")
    agent.dynamics_step, agent._gan_step = slow, broken
    with pytest.raises(ValueError, match="CGAN step failed on purpose"):
        agent.pretrain_step()
    assert finished == [True]
    assert torch.get_num_threads() == 2


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_side_thread(reach_data, two_threads):
    """A child forked after the side thread started has no such thread; its updates must not wait for
    one forever."""
    import os
    agent = _agent(reach_data)
    agent.pretrain_step()  # the side thread exists now
    pid = os.fork()
    if pid == 0:  # child: one more overlapped update, then report through the exit status
        try:
            agent.pretrain_step()
            os._exit(0)
        except BaseException:
            os._exit(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's update hung waiting for a side thread it does not have")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_overlapped_planning_equals_sequential_planning_bit_for_bit(reach_data, two_threads, precision):
    """30 states in batches alternating between the two threads give the same plans as the same batches
    planned one after another with 1 thread, for torch's default generator and for an explicit one."""
    agent = _agent(reach_data, precision, plan_precision=precision)
    agent.pretrain_step()
    planner = agent.planner
    s = agent.state_norm(agent.data.observations[:30, 0])
    g = agent.data.achieved_goals[:30, -1]
    names: list = []
    original = planner._plan

    def spy(*args):
        names.append(threading.current_thread().name)
        return original(*args)
    planner._plan = spy
    torch.manual_seed(5)
    overlapped = planner.plan(s, g)
    overlapped_gen = planner.plan(s, g, torch.Generator().manual_seed(3))
    assert len(names) >= 4 and any(n.startswith("goplan-side") for n in names)
    assert torch.get_num_threads() == 2

    sequential = Planner(policy=planner.policy, dynamics=planner.dynamics, state_norm=planner.state_norm,
                         goal_norm=planner.goal_norm, task=planner.task,
                         settings=dataclasses.replace(planner.settings, overlap=False))
    torch.set_num_threads(1)
    torch.manual_seed(5)
    assert torch.equal(overlapped, sequential.plan(s, g))
    assert torch.equal(overlapped_gen, sequential.plan(s, g, torch.Generator().manual_seed(3)))
    # and the batches' generators really differ: planning the same state twice gives two plans
    twice = sequential.plan(s[:1].repeat(2, 1), g[:1].repeat(2, 1))
    assert not torch.equal(twice[0], twice[1])


def test_overlap_used_from_the_side_thread_runs_inline(two_threads):
    """Work on the side thread that itself asks for an overlap (a planner called from there) must not
    wait for the one side thread, which is busy running it."""
    from goplan.overlap import Overlap

    def inner():
        with Overlap(True) as side:
            return side.run(threading.current_thread).result().name

    with Overlap(True) as side:
        name = side.run(inner).result(timeout=30)
    assert name.startswith("goplan-side")

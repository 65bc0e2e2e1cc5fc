"""Crash safety and numerical guards: a full disk during a checkpoint, NaN in training, a collapsed
discriminator."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from bad_inputs import arrays
from goplan.agents.checkpoint import load_checkpoint
from goplan.agents.goplan import GOPlanAgent
from goplan.agents.guards import FiniteGuard
from goplan.config import make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.errors import NumericalError
from goplan.experiments.train import CHECKPOINT, train

TINY_RUN = dict(pretrain_updates=40, finetune_rounds=0, eval_episodes=2, eval_plan_episodes=0, batch_size=16,
                log_every=5, checkpoint_every=10)


@pytest.fixture()
def dataset():
    return TrajectoryDataset(**arrays(episodes=12, steps=10), card={"task": "PointReach"})


# ---------------------------------------------------------------- full disk
FILL_DISK = textwrap.dedent("""
    import resource, signal, sys, torch
    from goplan.agents.goplan import GOPlanAgent
    path, limit = sys.argv[1], int(sys.argv[2])
    agent = GOPlanAgent.load(path)
    for p in agent.policy.parameters():
        p.data.add_(1.0)                      # a newer state that must not half-replace the old one
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # writes past `limit` bytes fail (EFBIG)
    try:
        agent.save(path, with_buffer=True)
    except Exception as exc:
        print(type(exc).__name__, exc)
        sys.exit(3)
    sys.exit(0)
""")


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, dataset):
    agent = GOPlanAgent("PointReach", make_config("tiny"), device="cpu")
    agent.set_dataset(dataset)
    for _ in range(3):
        agent.pretrain_step()
    path = tmp_path / CHECKPOINT
    agent.save(path, with_buffer=True)
    before = path.read_bytes()
    script = tmp_path / "fill.py"
    script.write_text(FILL_DISK)
    proc = subprocess.run([sys.executable, str(script), str(path), str(len(before) // 2)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "CheckpointError" in proc.stdout and "could not write checkpoint" in proc.stdout
    assert "previous checkpoint is unchanged" in proc.stdout
    assert path.read_bytes() == before, "the old checkpoint was damaged"
    assert not list(tmp_path.glob("*.tmp")), "a partial temporary file was left behind"
    restored = GOPlanAgent.load(path, device="cpu")
    for a, b in zip(agent.policy.parameters(), restored.policy.parameters()):
        assert torch.equal(a, b)


def test_full_disk_during_training_is_one_line_and_exit_2(tmp_path, dataset):
    data = dataset.save(tmp_path / "d.npz")
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from goplan.cli import main
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        sys.exit(main(["train", "--task", "PointReach", "--dataset", {str(data)!r}, "--preset", "tiny",
                       "--out", {str(tmp_path / 'runs')!r}, "--quiet"] +
                      [f"{{k}}={{v}}" for k, v in {TINY_RUN!r}.items()]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "could not write" in lines[0] or "File too large" in lines[0]


# ---------------------------------------------------------------- NaN guard
def test_nan_stops_the_run_naming_quantity_and_step_and_keeps_the_last_good_checkpoint(tmp_path, dataset, monkeypatch):
    poison_at = 23  # between the checkpoints written after steps 20 and 30
    original = GOPlanAgent.pretrain_step

    def poisoned(self):
        if self.counters["pretrain_updates"] + 1 == poison_at:
            with torch.no_grad():
                next(self.value.net.parameters()).fill_(float("nan"))
        return original(self)

    monkeypatch.setattr(GOPlanAgent, "pretrain_step", poisoned)
    with pytest.raises(NumericalError) as info:
        train("PointReach", dataset, out=tmp_path, preset="tiny", overrides=TINY_RUN, progress=False, log=lambda m: None)
    message = str(info.value)
    assert f"pretraining step {poison_at}" in message
    assert "value_loss" in message
    assert "pretrain_updates=20" in message and "last good checkpoint" in message
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    tensors, meta = load_checkpoint(run_dir / CHECKPOINT)  # refuses non-finite tensors, so this proves it is good
    assert meta["counters"]["pretrain_updates"] == 20
    assert (run_dir / "error.txt").read_text().strip() == message


def test_nan_during_finetuning_is_caught(dataset, monkeypatch):
    cfg = make_config("tiny", dict(TINY_RUN, pretrain_updates=5, finetune_rounds=1, finetune_updates=6,
                                   intra_per_round=4, inter_per_round=4))
    agent = GOPlanAgent("PointReach", cfg, device="cpu")
    original = GOPlanAgent.finetune_step

    def poisoned(self):
        if self.counters["finetune_updates"] == 3:
            with torch.no_grad():
                next(self.discriminator.parameters()).fill_(float("inf"))
        return original(self)

    monkeypatch.setattr(GOPlanAgent, "finetune_step", poisoned)
    with pytest.raises(NumericalError, match=r"finetuning step 4"):
        agent.fit(dataset, progress=False)
    assert agent.counters["rounds"] == 0  # the round was not counted as done


def test_guard_reports_the_first_bad_step_not_the_check_step():
    guard = FiniteGuard()
    for step in range(1, 11):
        guard.watch({"a": torch.tensor(1.0), "b": torch.tensor(float("nan") if step >= 7 else 2.0)}, step)
    with pytest.raises(NumericalError, match=r"^b became NaN or infinite at test step 7$"):
        guard.check("test")
    healthy = FiniteGuard()
    healthy.watch({"a": torch.tensor(1.0)}, 1)
    healthy.check("test")  # does not raise


def test_nan_in_a_dynamics_prediction_stops_reanalysis(dataset):
    cfg = make_config("tiny", dict(TINY_RUN, pretrain_updates=3, finetune_rounds=1, intra_per_round=4,
                                   inter_per_round=4))
    agent = GOPlanAgent("PointReach", cfg, device="cpu")
    agent.fit(dataset, progress=False, stop_after_pretrain=True)
    with torch.no_grad():
        for p in agent.dynamics.parameters():
            p.fill_(float("nan"))
    with pytest.raises(NumericalError, match="imagined state"):
        agent.reanalyse()


# ---------------------------------------------------------------- discriminator collapse
def _freeze_discriminator(agent: GOPlanAgent, output_logit: float) -> None:
    last = [m for m in agent.discriminator.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(output_logit)
    for group in agent.disc_opt.param_groups:
        group["lr"] = 0.0


def test_collapsed_discriminator_is_reported_in_the_logs(tmp_path, dataset, monkeypatch):
    original_init = GOPlanAgent.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _freeze_discriminator(self, output_logit=20.0)  # sigmoid(20) clipped: always "real"

    monkeypatch.setattr(GOPlanAgent, "__init__", init)
    lines: list[str] = []
    train("PointReach", dataset, out=tmp_path, preset="tiny", overrides=TINY_RUN, progress=False, log=lines.append)
    warnings = [l for l in lines if "discriminator collapsed" in l]
    assert len(warnings) == 1 and "pretrain step 5" in warnings[0], lines
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    csv = (run_dir / "metrics.csv").read_text()
    assert "disc_collapsed" in csv


def test_healthy_discriminator_is_not_reported(tmp_path, dataset):
    lines: list[str] = []
    train("PointReach", dataset, out=tmp_path, preset="tiny", overrides=TINY_RUN, progress=False, log=lines.append)
    assert not [l for l in lines if "collapsed" in l], lines

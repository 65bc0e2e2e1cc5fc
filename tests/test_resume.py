"""A run killed with SIGKILL (mid-pretraining, and mid-reanalysis) resumes and ends with the metrics of
an uninterrupted run with the same seed."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goplan.agents.checkpoint import read_checkpoint_metadata
from goplan.data.collect import collect

SETTINGS = ["pretrain_updates=400", "log_every=20", "checkpoint_every=40", "finetune_rounds=3",
            "finetune_updates=30", "intra_per_round=64", "inter_per_round=64", "eval_episodes=10",
            "eval_plan_episodes=4"]
KILL_TIMEOUT_S = 240


def train_cmd(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "goplan.cli", "train", "--task", "PointRooms", "--dataset", str(data), "--seed", "3",
            "--out", str(out), "--preset", "tiny", "--quiet", *SETTINGS]


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def finals(result: dict) -> tuple:
    return result["goplan_return"], result["goplan2_return"]


def last_round_metrics(result: dict) -> dict[str, str]:
    """The training metrics logged after the last round (losses, case fractions, buffer size), exact text."""
    rows = (Path(result["run_dir"]) / "metrics.csv").read_text().splitlines()[1:]
    last = {}
    for row in rows:
        _, phase, step, metric, value = row.split(",")
        if phase == "round" and int(step) == 3:
            last[metric] = value
    return last


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "rooms.npz"
    collect("PointRooms", episodes=100, seed=0, progress=False).save(path)
    return path


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    proc = subprocess.run(train_cmd(data, out), capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    return last_json(proc.stdout)


def kill_when(data: Path, out: Path, ready) -> Path:
    proc = subprocess.Popen(train_cmd(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.time() + KILL_TIMEOUT_S
    try:
        while time.time() < deadline:
            runs = list(out.glob("PointRooms__goplan__seed3__*"))
            if runs and ready(runs[0]):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return runs[0]
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    raise AssertionError("timed out waiting for the moment to kill")


def metric_rows(run: Path, phase: str) -> int:
    text = (run / "metrics.csv").read_text() if (run / "metrics.csv").exists() else ""
    return sum(1 for line in text.splitlines() if f",{phase}," in line)


def checkpoint_rounds(run: Path) -> int | None:
    """The number of finished rounds recorded in the run's checkpoint (None: no checkpoint yet)."""
    ckpt = run / "checkpoint.safetensors"
    if not ckpt.exists():
        return None
    return read_checkpoint_metadata(ckpt)["counters"]["rounds"]  # replaced atomically: never half-written


def resume(run: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "goplan.cli", "train", "--resume", str(run), "--quiet"],
                          capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stdout
    return last_json(proc.stdout)


@pytest.mark.parametrize("phase", ["pretrain", "round"])
def test_sigkill_and_resume_gives_the_same_final_metrics(phase, data, uninterrupted, tmp_path):
    if phase == "pretrain":  # killed after a checkpoint, before pretraining ends
        ready = lambda run: (run / "checkpoint.safetensors").exists() and metric_rows(run, "pretrain") >= 30  # noqa: E731
    else:  # killed in round 2: its reanalysis is the first thing the run does after round 1's checkpoint
        ready = lambda run: checkpoint_rounds(run) == 1  # noqa: E731
    run = kill_when(data, tmp_path, ready)
    assert not (run / "result.json").exists()
    if phase == "pretrain":
        assert metric_rows(run, "eval_round") == 0  # pretraining had not finished
    else:
        steps = {line.split(",")[2] for line in (run / "metrics.csv").read_text().splitlines() if ",round," in line}
        assert steps == {"1"}  # killed before round 2 was logged
    resumed = resume(run)
    info = json.loads((run / "run.json").read_text())  # the machine of the start and of every resume
    assert info["machine"]["torch_threads"] == 1 and info["resumed"][-1]["machine"]["torch_threads"] == 1
    print(f"\nkill-and-resume ({phase}): resumed {finals(resumed)} uninterrupted {finals(uninterrupted)}")
    assert finals(resumed) == finals(uninterrupted)
    resumed_metrics, whole_metrics = last_round_metrics(resumed), last_round_metrics(uninterrupted)
    assert "value_loss" in whole_metrics and "case_a1" in whole_metrics
    assert resumed_metrics == whole_metrics

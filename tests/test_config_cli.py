"""Settings and the command line: paper defaults, overrides, clear one-line errors with exit status 2."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from goplan import hardware
from goplan.cli import main
from goplan.config import GOPlanConfig, make_config
from goplan.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHARED_PKL = REPO.parent / "shared" / "data" / "wgcsl_pointreach_noise_traj50.pkl"


def test_paper_defaults():
    c = GOPlanConfig()
    assert (c.gamma, c.beta, c.weight_clip, c.num_dynamics, c.noise_dim, c.batch_size) == (0.98, 60.0, 10.0, 3, 64, 512)
    assert (c.finetune_rounds, c.intra_per_round, c.inter_per_round, c.uncertainty_threshold) == (10, 1000, 1000, 0.1)
    assert (c.finetune_updates, c.pretrain_updates, c.reanalysis_buffer_size) == (1000, 500_000, 2_000_000)
    assert (c.kappa, c.plan_horizon, c.plan_candidates, c.plan_copies, c.hidden_dim, c.lr) == (2.0, 20, 20, 10, 512, 1e-4)


def test_overrides_are_typed():
    c = make_config("cpu", ["beta=30", "num_dynamics=5", "eval_every_round=false", "reanalysis_transition=random"])
    assert c.beta == 30.0 and c.num_dynamics == 5 and c.eval_every_round is False
    assert c.reanalysis_transition == "random" and c.preset == "cpu" and c.hidden_dim == 256


@pytest.mark.parametrize("bad, words", [
    (["plan_candidates=0"], "plan_candidates must be positive"),
    (["batch_size=-3"], "batch_size must be positive"),
    (["uncertainty_threshold=-0.1"], "uncertainty_threshold must be >= 0"),
    (["gamma=1.5"], "gamma must be in [0, 1)"),
    (["plan_horizon=2.5"], "not a valid int"),
    (["beta=nan"], "not a valid float"),
    (["betta=3"], "did you mean beta"),
    (["noequals"], "key=value"),
])
def test_impossible_settings_are_refused(bad, words):
    with pytest.raises(ConfigError, match=None) as err:
        make_config("paper", bad)
    assert words in str(err.value)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="did you mean 'cpu'"):
        make_config("cpuu")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "goplan.cli", *args], capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize("args, words", [
    (["collect", "--task", "PointRoom", "--episodes", "5", "--out", "x.npz"], "did you mean PointRooms"),
    (["collect", "--task", "PointReach", "--episodes", "0", "--out", "x.npz"], "episodes must be a positive integer"),
    (["collect", "--task", "PointReach", "--episodes", "3", "--random", "2", "--out", "x.npz"],
     "random_prob must be in [0, 1]"),
    (["train", "--task", "PointReach", "--dataset", "/nonexistent/data.npz", "--preset", "tiny"], "no such dataset file"),
    (["train", "--task", "PointReach", "--dataset", "/nonexistent/data.npz", "plan_horizon=0"], "plan_horizon must be positive"),
    (["eval", "/nonexistent/run"], "no such checkpoint"),
])
def test_cli_errors_are_one_line_with_status_2(args, words):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr


def test_cli_collect_random_actions_reach_the_card(tmp_path):
    from goplan.data.dataset import TrajectoryDataset

    out = tmp_path / "r.npz"
    assert main(["collect", "--task", "PointRooms", "--episodes", "3", "--random", "0.3", "--out", str(out),
                 "--quiet"]) == 0
    assert TrajectoryDataset.load(out).card["random_prob"] == 0.3


def test_cli_wrong_task_for_dataset(tmp_path):
    assert main(["collect", "--task", "PointReach", "--episodes", "3", "--out", str(tmp_path / "d.npz"), "--quiet"]) == 0
    proc = run_cli("train", "--task", "FetchPush", "--dataset", str(tmp_path / "d.npz"), "--preset", "tiny")
    assert proc.returncode == 2 and "(2, 2, 2)" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_collect_train_eval(tmp_path, capsys):
    data = tmp_path / "reach.npz"
    assert main(["collect", "--task", "PointReach", "--episodes", "40", "--seed", "1", "--out", str(data), "--quiet"]) == 0
    card = json.loads(data.with_suffix(".json").read_text())
    assert card["task"] == "PointReach" and card["episodes"] == 40 and len(card["sha256"]) == 64
    capsys.readouterr()
    code = main(["train", "--task", "PointReach", "--dataset", str(data), "--seed", "3", "--out", str(tmp_path / "runs"),
                 "--preset", "tiny", "--quiet", "pretrain_updates=60", "finetune_rounds=1", "finetune_updates=10",
                 "intra_per_round=8", "inter_per_round=8", "eval_episodes=5", "eval_plan_episodes=3", "log_every=20",
                 "checkpoint_every=30"])
    assert code == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = Path(last["run_dir"])
    assert run.name.startswith("PointReach__goplan__seed3__")
    for name in ("config.json", "metrics.csv", "agent.safetensors", "checkpoint.safetensors", "result.json",
                 "learning_curve.png", "reanalysis_cases.png"):
        assert (run / name).exists(), name
    assert list((run / "tensorboard").iterdir())
    assert {"pretrained_return", "goplan_return", "goplan2_return"} <= set(last)
    assert json.loads((run / "config.json").read_text())["pretrain_updates"] == 60
    machine = json.loads((run / "run.json").read_text())["machine"]  # which kernels made the results
    assert machine == hardware.machine_record(machine["device"])
    assert machine["cpu_model"] and machine["torch_build"]["version"] == torch.__version__
    bad = run_cli("eval", str(run), "--episodes", "0")
    assert bad.returncode == 2 and "episodes must be a positive integer" in bad.stderr
    for mode in ("policy", "plan"):
        assert main(["eval", str(run), "--mode", mode, "--episodes", "4"]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["mode"] == mode and out["episodes"] == 4.0 and 0 <= out["return_mean"] <= 50


@pytest.mark.skipif(not SHARED_PKL.exists(), reason=f"{SHARED_PKL} not present")
def test_original_format_file_imports_and_trains(tmp_path, capsys):
    """The real WGCSL buffer.pkl (a 2-D point task, arena of radius 11) trains end to end as PointReach data."""
    code = main(["train", "--task", "PointReach", "--dataset", str(SHARED_PKL), "--out", str(tmp_path), "--preset", "tiny",
                 "--quiet", "pretrain_updates=50", "finetune_rounds=1", "finetune_updates=10", "intra_per_round=8",
                 "inter_per_round=8", "eval_episodes=5", "eval_plan_episodes=0", "log_every=25"])
    assert code == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    info = json.loads((Path(last["run_dir"]) / "run.json").read_text())
    assert info["dataset_card"]["source_format"] == "wgcsl-buffer-pkl" and info["dataset_card"]["episodes"] == 50


def test_help_lists_every_setting():
    out = run_cli("train", "--help").stdout
    for name in ("uncertainty_threshold=0.1", "plan_candidates=20", "beta=60.0", "--resume"):
        assert name in out
    for cmd in ("collect", "train", "eval", "demo", "tasks"):
        assert run_cli(cmd, "--help").returncode == 0


def test_a_setting_is_named_alone_or_with_its_group():
    from goplan.config import GROUP_OF

    c = make_config("cpu", ["planner.plan_horizon=7", "algorithm.beta=30", "gcsl_lr=1e-3"])
    assert (c.plan_horizon, c.beta, c.gcsl_lr, c.hidden_dim) == (7, 30.0, 1e-3, 256)
    d = make_config("tiny", {"planner": {"plan_copies": 3}, "model.hidden_dim": 32, "normalization": "exact"})
    assert (d.plan_copies, d.hidden_dim, d.normalization) == (3, 32, "exact")
    assert (GROUP_OF["plan_horizon"], GROUP_OF["batch_size"], GROUP_OF["plan_precision"]) == \
        ("planner", "algorithm", "runtime")
    assert c.group("planner").plan_horizon == 7 and c.to_nested_dict()["algorithm"]["beta"] == 30.0
    for bad, words in ((["planner.plan_horizn=3"], "did you mean planner.plan_horizon"),
                       (["model.beta=3"], "unknown setting 'model.beta'"),
                       (["planner=3"], "is a group")):
        with pytest.raises(ConfigError, match=None) as err:
            make_config("paper", bad)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_saved_configs_load_flat_nested_or_mixed():
    from goplan.config import config_from_dict

    c = make_config("cpu", ["beta=30", "plan_precision=bf16"])
    flat, nested = c.to_dict(), c.to_nested_dict()
    assert list(flat) == [f.name for f in __import__("dataclasses").fields(GOPlanConfig)]
    assert config_from_dict(flat) == c == config_from_dict(nested)
    assert config_from_dict({**flat, "a_setting_of_another_version": 1}) == c
    assert config_from_dict({**nested, "batch_size": 64}).batch_size == 64  # the flat name given last wins
    with pytest.raises(ConfigError, match="batch_size must be positive"):
        config_from_dict({"algorithm": {"batch_size": 0}})


def test_help_documents_every_setting_in_its_group():
    from dataclasses import fields

    from goplan.config import GROUPS, describe_settings

    lines = describe_settings().splitlines()
    heads = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    assert [lines[i].split(":")[0] for i in heads] == list(GROUPS)
    for (start, cls), end in zip(zip(heads, GROUPS.values()), [*heads[1:], len(lines)]):
        for f, line in zip(fields(cls), lines[start + 1:end], strict=True):
            name_default, doc = line.split(maxsplit=1)
            assert name_default == f"{f.name}={f.default}" and doc == f.metadata["doc"]

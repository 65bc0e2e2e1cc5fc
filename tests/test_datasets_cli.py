"""`goplan collect` names and sizes, and `goplan datasets` listing with checksum checks."""
import json

import numpy as np
import pytest

from goplan.cli import main
from goplan.data.catalog import STATUS_INCOMPLETE, STATUS_MISMATCH, STATUS_NO_CARD, STATUS_OK, find_datasets
from goplan.data.collect import collect, parts_dir
from goplan.data.dataset import TrajectoryDataset


def test_collect_positional_name_paper_size_and_default_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["collect", "PointReach-s", "--workers", "1", "--quiet"]) == 0
    out = tmp_path / "data" / "PointReach-s-seed0.npz"
    assert "wrote" in capsys.readouterr().out and out.is_file()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["episodes"] == 200 and card["variant"] == "small" and card["task"] == "PointReach"
    assert not parts_dir(out).exists()


def test_collect_argument_errors(tmp_path, capsys):
    out = str(tmp_path / "x.npz")
    cases = [["collect", "--out", out], ["collect", "PointReach", "--task", "PointRooms", "--out", out],
             ["collect", "FetchPushOOD-Left2Right", "--out", out], ["collect", "Nowhere", "--out", out],
             ["collect", "PointReach", "--workers", "0", "--out", out]]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("goplan collect: error:"), err
    assert main(["collect", "--task", "PointReach", "--episodes", "5", "--out", out, "--quiet"]) == 0
    assert TrajectoryDataset.load(out).num_episodes == 5


def test_datasets_lists_cards_and_checks_checksums(tmp_path, capsys):
    ds = collect("PointRooms", 6, seed=2, num_envs=6, progress=False)
    good = ds.save(tmp_path / "good.npz")
    sub = tmp_path / "sub"
    tampered = ds.save(sub / "tampered.npz")
    arrays = {k: getattr(ds, k) for k in ("observations", "achieved_goals", "desired_goals", "actions")}
    arrays["actions"] = np.zeros_like(arrays["actions"])
    np.savez_compressed(tampered, **arrays)  # new arrays, old card
    bare = tmp_path / "bare.npz"
    np.savez_compressed(bare, **arrays)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    unfinished = tmp_path / "half.parts"
    collect("PointRooms", 6, seed=2, num_envs=3, progress=False, work_dir=unfinished)

    entries = {e.path.name: e for e in find_datasets([tmp_path])}
    assert set(entries) == {"good.npz", "tampered.npz", "bare.npz", "broken.npz", "half.parts"}
    assert entries["good.npz"].checksum == STATUS_OK
    assert (entries["good.npz"].task, entries["good.npz"].episodes, entries["good.npz"].seed) == ("PointRooms", 6, 2)
    assert entries["good.npz"].transitions == 6 * ds.horizon and entries["good.npz"].noise == 0.2
    assert entries["tampered.npz"].checksum == STATUS_MISMATCH
    assert entries["bare.npz"].checksum == STATUS_NO_CARD and entries["bare.npz"].episodes == 6
    assert entries["broken.npz"].checksum == "unreadable"
    assert entries["half.parts"].checksum == STATUS_INCOMPLETE and "2 chunks" in entries["half.parts"].detail

    assert main(["datasets", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["file", "task", "episodes"] and len(lines) == 1 + len(entries)
    row = next(line for line in lines if str(good) in line)
    assert row.split()[1:4] == ["PointRooms", "6", str(6 * ds.horizon)] and row.endswith(STATUS_OK)
    assert main(["datasets", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_datasets_default_folders(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets"]) == 0
    assert "no datasets found" in capsys.readouterr().out
    collect("PointReach", 3, seed=0, num_envs=3, progress=False).save(tmp_path / "data" / "deep" / "a.npz")
    collect("PointReach", 3, seed=1, num_envs=3, progress=False).save(tmp_path / "here.npz")
    (tmp_path / "elsewhere").mkdir()
    collect("PointReach", 3, seed=1, num_envs=3, progress=False).save(tmp_path / "elsewhere" / "skip.npz")
    names = sorted(e.path.name for e in find_datasets(verify=False))
    assert names == ["a.npz", "here.npz"]  # data/ with subfolders, the current folder without


def test_goplan_tasks_lists_dataset_names_with_dimensions(capsys):
    from goplan.cli import main

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    lines: dict[str, str] = {}
    for line in out.splitlines():
        if line.strip() and not line.startswith("dataset"):
            lines.setdefault(line.split()[0], line)  # a task's own line comes before its dataset line
    assert "state=25" in lines["FetchPush-s"] and "4000 episodes" in lines["FetchPush-s"]
    assert "500 IID trajectories" in lines["FetchPushOOD-LeftRight-s"]
    assert "state=2 " in lines["PointRooms"] and "eps=1" in lines["PointRooms"]

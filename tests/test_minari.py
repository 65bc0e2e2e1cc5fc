"""Minari interop: exact round trip, the Minari view of the data, and one-line errors for bad folders."""
import json

import numpy as np
import pytest

pytest.importorskip("minari")

from goplan.cli import main  # noqa: E402
from goplan.data.collect import collect  # noqa: E402
from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset  # noqa: E402
from goplan.data.minari_io import HDF5_FILE, METADATA_FILE, export_minari, import_minari  # noqa: E402
from goplan.errors import ConfigError, DatasetError  # noqa: E402
from goplan.tasks import get_task  # noqa: E402

DATASET_ID = "goplan/pointrooms/noise-v0"
EPISODES = 12


@pytest.fixture(scope="module")
def rooms():
    return collect("PointRooms", EPISODES, seed=3, num_envs=EPISODES, progress=False)


@pytest.fixture()
def exported(tmp_path, rooms):
    root = tmp_path / "minari"
    return root, export_minari(rooms, DATASET_ID, root=root)


def test_round_trip_is_exact(exported, rooms):
    root, folder = exported
    assert folder == root / DATASET_ID and (folder / "data" / HDF5_FILE).is_file()
    for source in (DATASET_ID, folder, folder / "data"):
        back = import_minari(source, root=root)
        for key in ARRAY_KEYS:
            np.testing.assert_array_equal(getattr(back, key), getattr(rooms, key), err_msg=key)
        assert back.card["task"] == "PointRooms" and back.card["seed"] == 3
        assert back.card["source_format"] == "minari" and back.card["minari_dataset_id"] == DATASET_ID


def test_minari_sees_goal_dict_observations_rewards_and_truncations(exported, rooms, monkeypatch):
    import minari

    root, _ = exported
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    m = minari.load_dataset(DATASET_ID)
    assert m.total_episodes == EPISODES and m.total_steps == rooms.num_transitions
    spec = get_task("PointRooms")
    episode = next(m.iterate_episodes([1]))
    t = rooms.horizon
    assert set(episode.observations) == {"observation", "achieved_goal", "desired_goal"}
    np.testing.assert_array_equal(episode.observations["observation"], rooms.observations[1])
    np.testing.assert_array_equal(episode.observations["desired_goal"][:t], rooms.desired_goals[1])
    np.testing.assert_array_equal(episode.actions, rooms.actions[1])
    np.testing.assert_array_equal(episode.rewards, spec.reward(rooms.achieved_goals[1, 1:], rooms.desired_goals[1]))
    assert not episode.terminations.any() and episode.truncations[-1] and not episode.truncations[:-1].any()


def test_existing_id_needs_overwrite(exported, rooms):
    root, _ = exported
    with pytest.raises(DatasetError, match="exists already"):
        export_minari(rooms, DATASET_ID, root=root)
    other = rooms.subset(slice(0, 3))
    export_minari(other, DATASET_ID, root=root, overwrite=True)
    assert import_minari(DATASET_ID, root=root).num_episodes == 3


def one_line_error(exc_info, *needles):
    message = str(exc_info.value)
    assert "\n" not in message, message
    for needle in needles:
        assert str(needle) in message, message


def test_truncated_hdf5_is_a_dataset_error(exported):
    root, folder = exported
    hdf5 = folder / "data" / HDF5_FILE
    hdf5.write_bytes(hdf5.read_bytes()[: hdf5.stat().st_size // 2])
    with pytest.raises(DatasetError) as info:
        import_minari(DATASET_ID, root=root)
    one_line_error(info, hdf5)


def test_broken_or_missing_minari_folders(exported, tmp_path):
    root, folder = exported
    with pytest.raises(DatasetError) as info:
        import_minari("goplan/missing-v0", root=root)
    one_line_error(info, "goplan/missing-v0")
    with pytest.raises(DatasetError) as info:
        import_minari(tmp_path, root=root)  # a folder that is no Minari dataset
    one_line_error(info, tmp_path)
    (folder / "data" / HDF5_FILE).unlink()
    with pytest.raises(DatasetError) as info:
        import_minari(folder)
    one_line_error(info, HDF5_FILE, "missing")
    (folder / "data" / METADATA_FILE).write_text("{broken")
    with pytest.raises(DatasetError) as info:
        import_minari(folder)
    one_line_error(info, METADATA_FILE)
    with pytest.raises(ConfigError):
        import_minari("not a dataset id!", root=root)


def test_foreign_spaces_are_refused(tmp_path, rooms):
    import minari
    from gymnasium import spaces
    from minari.data_collector import EpisodeBuffer

    root = tmp_path / "m"
    monkey_id = "other/flat-v0"
    obs = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    buffer = [EpisodeBuffer(observations=np.zeros((4, 2), np.float32), actions=np.zeros((3, 2), np.float32),
                            rewards=np.zeros(3), terminations=np.zeros(3, bool), truncations=np.ones(3, bool))]
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning):
        mp.setenv("MINARI_DATASETS_PATH", str(root))
        minari.create_dataset_from_buffers(monkey_id, buffer, observation_space=obs, action_space=obs)
    with pytest.raises(DatasetError) as info:
        import_minari(monkey_id, root=root)
    one_line_error(info, "observations must be a dict")


def test_export_needs_a_task_and_a_valid_id(tmp_path, rooms):
    anonymous = TrajectoryDataset(rooms.observations, rooms.achieved_goals, rooms.desired_goals, rooms.actions)
    with pytest.raises(ConfigError, match="names no task"):
        export_minari(anonymous, DATASET_ID, root=tmp_path)
    assert export_minari(anonymous, DATASET_ID, root=tmp_path, task="PointRooms").is_dir()
    with pytest.raises(ConfigError, match="not a Minari dataset id"):
        export_minari(rooms, "no version", root=tmp_path)


def test_cli_export_and_import(tmp_path, rooms, capsys, monkeypatch):
    npz = rooms.save(tmp_path / "rooms.npz")
    monkeypatch.chdir(tmp_path)
    root = "minari"  # relative, as typed
    assert main(["datasets", "export-minari", str(npz), "--id", DATASET_ID, "--root", str(root)]) == 0
    assert DATASET_ID in capsys.readouterr().out
    out = tmp_path / "back.npz"
    assert main(["datasets", "import-minari", DATASET_ID, "--root", str(root), "--out", str(out)]) == 0
    back = TrajectoryDataset.load(out)
    assert back.checksum() == rooms.checksum()
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == rooms.checksum()

    assert main(["datasets", "export-minari", str(npz), "--id", DATASET_ID, "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err
    assert main(["datasets", "import-minari", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert main(["datasets", "export-minari", str(npz), "--root", str(root)]) == 2  # no --id
    assert "--id" in capsys.readouterr().err

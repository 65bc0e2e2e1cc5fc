"""Minari interop: export a TrajectoryDataset as a local Minari dataset, import one back.

Minari (https://minari.farama.org, version 0.5.4, HDF5 storage) keeps a dataset in
`ROOT/<dataset id>/data/` (`metadata.json` and `main_data.hdf5`), where ROOT is the `root` argument,
else $MINARI_DATASETS_PATH, else ~/.minari/datasets. Nothing here touches the network.

Each episode is stored the Minari way, with dict observations of T+1 steps:

    observations/observation    (T+1, S)   goplan observations
    observations/achieved_goal  (T+1, G)   goplan achieved_goals
    observations/desired_goal   (T+1, G)   goplan desired_goals, the last step repeated
    actions                     (T, A)
    rewards                     (T,)       the task's sparse reward of the state reached
    terminations, truncations   (T,)       never terminated; truncated at the last step

The goplan card travels in the Minari metadata (`goplan_card`, a JSON string). Every problem with a
Minari folder (missing, corrupt metadata, a truncated HDF5 file, unexpected spaces) is a one-line
DatasetError naming the path.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from goplan.data.dataset import TrajectoryDataset, read_json_object
from goplan.errors import ConfigError, DatasetError, first_line
from goplan.tasks.registry import get_task

ROOT_ENV = "MINARI_DATASETS_PATH"
DEFAULT_ROOT = Path("~") / ".minari" / "datasets"  # Minari's own default
DATA_SUBDIR = "data"
METADATA_FILE = "metadata.json"
HDF5_FILE = "main_data.hdf5"
DATA_FORMAT = "hdf5"
CARD_KEY = "goplan_card"
OBS_KEY, ACHIEVED_KEY, DESIRED_KEY = "observation", "achieved_goal", "desired_goal"
OBS_KEYS = (OBS_KEY, ACHIEVED_KEY, DESIRED_KEY)
AUTHOR = "goplan"
CODE_PERMALINK = "goplan (this project): goplan datasets export-minari"
SOURCE_FORMAT = "minari"
ACTION_LOW, ACTION_HIGH = -1.0, 1.0
OBS_DTYPE = np.float32
# cards of exported datasets: these describe the npz file and are recomputed when one is saved again
FILE_CARD_KEYS = ("sha256",)


def minari_root(root: str | os.PathLike | None = None) -> Path:
    """The Minari datasets folder (absolute): `root`, else $MINARI_DATASETS_PATH, else ~/.minari/datasets."""
    if root is None:
        env = os.environ.get(ROOT_ENV)
        root = env if env else DEFAULT_ROOT
    return Path(root).expanduser().absolute()  # Minari mishandles relative dataset paths


@contextlib.contextmanager
def _datasets_path(root: Path) -> Iterator[None]:
    """Point Minari's own functions at `root` for the duration (they read $MINARI_DATASETS_PATH)."""
    before = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = before


def _import_minari():
    try:
        import minari
    except ImportError as exc:
        raise ConfigError(f"Minari is not installed ({exc}); pip install 'goplan[minari]'") from None
    return minari


def check_dataset_id(dataset_id: str) -> None:
    """ConfigError unless `dataset_id` is a Minari id: (namespace/)name-vN."""
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except ValueError:
        raise ConfigError(f"'{dataset_id}' is not a Minari dataset id; expected (namespace/)name-vVERSION, "
                          f"e.g. goplan/pointrooms/noise-v0") from None


def _spaces(dataset: TrajectoryDataset):
    from gymnasium import spaces

    s, g, a = dataset.dims
    box = lambda dim: spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=OBS_DTYPE)  # noqa: E731
    observation_space = spaces.Dict({OBS_KEY: box(s), ACHIEVED_KEY: box(g), DESIRED_KEY: box(g)})
    action_space = spaces.Box(ACTION_LOW, ACTION_HIGH, shape=(a,), dtype=OBS_DTYPE)
    return observation_space, action_space


def export_minari(dataset: TrajectoryDataset, dataset_id: str, root: str | os.PathLike | None = None,
                  task: str | None = None, overwrite: bool = False) -> Path:
    """Write `dataset` as the local Minari dataset `dataset_id` under `root`; returns its folder.

    The task (default: the card's) gives the rewards and the evaluation environment's Gymnasium id."""
    _import_minari()
    from minari import create_dataset_from_buffers
    from minari.data_collector import EpisodeBuffer

    check_dataset_id(dataset_id)
    task = task or dataset.card.get("task")
    if not task:
        raise ConfigError("the dataset card names no task; pass the task (--task) to compute the rewards")
    spec = get_task(task)
    dataset.check_task(spec)
    root = minari_root(root)
    folder = root / dataset_id
    if folder.exists():
        if not overwrite:
            raise DatasetError(f"{folder}: a Minari dataset '{dataset_id}' exists already; pass --force to replace it")
        shutil.rmtree(folder)

    n, t = dataset.num_episodes, dataset.horizon
    rewards = spec.reward(dataset.achieved_goals[:, 1:], dataset.desired_goals).astype(np.float32)
    desired = np.concatenate([dataset.desired_goals, dataset.desired_goals[:, -1:]], axis=1)
    terminations = np.zeros((n, t), dtype=bool)
    truncations = np.zeros((n, t), dtype=bool)
    truncations[:, -1] = True
    buffers = [  # Minari stores one HDF5 group per episode: its API takes one buffer per episode
        EpisodeBuffer(
            id=i,
            observations={OBS_KEY: dataset.observations[i], ACHIEVED_KEY: dataset.achieved_goals[i],
                          DESIRED_KEY: desired[i]},
            actions=dataset.actions[i], rewards=rewards[i], terminations=terminations[i],
            truncations=truncations[i],
        )
        for i in range(n)
    ]
    observation_space, action_space = _spaces(dataset)
    card = {k: v for k, v in dataset.card.items() if k not in FILE_CARD_KEYS}
    description = (f"goplan dataset of task {spec.name}: {n} episodes of {t} steps, behaviour policy "
                   f"{card.get('behaviour_policy', 'unknown')} with N(0, {card.get('noise_std', 'unknown')}) "
                   f"action noise")
    root.mkdir(parents=True, exist_ok=True)
    try:
        with _datasets_path(root), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Minari warns about every optional metadata field left out
            minari_ds = create_dataset_from_buffers(
                dataset_id, buffers, eval_env=spec.gym_id, algorithm_name=str(card.get("behaviour_policy", "unknown")),
                author=AUTHOR, code_permalink=CODE_PERMALINK, action_space=action_space,
                observation_space=observation_space, description=description, data_format=DATA_FORMAT,
            )
            minari_ds.storage.update_metadata({CARD_KEY: json.dumps(card, sort_keys=True)})
    except Exception as exc:  # noqa: BLE001 - Minari and h5py raise many types; none may leave half a dataset
        shutil.rmtree(folder, ignore_errors=True)
        raise DatasetError(f"{folder}: could not write the Minari dataset ({first_line(exc)})") from None
    return folder


def _data_path(source: str | os.PathLike, root: str | os.PathLike | None) -> tuple[Path, str | None]:
    """The `data` folder of a Minari dataset given as a folder or an id; and the id if one was given."""
    path = Path(source)
    if path.is_dir():
        for candidate in (path / DATA_SUBDIR, path):
            if (candidate / METADATA_FILE).is_file():
                return candidate, None
        raise DatasetError(f"{path}: not a Minari dataset folder (no {DATA_SUBDIR}/{METADATA_FILE})")
    if path.exists():
        raise DatasetError(f"{path}: is a file; give a Minari dataset id or its folder")
    if path.is_absolute() or str(source).startswith("."):
        raise DatasetError(f"{path}: no such Minari dataset folder")
    check_dataset_id(str(source))
    data = minari_root(root) / str(source) / DATA_SUBDIR
    if not (data / METADATA_FILE).is_file():
        raise DatasetError(f"{data.parent}: no Minari dataset '{source}' there (no {DATA_SUBDIR}/{METADATA_FILE})")
    return data, str(source)


def _read_metadata(data: Path) -> dict[str, Any]:
    return read_json_object(data / METADATA_FILE, "Minari metadata")


def _check_spaces(storage, source: Path) -> None:
    from gymnasium import spaces

    obs, act = storage.observation_space, storage.action_space
    if not isinstance(obs, spaces.Dict) or set(obs.spaces) != set(OBS_KEYS):
        raise DatasetError(f"{source}: observations must be a dict of {', '.join(OBS_KEYS)}, got {obs}")
    for key in OBS_KEYS:
        if not isinstance(obs[key], spaces.Box) or len(obs[key].shape) != 1:
            raise DatasetError(f"{source}: observation '{key}' must be a 1-D Box, got {obs[key]}")
    if not isinstance(act, spaces.Box) or len(act.shape) != 1:
        raise DatasetError(f"{source}: actions must be a 1-D Box, got {act}")


def _stack(episodes: list[dict[str, Any]], get, what: str, source: Path) -> np.ndarray:
    try:
        return np.stack([np.asarray(get(ep)) for ep in episodes])
    except ValueError:
        lengths = sorted({np.asarray(get(ep)).shape for ep in episodes})
        raise DatasetError(f"{source}: episodes differ in {what} shape ({lengths[:3]}...); goplan needs equal-length "
                           f"episodes") from None


def import_minari(source: str | os.PathLike, root: str | os.PathLike | None = None) -> TrajectoryDataset:
    """Read a local Minari dataset (an id under `root`, or a dataset folder) as a TrajectoryDataset."""
    _import_minari()
    from minari.dataset.minari_storage import MinariStorage

    data, dataset_id = _data_path(source, root)
    meta = _read_metadata(data)
    hdf5 = data / HDF5_FILE
    if meta.get("data_format", DATA_FORMAT) == DATA_FORMAT and not hdf5.is_file():
        raise DatasetError(f"{hdf5}: missing; the Minari dataset is incomplete")
    try:
        storage = MinariStorage.read(data)
        total = int(storage.total_episodes)
        _check_spaces(storage, data)
        episodes = list(storage.get_episodes(range(total)))
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py/Minari raise OSError, KeyError, AssertionError, ...
        where = hdf5 if hdf5.is_file() else data
        raise DatasetError(f"{where}: not a readable Minari dataset ({first_line(exc)})") from None
    if total <= 0:
        raise DatasetError(f"{data}: the Minari dataset holds no episodes")
    obs = _stack(episodes, lambda ep: ep["observations"][OBS_KEY], "observation", data)
    achieved = _stack(episodes, lambda ep: ep["observations"][ACHIEVED_KEY], "achieved-goal", data)
    desired = _stack(episodes, lambda ep: ep["observations"][DESIRED_KEY], "desired-goal", data)
    actions = _stack(episodes, lambda ep: ep["actions"], "action", data)
    if obs.ndim != 3 or actions.ndim != 3 or actions.shape[1] + 1 != obs.shape[1]:
        raise DatasetError(f"{data}: observations {obs.shape} and actions {actions.shape} do not fit "
                           f"(episodes, T+1, dim) and (episodes, T, dim)")
    card: dict[str, Any] = {}
    if CARD_KEY in meta:
        try:
            card = json.loads(meta[CARD_KEY])
        except (TypeError, json.JSONDecodeError):
            raise DatasetError(f"{data / METADATA_FILE}: '{CARD_KEY}' is not a JSON string") from None
        if not isinstance(card, dict):
            raise DatasetError(f"{data / METADATA_FILE}: '{CARD_KEY}' must hold a JSON object")
    card.update(source_format=SOURCE_FORMAT, minari_dataset_id=meta.get("dataset_id", dataset_id),
                minari_version=meta.get("minari_version"), source_path=str(data.parent))
    try:
        return TrajectoryDataset(obs, achieved, desired[:, :-1], actions, card=card)
    except DatasetError as exc:
        raise DatasetError(f"{data}: {str(exc).removeprefix('dataset: ')}") from None


__all__ = ["export_minari", "import_minari", "minari_root", "check_dataset_id"]

"""Trajectory datasets: arrays shaped (episodes, T+1, ...), saved as compressed npz + JSON card.

`TrajectoryDataset.load` reads goplan's npz itself and hands any file whose suffix a registered format
claims (goplan.data.formats: HDF5, WGCSL buffer.pkl) to that format's loader.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from goplan.data.formats import loader_for
from goplan.errors import DatasetError, first_line
from goplan.tasks.registry import check_shapes

ARRAY_KEYS = ("observations", "achieved_goals", "desired_goals", "actions")
ZIP_MAGIC = b"PK\x03\x04"  # every npz archive starts with a zip local-file header


def read_json_object(path: Path, what: str, error: type[Exception] = DatasetError) -> dict[str, Any]:
    """A JSON object from a file; anything else raises `error` naming the file and what is wrong."""
    try:
        value = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: {what} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if not isinstance(value, dict):
        raise error(f"{path}: {what} must be a JSON object")
    return value


@dataclass
class TrajectoryDataset:
    """A fixed offline dataset of equal-length goal-conditioned episodes.

    observations    (E, T+1, S)  states s_0 .. s_T
    achieved_goals  (E, T+1, G)  phi(s_t)
    desired_goals   (E, T, G)    the goal the behaviour policy pursued at step t
    actions         (E, T, A)    actions a_0 .. a_{T-1}, in [-1, 1]
    card            JSON-able description (task, size, behaviour policy, noise, seed, success rate)
    """

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ARRAY_KEYS:
            with np.errstate(over="ignore"):  # values beyond float32 become inf; validate() reports them
                setattr(self, key, np.asarray(getattr(self, key), dtype=np.float32))
        self.validate()

    # ---- shape facts ----
    @property
    def num_episodes(self) -> int:
        return self.observations.shape[0]

    @property
    def horizon(self) -> int:
        return self.actions.shape[1]

    @property
    def num_transitions(self) -> int:
        return self.num_episodes * self.horizon

    @property
    def dims(self) -> tuple[int, int, int]:
        return self.observations.shape[2], self.achieved_goals.shape[2], self.actions.shape[2]

    def validate(self, source: str = "dataset") -> None:
        """Raise DatasetError naming the first inconsistency found."""
        o, ag, g, u = self.observations, self.achieved_goals, self.desired_goals, self.actions
        for key, arr in zip(ARRAY_KEYS, (o, ag, g, u)):
            if arr.ndim != 3:
                raise DatasetError(f"{source}: '{key}' must be 3-D (episodes, steps, dim), got shape {arr.shape}")
        if o.shape[0] == 0:
            raise DatasetError(f"{source}: the dataset holds no episodes")
        n, t1 = o.shape[:2]
        t = t1 - 1
        if t < 2:
            raise DatasetError(f"{source}: episodes need at least 2 steps, got {t}")
        expect = {"achieved_goals": (n, t + 1), "desired_goals": (n, t), "actions": (n, t)}
        for key, want in expect.items():
            if getattr(self, key).shape[:2] != want:
                raise DatasetError(
                    f"{source}: '{key}' has leading shape {getattr(self, key).shape[:2]}, expected {want} "
                    f"from observations {o.shape}"
                )
        if ag.shape[2] != g.shape[2]:
            raise DatasetError(f"{source}: achieved goals have dim {ag.shape[2]} but desired goals {g.shape[2]}")
        for key, arr in zip(ARRAY_KEYS, (o, ag, g, u)):
            if not np.isfinite(arr).all():
                raise DatasetError(f"{source}: '{key}' contains NaN or infinity")

    def check_task(self, spec, source: str = "dataset") -> None:
        """Check the arrays against a task's dimensions and its goal map."""
        check_shapes(spec, *self.dims, what=source)

    def checksum(self) -> str:
        h = hashlib.sha256()
        for key in ARRAY_KEYS:
            h.update(np.ascontiguousarray(getattr(self, key)).tobytes())
        return h.hexdigest()

    def tensors(self, device) -> dict:
        """The four arrays as float32 torch tensors on a device, keyed as ARRAY_KEYS."""
        import torch

        return {k: torch.as_tensor(getattr(self, k), dtype=torch.float32, device=device) for k in ARRAY_KEYS}

    def subset(self, episodes: np.ndarray | slice) -> "TrajectoryDataset":
        return TrajectoryDataset(*(getattr(self, k)[episodes] for k in ARRAY_KEYS), card=dict(self.card))

    # ---- files ----
    def save(self, path: str | os.PathLike) -> Path:
        """Write `path` (.npz, compressed) and its card `path` with suffix .json, atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        card = dict(self.card)
        card.update(
            episodes=self.num_episodes,
            steps_per_episode=self.horizon,
            transitions=self.num_transitions,
            state_dim=self.dims[0],
            goal_dim=self.dims[1],
            action_dim=self.dims[2],
            sha256=self.checksum(),
        )
        self.card = card
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: getattr(self, k) for k in ARRAY_KEYS})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        card_path = path.with_suffix(".json")
        tmp = card_path.with_name(card_path.name + ".tmp")
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True))
        os.replace(tmp, card_path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrajectoryDataset":
        """Load a dataset file: our npz, or a file of a registered format (goplan.data.formats), such as an
        HDF5 file (.h5/.hdf5) or an original-format buffer.pkl (read safely)."""
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"{path}: no such dataset file")
        if path.is_dir():
            raise DatasetError(f"{path}: is a directory, expected a dataset file (.npz, .h5 or .pkl)")
        loader = loader_for(path)  # another registered format (goplan.data.formats) claims the suffix
        if loader is not None:
            return loader(path)
        try:
            # Open the file ourselves: np.load leaks its own handle when the zip is unreadable.
            with open(path, "rb") as f:
                head = f.read(len(ZIP_MAGIC))
                if head and head != ZIP_MAGIC:
                    raise DatasetError(f"{path}: not an npz (zip) archive; expected a file written by numpy.savez")
                f.seek(0)
                archive = np.load(f, allow_pickle=False)
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise DatasetError(f"{path}: holds a single .npy array, expected an npz archive of {list(ARRAY_KEYS)}")
                with archive as z:
                    missing = [k for k in ARRAY_KEYS if k not in z.files]
                    extra = [k for k in z.files if k not in ARRAY_KEYS]
                    if missing:
                        raise DatasetError(f"{path}: missing arrays {missing} (has {sorted(z.files)})")
                    if extra:
                        raise DatasetError(f"{path}: unexpected arrays {extra}")
                    arrays = {k: z[k] for k in ARRAY_KEYS}
        except DatasetError:
            raise
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable npz dataset ({first_line(exc)})") from None
        for k, arr in arrays.items():
            if arr.dtype.kind not in "iuf":  # integers and real floats; not bool, complex, strings
                raise DatasetError(f"{path}: array '{k}' is not numeric (dtype {arr.dtype})")
        card_path = path.with_suffix(".json")
        card = read_json_object(card_path, "dataset card") if card_path.exists() else {}
        try:
            ds = cls(**arrays, card=card)
        except DatasetError as exc:
            raise DatasetError(f"{path}: {str(exc).removeprefix('dataset: ')}") from None
        return ds

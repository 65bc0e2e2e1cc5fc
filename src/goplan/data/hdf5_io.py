"""HDF5 trajectory files (.h5 / .hdf5): the four arrays of a TrajectoryDataset as HDF5 datasets.

Files from elsewhere may name the arrays as the original buffers do (`o`, `ag`, `g`, `u`); both
spellings load. The dataset card travels as a JSON string attribute. Reading never executes anything
stored in the file: only numeric HDF5 datasets are accepted. Importing this module registers
`load_hdf5` as the loader of .h5/.hdf5 files (goplan.data.formats).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset
from goplan.data.formats import register_format
from goplan.errors import DatasetError, first_line

FORMAT_NAME = "hdf5"
HDF5_SUFFIXES = (".h5", ".hdf5")
CARD_ATTR = "goplan_card"
# the original buffer names of the four arrays (SPEC section 8)
ORIGINAL_NAMES = {"o": "observations", "ag": "achieved_goals", "g": "desired_goals", "u": "actions"}
NUMERIC_KINDS = "iuf"  # signed and unsigned integers, real floats


def save_hdf5(dataset: TrajectoryDataset, path: str | os.PathLike) -> Path:
    """Write the dataset (gzip-compressed) and its card; atomic (temporary file, then rename)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    card = dict(dataset.card, sha256=dataset.checksum())
    with h5py.File(tmp, "w") as f:
        for key in ARRAY_KEYS:
            f.create_dataset(key, data=getattr(dataset, key), compression="gzip")
        f.attrs[CARD_ATTR] = json.dumps(card, sort_keys=True)
    os.replace(tmp, path)
    return path


def _read_card(f, path: Path) -> dict[str, Any]:
    raw = f.attrs.get(CARD_ATTR)
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        card = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: the '{CARD_ATTR}' attribute is not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise DatasetError(f"{path}: the '{CARD_ATTR}' attribute must hold a JSON object")
    return card


def load_hdf5(path: str | os.PathLike) -> TrajectoryDataset:
    """Read an HDF5 trajectory file; any defect ends in one DatasetError naming the file."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file")
    try:
        with h5py.File(path, "r") as f:
            names = set(f.keys())
            original = bool(names & set(ORIGINAL_NAMES)) and not names & set(ARRAY_KEYS)
            spelled = ORIGINAL_NAMES if original else {k: k for k in ARRAY_KEYS}
            missing = [src for src in spelled if src not in names]
            if missing:
                raise DatasetError(f"{path}: missing arrays {missing} (has {sorted(names)})")
            extra = sorted(names - set(spelled))
            if extra:
                raise DatasetError(f"{path}: unexpected entries {extra}")
            arrays: dict[str, np.ndarray] = {}
            for src, dst in spelled.items():
                node = f[src]
                if not isinstance(node, h5py.Dataset):
                    raise DatasetError(f"{path}: '{src}' is a group, expected a numeric array")
                if node.dtype.kind not in NUMERIC_KINDS:
                    raise DatasetError(f"{path}: array '{src}' is not numeric (dtype {node.dtype})")
                arrays[dst] = node[()]
            card = _read_card(f, path)
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise DatasetError(f"{path}: not a readable HDF5 dataset ({first_line(exc)})") from None
    try:
        return TrajectoryDataset(**arrays, card=card)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {str(exc).removeprefix('dataset: ')}") from None


register_format(FORMAT_NAME, HDF5_SUFFIXES, load_hdf5)

__all__ = ["HDF5_SUFFIXES", "load_hdf5", "save_hdf5"]

"""Safe import and export of the original WGCSL / GOAT offline data format (`buffer.pkl`).

The file is a pickled dict of float arrays (SPEC section 8):

    o   (n, T+1, state)   observations
    ag  (n, T+1, goal)    achieved goals
    g   (n, T, goal)      desired goals
    u   (n, T, action)    actions

A pickle can run arbitrary code while it is being loaded, so the loader never uses
`pickle.load`. It uses `_NumericArrayUnpickler`, whose `find_class` hands out only the few
numpy/collections callables that rebuilding plain numeric arrays needs and refuses every other
global *before* it can be called. The loaded object is then checked key by key, and every
problem becomes a one-line `DatasetError` naming the file.

Importing this module registers `load_wgcsl_buffer` as the loader of .pkl/.pickle files
(goplan.data.formats).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from goplan.data.dataset import TrajectoryDataset
from goplan.data.formats import register_format
from goplan.errors import DatasetError, first_line

SOURCE_FORMAT = "wgcsl-buffer-pkl"
WGCSL_SUFFIXES = (".pkl", ".pickle")  # TrajectoryDataset.load reads these with load_wgcsl_buffer

# Original key -> TrajectoryDataset field, and whether the array carries the extra final step (T+1).
WGCSL_KEYS = {
    "o": ("observations", True),
    "ag": ("achieved_goals", True),
    "g": ("desired_goals", False),
    "u": ("actions", False),
}

# Globals a pickle of numeric numpy arrays (in a dict or OrderedDict) may name.
# numpy 1.x pickles say `numpy.core`, numpy 2.x pickles say `numpy._core`; protocol-5 pickles
# rebuild arrays through `numeric._frombuffer` instead of `multiarray._reconstruct`.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
    }
)
# Protocol-2 pickles carry array bytes as `_codecs.encode(text, "latin1")`. That global is served
# by `_latin1_encode`, which encodes with latin-1 and nothing else.
CODECS_ENCODE_GLOBAL = ("_codecs", "encode")
PICKLE_BYTES_ENCODING = "latin1"  # also how Python 2 byte strings (old numpy pickles) are decoded

# dtype kinds accepted as numeric: bool, signed int, unsigned int, float.
NUMERIC_DTYPE_KINDS = "biuf"
FLOAT32_MAX = float(np.finfo(np.float32).max)

EXPORT_PICKLE_PROTOCOL = 4
EXPORT_DTYPE = np.float64  # what the original files hold
# Write the array-rebuild global under its numpy 1.x name, which every numpy version can load
# (numpy 2 keeps `numpy.core.multiarray._reconstruct` importable without a warning for pickles).
LEGACY_RECONSTRUCT_GLOBAL = ("numpy.core.multiarray", "_reconstruct")


def _latin1_encode(text: str, encoding: str = PICKLE_BYTES_ENCODING) -> bytes:
    """Stand-in for `_codecs.encode` that only turns a latin-1 string back into bytes."""
    if not (isinstance(text, str) and isinstance(encoding, str)) or (
        encoding.replace("-", "").lower() != PICKLE_BYTES_ENCODING
    ):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed with a string and {PICKLE_BYTES_ENCODING}")
    return text.encode(PICKLE_BYTES_ENCODING)


class _NumericArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts of numpy arrays and nothing that runs other code."""

    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file, encoding=PICKLE_BYTES_ENCODING)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == CODECS_ENCODE_GLOBAL:
            return _latin1_encode
        if (module, name) not in ALLOWED_GLOBALS:
            raise DatasetError(
                f"{self._source}: refused to unpickle global '{module}.{name}': a WGCSL buffer may only "
                f"hold numeric numpy arrays in a dict (the file is corrupt or possibly malicious)"
            )
        return super().find_class(module, name)


def _unpickle_numeric(data: bytes, source: str) -> Any:
    """Unpickle `data` with the restricted unpickler; every failure becomes a DatasetError."""
    if not data:
        raise DatasetError(f"{source}: file is empty, expected a pickled WGCSL buffer")
    try:
        return _NumericArrayUnpickler(io.BytesIO(data), source).load()
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001
        # Only the allowed numpy callables can have run, so any other exception just means the
        # bytes are not a well-formed pickle (truncated, corrupt, wrong arguments): UnpicklingError,
        # EOFError, ValueError, TypeError, MemoryError, ... all mean the same to the user.
        raise DatasetError(
            f"{source}: not a readable WGCSL buffer pickle ({first_line(exc)})"
        ) from None


def _check_numeric_array(value: Any, key: str, source: str, max_bytes: int) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise DatasetError(f"{source}: '{key}' must be a numpy array, got {type(value).__name__}")
    if value.dtype.kind not in NUMERIC_DTYPE_KINDS:
        raise DatasetError(f"{source}: '{key}' is not a numeric array (dtype {value.dtype})")
    # A genuine pickled array stores its bytes in the file, so it can't be larger than the file;
    # a bigger one was allocated from a forged shape and must not be touched.
    if value.nbytes > max_bytes:
        raise DatasetError(
            f"{source}: '{key}' claims {value.nbytes} bytes, more than the {max_bytes}-byte file holds"
        )
    return value


def _check_buffer(obj: Any, source: str, file_size: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """Validate the unpickled object; return the four arrays by original key and the ignored keys."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{source}: expected a pickled dict of arrays, got {type(obj).__name__}")
    bad_keys = [repr(k) for k in obj if not isinstance(k, str)]
    if bad_keys:
        raise DatasetError(f"{source}: dict keys must be strings, got {', '.join(bad_keys)}")
    missing = [k for k in WGCSL_KEYS if k not in obj]
    if missing:
        raise DatasetError(f"{source}: missing keys {missing} (has {sorted(obj)}); needs o, ag, g, u")
    for key, value in obj.items():
        _check_numeric_array(value, key, source, file_size)
    arrays = {key: obj[key] for key in WGCSL_KEYS}
    ignored = sorted(k for k in obj if k not in WGCSL_KEYS)

    for key, arr in arrays.items():
        if arr.ndim != 3:
            raise DatasetError(f"{source}: '{key}' must be 3-D (episodes, steps, dim), got shape {arr.shape}")
    n = arrays["o"].shape[0]
    for key, arr in arrays.items():
        if arr.shape[0] != n:
            raise DatasetError(f"{source}: '{key}' has {arr.shape[0]} episodes but 'o' has {n}")
    t = arrays["u"].shape[1]
    for key, (_, has_final_step) in WGCSL_KEYS.items():
        want = t + 1 if has_final_step else t
        got = arrays[key].shape[1]
        if got != want:
            raise DatasetError(
                f"{source}: '{key}' has {got} steps but 'u' has {t} steps, so '{key}' needs {want}"
            )
    if arrays["ag"].shape[2] != arrays["g"].shape[2]:
        raise DatasetError(
            f"{source}: 'ag' has goal dim {arrays['ag'].shape[2]} but 'g' has {arrays['g'].shape[2]}"
        )
    for key, arr in arrays.items():
        if not np.isfinite(arr).all():
            raise DatasetError(f"{source}: '{key}' contains NaN or infinity")
        if arr.size and np.abs(arr).max() > FLOAT32_MAX:
            raise DatasetError(f"{source}: '{key}' has values beyond the float32 range")
    return arrays, ignored


def load_wgcsl_buffer(path: str | os.PathLike, task=None) -> TrajectoryDataset:
    """Import an original WGCSL/GOAT `buffer.pkl` safely as a TrajectoryDataset.

    `task` (a TaskSpec), if given, must match the data's (state, goal, action) dimensions;
    a mismatch raises TaskError from `TrajectoryDataset.check_task`.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise DatasetError(f"{source}: no such dataset file")
    if path.is_dir():
        raise DatasetError(f"{source}: is a directory, expected a WGCSL buffer .pkl file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{source}: cannot read the file ({exc.strerror or exc})") from None

    obj = _unpickle_numeric(data, source)
    arrays, ignored = _check_buffer(obj, source, file_size=len(data))

    card: dict[str, Any] = {
        "source_format": SOURCE_FORMAT,
        "source_file": path.name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_dtypes": {key: str(arr.dtype) for key, arr in arrays.items()},
        "episodes": int(arrays["o"].shape[0]),
        "steps_per_episode": int(arrays["u"].shape[1]),
        "ignored_keys": ignored,
    }
    try:
        dataset = TrajectoryDataset(
            **{WGCSL_KEYS[key][0]: arr for key, arr in arrays.items()},
            card=card,
        )
    except DatasetError as exc:
        raise DatasetError(f"{source}: {str(exc).removeprefix('dataset: ')}") from None
    dataset.card.update(
        transitions=dataset.num_transitions,
        state_dim=dataset.dims[0],
        goal_dim=dataset.dims[1],
        action_dim=dataset.dims[2],
    )
    if task is not None:
        dataset.check_task(task, source=source)
        dataset.card["task"] = task.name
    return dataset


class _LegacyNumpyPickler(pickle._Pickler):
    """The pure-Python pickler, naming numpy's array-rebuild function by its numpy 1.x path.

    numpy 2 would write `numpy._core.multiarray._reconstruct`, which the numpy 1.x that the
    original WGCSL code runs on cannot import. Same object, older name.
    """

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is not _numpy_reconstruct() or self.proto < 4:
            super().save_global(obj, name)
            return
        module, qualname = LEGACY_RECONSTRUCT_GLOBAL
        self.save(module)
        self.save(qualname)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct  # numpy 1.x
    return _reconstruct


def save_wgcsl_buffer(dataset: TrajectoryDataset, path: str | os.PathLike) -> Path:
    """Export `dataset` as an original-format buffer.pkl (dict of float64 arrays, protocol 4).

    Written atomically; returns the path. The original code can load it with `pickle.load`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = {
        key: np.ascontiguousarray(getattr(dataset, field_name), dtype=EXPORT_DTYPE)
        for key, (field_name, _) in WGCSL_KEYS.items()
    }
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        _LegacyNumpyPickler(f, protocol=EXPORT_PICKLE_PROTOCOL).dump(buffer)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


register_format(SOURCE_FORMAT, WGCSL_SUFFIXES, load_wgcsl_buffer)

__all__ = ["load_wgcsl_buffer", "save_wgcsl_buffer", "ALLOWED_GLOBALS", "SOURCE_FORMAT", "WGCSL_SUFFIXES"]

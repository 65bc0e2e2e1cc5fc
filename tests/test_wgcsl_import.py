"""Safe import/export of the original WGCSL/GOAT buffer.pkl format."""
from __future__ import annotations

import builtins
import os
import pickle
import pickletools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from goplan.data.dataset import TrajectoryDataset
from goplan.data.wgcsl_import import SOURCE_FORMAT, load_wgcsl_buffer, save_wgcsl_buffer
from goplan.errors import DatasetError, TaskError
from goplan.tasks.registry import TaskSpec

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_BUFFER = SHARED_DATA / "wgcsl_pointreach_noise_traj50.pkl"
REAL_EPISODES, REAL_STEPS, REAL_DIMS = 50, 49, (2, 2, 2)

# original key -> TrajectoryDataset attribute
FIELDS = {"o": "observations", "ag": "achieved_goals", "g": "desired_goals", "u": "actions"}

needs_real_buffer = pytest.mark.skipif(
    not REAL_BUFFER.is_file(), reason=f"shared data file not found at {REAL_BUFFER} (expects shared/ beside the repo)"
)


def make_buffer(n: int = 3, t: int = 5, state: int = 4, goal: int = 2, action: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "o": rng.normal(size=(n, t + 1, state)),
        "ag": rng.normal(size=(n, t + 1, goal)),
        "g": rng.normal(size=(n, t, goal)),
        "u": rng.uniform(-1, 1, size=(n, t, action)),
    }


def write_pickle(path: Path, obj) -> Path:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.DEFAULT_PROTOCOL)
    return path


def assert_matches(dataset: TrajectoryDataset, buffer: dict) -> None:
    for key, attr in FIELDS.items():
        np.testing.assert_array_equal(getattr(dataset, attr), np.asarray(buffer[key], dtype=np.float32))


# ---------------------------------------------------------------- the real file
@needs_real_buffer
def test_real_buffer_imports_with_plain_pickle_values():
    dataset = load_wgcsl_buffer(REAL_BUFFER)
    with open(REAL_BUFFER, "rb") as f:
        plain = pickle.load(f)  # trusted shared test file
    assert dataset.num_episodes == REAL_EPISODES
    assert dataset.horizon == REAL_STEPS
    assert dataset.dims == REAL_DIMS
    assert_matches(dataset, plain)
    card = dataset.card
    assert card["source_format"] == SOURCE_FORMAT
    assert card["source_file"] == REAL_BUFFER.name
    assert card["episodes"] == REAL_EPISODES and card["steps_per_episode"] == REAL_STEPS
    assert card["ignored_keys"] == []


@needs_real_buffer
def test_dataset_load_dispatches_pkl_to_the_safe_importer():
    dataset = TrajectoryDataset.load(REAL_BUFFER)
    assert dataset.card["source_format"] == SOURCE_FORMAT
    assert dataset.num_episodes == REAL_EPISODES


@needs_real_buffer
def test_truncated_real_file_is_refused(tmp_path):
    data = REAL_BUFFER.read_bytes()
    path = tmp_path / "truncated.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated.pkl"):
        load_wgcsl_buffer(path)


# ---------------------------------------------------------------- malicious pickles
class _Payload:
    """Pickles as a call to `func(*args)`: what an attacker puts in a buffer.pkl."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path) -> dict[str, _Payload]:
    return {
        "os.system": _Payload(os.system, (f"touch '{marker}'",)),
        "subprocess.call": _Payload(subprocess.call, (["touch", str(marker)],)),
        "builtins.exec": _Payload(builtins.exec, (f"open({str(marker)!r}, 'w').close()",)),
    }


def _global_name(func) -> str:
    return f"{func.__module__}.{func.__name__}"


def test_payload_is_live_under_plain_pickle(tmp_path):
    """Control: the exec payload really runs under pickle.loads, so the refusal tests mean something."""
    marker = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(_payloads(marker)["builtins.exec"]))  # trusted: we built it just now
    assert marker.exists()


@pytest.mark.parametrize("kind", ["os.system", "subprocess.call", "builtins.exec"])
@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "inside-valid-buffer"])
def test_malicious_pickle_is_refused_before_running(tmp_path, kind, nested):
    marker = tmp_path / "pwned_marker"
    payload = _payloads(marker)[kind]
    obj = {**make_buffer(), "info_is_success": payload} if nested else payload
    path = write_pickle(tmp_path / "evil.pkl", obj)

    with pytest.raises(DatasetError) as excinfo:
        load_wgcsl_buffer(path)
    message = str(excinfo.value)
    assert _global_name(payload.func) in message
    assert "evil.pkl" in message
    assert "\n" not in message
    assert not marker.exists(), "the pickled command ran"


def test_numpy_global_outside_the_allow_list_is_refused(tmp_path):
    path = write_pickle(tmp_path / "npload.pkl", _Payload(np.load, (str(tmp_path / "x.npy"),)))
    with pytest.raises(DatasetError, match=r"numpy\.load"):
        load_wgcsl_buffer(path)


def test_forged_huge_array_is_refused(tmp_path):
    """An ndarray built from a forged shape (no data in the file) must not be used."""
    buffer = make_buffer()
    buffer["o"] = _Payload(np.ndarray, ((1000, 1000, 4), "f8"))
    path = write_pickle(tmp_path / "forged.pkl", buffer)
    with pytest.raises(DatasetError, match="forged.pkl"):
        load_wgcsl_buffer(path)


# ---------------------------------------------------------------- malformed buffers
def _buffer_without(key: str) -> dict:
    buffer = make_buffer()
    del buffer[key]
    return buffer


def _buffer_with(**changes) -> dict:
    buffer = make_buffer()
    buffer.update(changes)
    return buffer


def _buffer_with_nan() -> dict:
    buffer = make_buffer()
    buffer["ag"][1, 2, 0] = np.nan
    return buffer


MALFORMED = {
    "not-a-dict": (lambda: list(make_buffer().values()), "list"),
    "missing-u": (lambda: _buffer_without("u"), "missing keys"),
    "object-dtype": (
        lambda: _buffer_with(g=np.array(make_buffer()["g"].tolist(), dtype=object)),
        "numeric",
    ),
    "non-array-extra": (lambda: _buffer_with(info_is_success="yes"), "info_is_success"),
    "mismatched-n": (lambda: _buffer_with(u=np.zeros((4, 5, 2))), "episodes"),
    "T-mismatch": (lambda: _buffer_with(ag=np.zeros((3, 5, 2))), "steps"),
    "2-D-array": (lambda: _buffer_with(u=np.zeros((3, 5))), "3-D"),
    "goal-dim-mismatch": (lambda: _buffer_with(g=np.zeros((3, 5, 3))), "goal dim"),
    "nan-values": (_buffer_with_nan, "NaN"),
    "inf-values": (lambda: _buffer_with(u=np.full((3, 5, 2), np.inf)), "NaN or infinity"),
    "beyond-float32": (lambda: _buffer_with(u=np.full((3, 5, 2), 1e300)), "float32"),
    "no-episodes": (lambda: make_buffer(n=0), "no episodes"),
    "non-string-key": (lambda: {**make_buffer(), 3: np.zeros(2)}, "strings"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_buffer_is_refused(tmp_path, case):
    build, expected = MALFORMED[case]
    path = write_pickle(tmp_path / f"{case}.pkl", build())
    with pytest.raises(DatasetError) as excinfo:
        load_wgcsl_buffer(path)
    message = str(excinfo.value)
    assert f"{case}.pkl" in message
    assert expected in message
    assert "\n" not in message


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.pkl"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="empty.pkl.*empty"):
        load_wgcsl_buffer(path)


def test_garbage_bytes_are_refused(tmp_path):
    path = tmp_path / "garbage.pkl"
    path.write_bytes(b"this is not a pickle at all\x00\xff")
    with pytest.raises(DatasetError, match="garbage.pkl"):
        load_wgcsl_buffer(path)


@pytest.mark.parametrize("cut", [1, 10, 100, 1000])
def test_truncated_pickle_is_refused(tmp_path, cut):
    data = pickle.dumps(make_buffer())
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[:cut])
    with pytest.raises(DatasetError, match="cut.pkl"):
        load_wgcsl_buffer(path)


def test_missing_path_and_directory_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="nope.pkl"):
        load_wgcsl_buffer(tmp_path / "nope.pkl")
    folder = tmp_path / "folder.pkl"
    folder.mkdir()
    with pytest.raises(DatasetError, match="folder.pkl"):
        load_wgcsl_buffer(folder)


# ---------------------------------------------------------------- accepted variants
def test_extra_numeric_keys_are_ignored_and_listed(tmp_path):
    buffer = make_buffer()
    buffer["info_is_success"] = np.zeros((3, 5, 1))
    buffer["o_2"] = np.zeros((3, 5, 4), dtype=np.float32)
    dataset = load_wgcsl_buffer(write_pickle(tmp_path / "extra.pkl", buffer))
    assert dataset.card["ignored_keys"] == ["info_is_success", "o_2"]
    assert_matches(dataset, buffer)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_loads(tmp_path, protocol):
    buffer = make_buffer()
    path = tmp_path / "buffer.pkl"
    with open(path, "wb") as f:
        pickle.dump(buffer, f, protocol=protocol)
    assert_matches(load_wgcsl_buffer(path), buffer)


def test_task_dimensions_are_checked(tmp_path):
    path = write_pickle(tmp_path / "buffer.pkl", make_buffer(state=4, goal=2, action=2))
    matching = TaskSpec(name="Match", obs_dim=4, goal_dim=2, act_dim=2, eps=0.1, goal_indices=(0, 1))
    assert load_wgcsl_buffer(path, task=matching).card["task"] == "Match"
    wrong = TaskSpec(name="Wrong", obs_dim=6, goal_dim=2, act_dim=2, eps=0.1, goal_indices=(0, 1))
    with pytest.raises(TaskError, match="buffer.pkl"):
        load_wgcsl_buffer(path, task=wrong)


# ---------------------------------------------------------------- export
def test_save_then_load_round_trips(tmp_path):
    original = load_wgcsl_buffer(write_pickle(tmp_path / "in.pkl", make_buffer()))
    out = save_wgcsl_buffer(original, tmp_path / "sub" / "buffer.pkl")
    assert out == tmp_path / "sub" / "buffer.pkl"
    again = load_wgcsl_buffer(out)
    for attr in FIELDS.values():
        np.testing.assert_array_equal(getattr(again, attr), getattr(original, attr))


def test_saved_file_is_the_original_format(tmp_path):
    dataset = load_wgcsl_buffer(write_pickle(tmp_path / "in.pkl", make_buffer()))
    out = save_wgcsl_buffer(dataset, tmp_path / "buffer.pkl")
    data = out.read_bytes()
    protocols = [arg for op, arg, _ in pickletools.genops(data) if op.name == "PROTO"]
    assert protocols == [4]
    # the numpy 1.x name of the array-rebuild function, loadable by the original code's numpy
    assert b"numpy.core.multiarray" in data and b"numpy._core" not in data
    plain = pickle.loads(data)  # trusted: we just wrote it
    assert sorted(plain) == sorted(FIELDS)
    for key, attr in FIELDS.items():
        assert plain[key].dtype == np.float64
        np.testing.assert_array_equal(plain[key], getattr(dataset, attr))
    assert not (tmp_path / "buffer.pkl.tmp").exists()


@needs_real_buffer
def test_real_buffer_round_trips(tmp_path):
    dataset = load_wgcsl_buffer(REAL_BUFFER)
    again = load_wgcsl_buffer(save_wgcsl_buffer(dataset, tmp_path / "buffer.pkl"))
    assert again.checksum() == dataset.checksum()


def test_persistent_id_pickle_is_one_line_error(tmp_path):
    """A pickle asking for a persistent object: pickle's own message spans two lines; ours is one
    (found by tests/test_fuzz.py)."""
    path = tmp_path / "persid.pkl"
    path.write_bytes(b"Pobject-outside-the-file\n.")
    with pytest.raises(DatasetError) as info:
        load_wgcsl_buffer(path)
    message = str(info.value)
    assert "\n" not in message and "persid.pkl" in message and "UnpicklingError" in message

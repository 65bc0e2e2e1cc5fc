"""TrajectoryDataset: npz + JSON card round trip, and clear DatasetErrors for every bad file."""
from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset
from goplan.errors import DatasetError

MIN_STEPS = 2  # TrajectoryDataset refuses episodes shorter than this


def make_arrays(n: int = 4, t: int = 6, state: int = 3, goal: int = 2, action: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "observations": rng.normal(size=(n, t + 1, state)).astype(np.float32),
        "achieved_goals": rng.normal(size=(n, t + 1, goal)).astype(np.float32),
        "desired_goals": rng.normal(size=(n, t, goal)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(n, t, action)).astype(np.float32),
    }


def write_npz(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


def load_fails(path: Path, expected: str = "", named: Path | None = None) -> str:
    """Load `path`, require a one-line DatasetError naming the file at fault; return its message."""
    with pytest.raises(DatasetError) as excinfo:
        TrajectoryDataset.load(path)
    message = str(excinfo.value)
    assert (named or path).name in message
    assert expected in message
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- round trip
def test_save_load_round_trip_keeps_arrays_and_writes_card(tmp_path):
    arrays = make_arrays()
    dataset = TrajectoryDataset(**arrays, card={"task": "PointReach", "noise": 0.2})
    path = dataset.save(tmp_path / "data" / "set.npz")
    assert path == tmp_path / "data" / "set.npz"

    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sha256"] == dataset.checksum()
    assert card["episodes"] == 4
    assert card["steps_per_episode"] == 6
    assert card["transitions"] == 4 * 6
    assert (card["state_dim"], card["goal_dim"], card["action_dim"]) == (3, 2, 2)
    assert card["task"] == "PointReach" and card["noise"] == 0.2

    loaded = TrajectoryDataset.load(path)
    for key in ARRAY_KEYS:
        np.testing.assert_array_equal(getattr(loaded, key), arrays[key])
        assert getattr(loaded, key).dtype == np.float32
    assert loaded.card == card
    assert loaded.checksum() == card["sha256"]
    assert not list(path.parent.glob("*.tmp"))


def test_save_adds_npz_suffix(tmp_path):
    path = TrajectoryDataset(**make_arrays()).save(tmp_path / "set")
    assert path.name == "set.npz" and (tmp_path / "set.json").exists()


def test_load_without_card_gives_empty_card(tmp_path):
    path = write_npz(tmp_path / "bare.npz", make_arrays())
    assert TrajectoryDataset.load(path).card == {}


# ---------------------------------------------------------------- bad files
def test_missing_path(tmp_path):
    load_fails(tmp_path / "absent.npz", "no such")


def test_directory(tmp_path):
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    load_fails(folder, "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    load_fails(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_npz(tmp_path, fraction):
    full = TrajectoryDataset(**make_arrays()).save(tmp_path / "full.npz").read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(full[: int(len(full) * fraction)])
    load_fails(path)


def test_non_zip_file(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("observations,actions\n1,2\n")
    load_fails(path)


def test_npz_missing_a_key(tmp_path):
    arrays = make_arrays()
    del arrays["actions"]
    load_fails(write_npz(tmp_path / "missing.npz", arrays), "missing")


def test_npz_with_an_extra_key(tmp_path):
    path = write_npz(tmp_path / "extra.npz", {**make_arrays(), "rewards": np.zeros((4, 6))})
    load_fails(path, "rewards")


def test_nan_data(tmp_path):
    arrays = make_arrays()
    arrays["desired_goals"][2, 3, 1] = np.nan
    load_fails(write_npz(tmp_path / "nan.npz", arrays), "NaN")


def test_infinite_data(tmp_path):
    arrays = make_arrays()
    arrays["observations"][0, 0, 0] = -np.inf
    load_fails(write_npz(tmp_path / "inf.npz", arrays), "infinity")


@pytest.mark.parametrize(
    "key, shape",
    [
        ("actions", (4, 5, 2)),  # one step short
        ("achieved_goals", (4, 6, 2)),  # T instead of T+1
        ("desired_goals", (3, 6, 2)),  # fewer episodes
        ("observations", (4, 8, 3)),  # longer episodes
    ],
)
def test_mismatched_lengths(tmp_path, key, shape):
    arrays = {**make_arrays(), key: np.zeros(shape, dtype=np.float32)}
    load_fails(write_npz(tmp_path / "lengths.npz", arrays))


def test_goal_dims_disagree(tmp_path):
    arrays = {**make_arrays(), "desired_goals": np.zeros((4, 6, 3), dtype=np.float32)}
    load_fails(write_npz(tmp_path / "goaldim.npz", arrays), "desired goals")


def test_wrong_rank(tmp_path):
    arrays = {**make_arrays(), "actions": np.zeros((4, 6), dtype=np.float32)}
    load_fails(write_npz(tmp_path / "rank.npz", arrays), "3-D")


def test_empty_dataset(tmp_path):
    load_fails(write_npz(tmp_path / "zero.npz", make_arrays(n=0)), "no episodes")


def test_episodes_of_one_step(tmp_path):
    load_fails(write_npz(tmp_path / "short.npz", make_arrays(t=1)), "at least")


def test_string_array(tmp_path):
    arrays = {**make_arrays(), "actions": np.full((4, 6, 2), "x")}
    load_fails(write_npz(tmp_path / "strings.npz", arrays), "numeric")


def test_object_array_is_not_unpickled(tmp_path):
    arrays = {**make_arrays(), "actions": np.empty((4, 6, 2), dtype=object)}
    load_fails(write_npz(tmp_path / "objects.npz", arrays))


def test_card_that_is_not_json(tmp_path):
    path = write_npz(tmp_path / "card.npz", make_arrays())
    path.with_suffix(".json").write_text("{not json")
    load_fails(path, "JSON", named=path.with_suffix(".json"))


def test_card_that_is_not_an_object(tmp_path):
    path = write_npz(tmp_path / "card.npz", make_arrays())
    path.with_suffix(".json").write_text("[1, 2]")
    load_fails(path, "object", named=path.with_suffix(".json"))


# ---------------------------------------------------------------- known bugs in dataset.py
# Each of these currently raises something other than DatasetError (or silently loses data).


def _zip_members_overwritten(arrays: dict, patch) -> bytes:
    """A compressed npz whose bytes have been changed by `patch(data, zip_infos)`."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        infos = zf.infolist()
    patch(data, infos)
    return bytes(data)


def _break_deflate_stream(data: bytearray, infos) -> None:
    # Local header: 30 fixed bytes, then the name and extra field whose lengths sit at 26 and 28.
    for info in infos:
        start = info.header_offset
        name_len = int.from_bytes(data[start + 26 : start + 28], "little")
        extra_len = int.from_bytes(data[start + 28 : start + 30], "little")
        body = start + 30 + name_len + extra_len
        data[body : body + 4] = b"\xff\xff\xff\xff"  # deflate block type 3: reserved, invalid


def _unsupported_compression(data: bytearray, infos) -> None:
    # Central directory entries start with PK\x01\x02; the compression method sits at offset 10.
    for match in re.finditer(rb"PK\x01\x02", bytes(data)):
        data[match.start() + 10 : match.start() + 12] = (99).to_bytes(2, "little")


@pytest.mark.parametrize("patch", [_break_deflate_stream, _unsupported_compression], ids=["deflate", "method"])
def test_corrupt_npz_member(tmp_path, patch):
    """zlib.error / NotImplementedError from zipfile escape: add both to the caught exceptions."""
    path = tmp_path / "corrupt.npz"
    path.write_bytes(_zip_members_overwritten({k: np.zeros_like(v) for k, v in make_arrays().items()}, patch))
    load_fails(path)


def test_plain_npy_file(tmp_path):
    """np.load returns an ndarray for .npy content, which is not a context manager: TypeError."""
    path = tmp_path / "single.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((4, 7, 3)))
    load_fails(path)


def test_complex_array_is_refused(tmp_path):
    """Complex arrays pass the np.number check and lose their imaginary part in the float32 cast."""
    arrays = {**make_arrays(), "actions": make_arrays()["actions"] + 1j}
    load_fails(write_npz(tmp_path / "complex.npz", arrays), "numeric")


def test_unreadable_card(tmp_path):
    """A card path that is a directory raises IsADirectoryError: catch OSError when reading the card."""
    path = write_npz(tmp_path / "cardless.npz", make_arrays())
    path.with_suffix(".json").mkdir()
    load_fails(path, named=path.with_suffix(".json"))


# ---------------------------------------------------------------- property: DatasetError or success
DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.str_, object]
NUMERIC_KINDS = "iuf"  # what TrajectoryDataset accepts: integers and real floats
SPECIAL_VALUES = [np.nan, np.inf, -np.inf, 1e39]  # 1e39 overflows float32


CLEAN_DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8]


@st.composite
def garbage_arrays(draw):
    """Four arrays: half the time well-formed numbers, half the time broken in any number of ways."""
    clean = draw(st.booleans())
    n = draw(st.integers(1, 3) if clean else st.integers(0, 3))
    t = draw(st.integers(MIN_STEPS, 4) if clean else st.integers(0, 4))
    dims = {"state": draw(st.integers(0, 3)), "goal": draw(st.integers(0, 3)), "action": draw(st.integers(0, 3))}
    wanted = {
        "observations": (n, t + 1, dims["state"]),
        "achieved_goals": (n, t + 1, dims["goal"]),
        "desired_goals": (n, t, dims["goal"]),
        "actions": (n, t, dims["action"]),
    }
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arrays = {}
    for key, shape in wanted.items():
        if not clean and draw(st.booleans()):
            shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=4)))
        dtype = draw(st.sampled_from(CLEAN_DTYPES if clean else DTYPES))
        values = rng.normal(scale=draw(st.sampled_from([1.0, 1e3])), size=shape)
        if not clean and values.size and draw(st.booleans()):
            values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from(SPECIAL_VALUES))
        if dtype is np.str_:
            arr = values.astype(str)
        elif dtype is object:
            arr = values.astype(object)
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                arr = values.astype(dtype)
        arrays[key] = arr
    return arrays


def is_consistent(arrays: dict) -> bool:
    """Independent statement of what a loadable dataset is."""
    o, ag, g, u = (arrays[k] for k in ARRAY_KEYS)
    if any(a.dtype.kind not in NUMERIC_KINDS or a.ndim != 3 for a in (o, ag, g, u)):
        return False
    n, t = u.shape[:2]
    shapes_agree = (
        n > 0
        and t >= MIN_STEPS
        and o.shape[:2] == (n, t + 1)
        and ag.shape[:2] == (n, t + 1)
        and g.shape[:2] == (n, t)
        and ag.shape[2] == g.shape[2]
    )
    with np.errstate(over="ignore"):
        finite = all(np.isfinite(a.astype(np.float32)).all() for a in (o, ag, g, u))
    return shapes_agree and finite


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays=garbage_arrays(), compressed=st.booleans())
def test_any_npz_loads_or_raises_dataset_error(arrays, compressed):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.npz"
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        if is_consistent(arrays):
            loaded = TrajectoryDataset.load(path)
            for key in ARRAY_KEYS:
                np.testing.assert_array_equal(getattr(loaded, key), arrays[key].astype(np.float32))
        else:
            load_fails(path)

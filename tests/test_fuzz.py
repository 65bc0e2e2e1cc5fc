"""Property-based fuzzing: generated malformed files and settings thrown at every loader and at the
config parser. Each must either load (when the input happens to be valid) or raise the one clear error
type of its kind: nothing else, no other exception, nothing executed."""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_inputs import arrays
from goplan.agents.goplan import GOPlanAgent
from goplan.config import GOPlanConfig, make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.data.hdf5_io import load_hdf5, save_hdf5
from goplan.data.wgcsl_import import load_wgcsl_buffer, save_wgcsl_buffer
from goplan.errors import CheckpointError, ConfigError, DatasetError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SETTING_NAMES = [f.name for f in GOPlanConfig.__dataclass_fields__.values()]


def _valid_dataset() -> TrajectoryDataset:
    return TrajectoryDataset(**arrays(episodes=3, steps=4), card={"task": "PointReach"})


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    ds = _valid_dataset()
    agent = GOPlanAgent("PointReach", make_config("tiny", {"hidden_dim": 8, "dynamics_hidden_dim": 8}), device="cpu")
    agent.set_dataset(ds)
    agent.pretrain_step()
    return {
        "pkl": save_wgcsl_buffer(ds, root / "b.pkl").read_bytes(),
        "h5": save_hdf5(ds, root / "b.h5").read_bytes(),
        "ckpt": agent.save(root / "a.safetensors", with_buffer=True).read_bytes(),
    }


def _mutate(raw: bytes, data: st.DataObject) -> bytes:
    """Flip some bytes, cut the end, or splice in random bytes."""
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    buf = bytearray(raw)
    if kind == "truncate":
        return bytes(buf[: data.draw(st.integers(0, len(buf) - 1))])
    if kind == "splice":
        at = data.draw(st.integers(0, len(buf)))
        return bytes(buf[:at] + data.draw(st.binary(min_size=1, max_size=64)) + buf[at:])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    return bytes(buf)


@pytest.mark.parametrize("kind, loader", [("pkl", load_wgcsl_buffer), ("h5", load_hdf5)])
@FUZZ
@given(data=st.data())
def test_mutated_dataset_files_load_or_raise_dataset_error(good_files, tmp_path, kind, loader, data):
    path = tmp_path / f"m.{kind}"
    path.write_bytes(_mutate(good_files[kind], data))
    try:
        loader(path)
    except DatasetError as exc:
        assert "\n" not in str(exc) and path.name in str(exc)


_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5), st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.builds(lambda shape, fill: np.full(shape, fill), st.lists(st.integers(0, 4), max_size=4).map(tuple),
              st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.text(max_size=2))),
)
_pickled_things = st.one_of(
    _leaf,
    st.dictionaries(st.one_of(st.sampled_from(["o", "ag", "g", "u", "info"]), st.text(max_size=3)), _leaf, max_size=6),
    st.lists(_leaf, max_size=4),
)


@FUZZ
@given(obj=_pickled_things, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_generated_pickles_load_or_raise_dataset_error(tmp_path, obj, protocol):
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    try:
        load_wgcsl_buffer(path)
    except DatasetError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(data=st.data())
def test_mutated_checkpoints_load_or_raise_checkpoint_error(good_files, tmp_path, data):
    path = tmp_path / "m.safetensors"
    path.write_bytes(_mutate(good_files["ckpt"], data))
    try:
        agent = GOPlanAgent.load(path, device="cpu")
    except CheckpointError as exc:
        assert "\n" not in str(exc) and "m.safetensors" in str(exc)
    else:  # whatever loaded is usable and finite
        action = agent.act(np.zeros(2, np.float32), np.ones(2, np.float32))
        assert np.isfinite(action).all()


_raw_value = st.one_of(st.text(max_size=8), st.integers().map(str), st.floats(allow_nan=True).map(str),
                       st.sampled_from(["", "nan", "inf", "-1", "0", "1e400", "true", "mean", "random", "cpu"]))
_setting = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(SETTING_NAMES), _raw_value),
    st.text(max_size=12),  # anything at all, including no '=' and unknown keys
)


@FUZZ
@given(items=st.lists(_setting, max_size=5), preset=st.sampled_from(["paper", "cpu", "tiny", "bogus"]))
def test_config_parser_accepts_or_raises_config_error(items, preset):
    try:
        cfg = make_config(preset, items)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert cfg.batch_size > 0 and cfg.plan_candidates > 0 and cfg.uncertainty_threshold >= 0


_any_value = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=4), st.lists(st.integers(), max_size=2))


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(SETTING_NAMES), _any_value, max_size=4))
def test_config_dicts_of_any_values_are_accepted_or_refused_clearly(overrides):
    try:
        cfg = make_config("tiny", overrides)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        for name, value in overrides.items():
            kept = getattr(cfg, name)
            assert type(kept) is type(GOPlanConfig.__dataclass_fields__[name].default) or kept == value

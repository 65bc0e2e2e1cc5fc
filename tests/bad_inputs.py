"""A catalogue of bad inputs for the `goplan` command, each with the words its one-line error must hold.

Used by tests/test_bad_inputs.py, and runnable on its own to print the table of docs/robustness.md:

    .venv/bin/python tests/bad_inputs.py
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from goplan.data.dataset import ARRAY_KEYS

EPISODES, STEPS, DIM = 6, 8, 2  # a tiny PointReach-shaped dataset


def arrays(episodes: int = EPISODES, steps: int = STEPS, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-4, 4, size=(episodes, steps + 1, DIM)).astype(np.float32)
    return {"observations": obs, "achieved_goals": obs.copy(),
            "desired_goals": np.repeat(obs[:, -1:], steps, axis=1),
            "actions": rng.uniform(-1, 1, size=(episodes, steps, DIM)).astype(np.float32)}


def write_npz(path: Path, **override) -> Path:
    data = arrays()
    data.update(override)
    data = {k: v for k, v in data.items() if v is not None}
    np.savez_compressed(path, **data)
    return path


class _RunsCommand:
    """Pickled, this object would create `marker` when unpickled: the loader must refuse it first."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@dataclass
class Case:
    name: str  # what is wrong, as docs/robustness.md lists it
    build: Callable[[Path, dict], list[str]]  # (tmp dir, shared fixtures) -> goplan argv
    words: tuple[str, ...]  # the error line must contain each


def _train(dataset: Path | str, *settings: str, task: str = "PointReach", out: str | None = None) -> list[str]:
    argv = ["train", "--task", task, "--dataset", str(dataset), "--preset", "tiny", "--quiet"]
    if out:
        argv += ["--out", out]
    return argv + list(settings)


def _truncated(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    raw = src.read_bytes()
    dst.write_bytes(raw[: int(len(raw) * fraction)])
    return dst


def _hdf5(path: Path, layout: str) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        data = arrays()
        if layout == "group":
            f.create_group("observations")
            for k in ARRAY_KEYS[1:]:
                f.create_dataset(k, data=data[k])
        elif layout == "missing":
            for k in ARRAY_KEYS[:2]:
                f.create_dataset(k, data=data[k])
        else:
            for k in ARRAY_KEYS:
                f.create_dataset(k, data=data[k])
    return path


def _pickle(path: Path, obj) -> Path:
    path.write_bytes(pickle.dumps(obj))
    return path


def _checkpoint_meta(path: Path, fix: Callable[[dict], object]) -> Path:
    """A copy of a real checkpoint whose JSON metadata is replaced by fix(metadata)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["goplan"])
    out = path.with_name("edited.safetensors")
    save_file(load_file(str(path)), str(out), metadata={"goplan": json.dumps(fix(meta))})
    return out


def _checkpoint_tensor(path: Path, fix: Callable[[dict], None]) -> Path:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    fix(tensors)
    out = path.with_name("edited.safetensors")
    save_file(tensors, str(out), metadata=metadata)
    return out


def _nan_weights(tensors: dict) -> None:
    name = next(k for k in tensors if k.startswith("policy.") and tensors[k].is_floating_point())
    tensors[name][...] = float("nan")


def _under_a_file(tmp: Path) -> str:
    blocker = tmp / "a_file"
    blocker.write_text("not a folder")
    return str(blocker / "runs")


CASES: list[Case] = [
    # ---- dataset files ----
    Case("missing dataset file", lambda t, f: _train(t / "nope.npz"), ("nope.npz", "no such dataset file")),
    Case("a directory instead of a file", lambda t, f: _train(t), ("is a directory",)),
    Case("empty file", lambda t, f: _train(_touch(t / "empty.npz")), ("empty.npz", "not a readable npz")),
    Case("truncated npz", lambda t, f: _train(_truncated(f["npz"], t / "cut.npz")), ("cut.npz", "not a readable npz")),
    Case("not a zip at all", lambda t, f: _train(_write(t / "text.npz", b"hello")), ("text.npz", "not an npz (zip) archive")),
    Case("npz missing a key", lambda t, f: _train(write_npz(t / "m.npz", actions=None)), ("m.npz", "missing arrays", "actions")),
    Case("npz with an extra key", lambda t, f: _train(write_npz(t / "x.npz", rewards=np.zeros(3))), ("x.npz", "unexpected arrays", "rewards")),
    Case("lengths disagree (actions one step short)",
         lambda t, f: _train(write_npz(t / "l.npz", actions=np.zeros((EPISODES, STEPS - 1, DIM)))), ("l.npz", "actions", "expected")),
    Case("episode counts disagree",
         lambda t, f: _train(write_npz(t / "e.npz", desired_goals=np.zeros((EPISODES - 1, STEPS, DIM)))), ("e.npz", "desired_goals")),
    Case("wrong rank", lambda t, f: _train(write_npz(t / "r.npz", observations=np.zeros((EPISODES, STEPS + 1)))), ("r.npz", "must be 3-D")),
    Case("dimensions disagree with the task", lambda t, f: _train(f["npz"], task="FetchPush"), ("FetchPush", "(2, 2, 2)")),
    Case("NaN in the data", lambda t, f: _train(write_npz(t / "nan.npz", actions=np.full((EPISODES, STEPS, DIM), np.nan))), ("nan.npz", "NaN or infinity")),
    Case("infinity in the data", lambda t, f: _train(write_npz(t / "inf.npz", observations=np.full((EPISODES, STEPS + 1, DIM), np.inf))), ("inf.npz", "NaN or infinity")),
    Case("empty dataset (0 episodes)", lambda t, f: _train(_empty_npz(t / "zero.npz")), ("zero.npz", "no episodes")),
    Case("episodes of one step", lambda t, f: _train(_one_step_npz(t / "one.npz")), ("one.npz", "at least 2 steps")),
    Case("strings instead of numbers", lambda t, f: _train(write_npz(t / "s.npz", actions=np.full((EPISODES, STEPS, DIM), "a"))), ("s.npz", "not numeric")),
    Case("npz member holding a pickled object", lambda t, f: _train(_object_npz(t / "obj.npz")), ("obj.npz",)),
    Case("pickle that would run a command", lambda t, f: _train(_pickle(t / "evil.pkl", _RunsCommand(t / "PWNED"))), ("evil.pkl", "refused to unpickle", "system")),
    Case("truncated pickle", lambda t, f: _train(_truncated(f["pkl"], t / "cut.pkl")), ("cut.pkl",)),
    Case("pickle of a list, not a dict", lambda t, f: _train(_pickle(t / "list.pkl", [1, 2, 3])), ("list.pkl",)),
    Case("pickle missing the key 'u'", lambda t, f: _train(_pickle(t / "nou.pkl", _buffer_without("u"))), ("nou.pkl", "'u'")),
    Case("truncated HDF5", lambda t, f: _train(_truncated(_hdf5(t / "full.h5", "ok"), t / "cut.h5")), ("cut.h5", "not a readable HDF5")),
    Case("HDF5 missing arrays", lambda t, f: _train(_hdf5(t / "few.h5", "missing")), ("few.h5", "missing arrays")),
    Case("HDF5 group where an array belongs", lambda t, f: _train(_hdf5(t / "grp.h5", "group")), ("grp.h5", "is a group")),
    Case("dataset card that is not JSON", lambda t, f: _train(_bad_card(t)), ("card.json", "not valid JSON")),
    # ---- tasks, algorithms, settings ----
    Case("unknown task (nearest names suggested)", lambda t, f: _train(f["npz"], task="PointRoom"), ("unknown task", "did you mean", "PointRooms")),
    Case("unknown algorithm (nearest suggested)", lambda t, f: _train(f["npz"]) + ["--algo", "gcls"], ("unknown algorithm", "gcsl")),
    Case("unknown preset", lambda t, f: _train(f["npz"]) + ["--preset", "cpuu"], ("unknown preset", "cpu")),
    Case("unknown setting (nearest suggested)", lambda t, f: _train(f["npz"], "batch_sise=4"), ("unknown setting", "batch_size")),
    Case("setting without a value", lambda t, f: _train(f["npz"], "batch_size"), ("key=value",)),
    Case("setting of the wrong type", lambda t, f: _train(f["npz"], "batch_size=big"), ("batch_size", "not a valid int")),
    Case("zero batch size", lambda t, f: _train(f["npz"], "batch_size=0"), ("batch_size must be positive",)),
    Case("negative update count", lambda t, f: _train(f["npz"], "pretrain_updates=-5"), ("pretrain_updates must be >= 0",)),
    Case("C = 0 planning candidates", lambda t, f: _train(f["npz"], "plan_candidates=0"), ("plan_candidates must be positive",)),
    Case("K = 0 planning horizon", lambda t, f: _train(f["npz"], "plan_horizon=0"), ("plan_horizon must be positive",)),
    Case("uncertainty threshold below zero", lambda t, f: _train(f["npz"], "uncertainty_threshold=-0.1"), ("uncertainty_threshold must be >= 0",)),
    Case("NaN setting", lambda t, f: _train(f["npz"], "beta=nan"), ("beta", "not a valid float")),
    Case("unknown device", lambda t, f: _train(f["npz"], "device=gpu0"), ("device 'gpu0'",)),
    Case("CUDA requested on a machine without it", lambda t, f: _train(f["npz"], "device=cuda"), ("CUDA is not available",))
    if not __import__("torch").cuda.is_available() else Case("CPU device", lambda t, f: _train(f["npz"], "device=meta"), ("not supported",)),
    Case("discount of 1 or more", lambda t, f: _train(f["npz"], "gamma=1.0"), ("gamma must be in [0, 1)",)),
    Case("unknown matrix precision", lambda t, f: _train(f["npz"], "train_precision=fp16"),
         ("train_precision must be one of fp32, bf16",)),
    Case("unknown source of inter-trajectory goals", lambda t, f: _train(f["npz"], "inter_goal=random"),
         ("inter_goal must be 'achieved' or 'desired'",)),
    Case("run directory that cannot be written", lambda t, f: _train(f["npz"], out=_under_a_file(t)), ("cannot create a run directory",)),
    Case("train without a dataset", lambda t, f: ["train", "--task", "PointReach"], ("needs --task and --dataset",)),
    Case("collect: zero episodes", lambda t, f: ["collect", "--task", "PointReach", "--episodes", "0", "--out", str(t / "d.npz")],
         ("episodes must be a positive integer",)),
    Case("collect: negative noise", lambda t, f: ["collect", "--task", "PointReach", "--episodes", "2", "--noise", "-1",
                                                 "--out", str(t / "d.npz")], ("noise_std must be a finite number >= 0",)),
    # ---- checkpoints and run directories ----
    Case("missing run directory", lambda t, f: ["eval", str(t / "no_run")], ("no_run", "no such checkpoint")),
    Case("truncated checkpoint", lambda t, f: ["eval", str(_truncated(f["ckpt"], t / "cut.safetensors"))], ("cut.safetensors", "not a readable checkpoint")),
    Case("garbage checkpoint", lambda t, f: ["eval", str(_write(t / "junk.safetensors", b"\x00" * 64))], ("junk.safetensors", "not a readable checkpoint")),
    Case("checkpoint with a huge forged header", lambda t, f: ["eval", str(_write(t / "big.safetensors", struct.pack("<Q", 2**60) + b"{}"))],
         ("big.safetensors", "not a readable checkpoint")),
    Case("checkpoint metadata not JSON", lambda t, f: ["eval", str(_checkpoint_meta_raw(f["ckpt"], "{oops"))], ("not valid JSON",)),
    Case("checkpoint metadata missing fields", lambda t, f: ["eval", str(_checkpoint_meta(f["ckpt"], lambda m: {"algorithm": "goplan"}))],
         ("edited.safetensors", "lacks")),
    Case("checkpoint for an unknown task", lambda t, f: ["eval", str(_checkpoint_meta(f["ckpt"], lambda m: {**m, "task": "Nowhere"}))],
         ("edited.safetensors", "unknown task 'Nowhere'")),
    Case("checkpoint with impossible settings", lambda t, f: ["eval", str(_checkpoint_meta(
        f["ckpt"], lambda m: {**m, "config": {**m["config"], "batch_size": -1}}))], ("edited.safetensors", "batch_size must be positive")),
    Case("checkpoint whose tensors do not fit the networks", lambda t, f: ["eval", str(_checkpoint_meta(
        f["ckpt"], lambda m: {**m, "config": {**m["config"], "hidden_dim": 17}}))], ("edited.safetensors", "does not match")),
    Case("checkpoint holding NaN weights", lambda t, f: ["eval", str(_checkpoint_tensor(f["ckpt"], _nan_weights))],
         ("edited.safetensors", "NaN or infinity")),
    Case("resume of a folder that is not a run", lambda t, f: ["train", "--resume", str(t)], ("not a run directory",)),
    Case("resume of a run whose run.json is corrupt", lambda t, f: ["train", "--resume", str(_corrupt_run(t, f))], ("run.json", "not valid JSON")),
    Case("eval with zero episodes", lambda t, f: ["eval", str(f["ckpt"]), "--episodes", "0"], ("episodes must be a positive integer",)),
]


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


def _empty_npz(path: Path) -> Path:
    return write_npz(path, **{k: v[:0] for k, v in arrays().items()})


def _one_step_npz(path: Path) -> Path:
    return write_npz(path, **arrays(steps=1))


def _object_npz(path: Path) -> Path:
    data = arrays()
    data["actions"] = np.array([{"x": 1}] * EPISODES, dtype=object)
    np.savez(path, **data)
    return path


def _buffer_without(key: str) -> dict:
    a = arrays()
    buf = {"o": a["observations"], "ag": a["achieved_goals"], "g": a["desired_goals"], "u": a["actions"]}
    buf.pop(key)
    return buf


def _bad_card(tmp: Path) -> Path:
    path = write_npz(tmp / "card.npz")
    path.with_suffix(".json").write_text("{not json")
    return path


def _checkpoint_meta_raw(path: Path, raw: str) -> Path:
    from safetensors.torch import load_file, save_file

    out = path.with_name("rawmeta.safetensors")
    save_file(load_file(str(path)), str(out), metadata={"goplan": raw})
    return out


def _corrupt_run(tmp: Path, fixtures: dict) -> Path:
    run = tmp / "broken_run"
    run.mkdir()
    (run / "run.json").write_text("{half")
    return run


def make_fixtures(tmp: Path) -> dict:
    """A valid dataset (npz and pkl) and a tiny trained checkpoint to derive broken copies from."""
    from goplan.cli import main
    from goplan.data.wgcsl_import import save_wgcsl_buffer
    from goplan.data.dataset import TrajectoryDataset

    tmp.mkdir(parents=True, exist_ok=True)
    npz = write_npz(tmp / "good.npz")
    pkl = save_wgcsl_buffer(TrajectoryDataset(**arrays()), tmp / "good.pkl")
    runs = tmp / "good_runs"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = main(_train(npz, "pretrain_updates=4", "finetune_rounds=0", "eval_episodes=2", "eval_plan_episodes=0",
                         "batch_size=8", "log_every=2", "checkpoint_every=2", out=str(runs)))
    assert rc == 0, "could not train the fixture run"
    run_dir = next(runs.iterdir())
    return {"npz": npz, "pkl": pkl, "ckpt": run_dir / "agent.safetensors", "run": run_dir}


def run_case(case: Case, tmp: Path, fixtures: dict) -> tuple[int, str, str]:
    """Run one case through the command in this process: (exit status, stdout, stderr)."""
    from goplan.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = case.build(tmp, fixtures)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def markdown_table() -> str:
    rows = ["| bad input | exit | what goplan says |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        fixtures = make_fixtures(root / "fixtures")
        for i, case in enumerate(CASES):
            tmp = root / f"case{i}"
            tmp.mkdir()
            rc, _, err = run_case(case, tmp, fixtures)
            line = err.strip().replace(str(tmp) + "/", "").replace(str(root) + "/", "").replace("|", "\\|")
            rows.append(f"| {case.name} | {rc} | `{line}` |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
